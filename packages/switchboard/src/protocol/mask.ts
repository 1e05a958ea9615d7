import { Buffer } from 'node:buffer';
import { MASK_WASM } from './mask-wasm.js';

/** Payloads at least this long are unmasked a 32-bit word at a time. */
const WORD_THRESHOLD = 32;
/** Payloads in the SIMD buffer at least this long are unmasked by WebAssembly (below, the call costs more than it saves). */
export const SIMD_THRESHOLD = 128;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XORs `data[start..end)` byte by byte: short payloads and the unaligned
 * edges of long ones.
 */
function maskBytes(data: Uint8Array, key: Uint8Array, keyOffset: number, start: number, end: number): void {
  for (let i = start; i < end; i++) data[i]! ^= key[(keyOffset + i) & 3]!;
}

/** XORs `count` 32-bit words (a multiple of 4, at least 4) of `view` from word `start` with `word`. */
function maskWords(view: Int32Array<ArrayBufferLike>, word: number, start: number, count: number): void {
  const end = start + count;
  for (let w = start; w < end; w += 4) {
    view[w]! ^= word;
    view[w + 1]! ^= word;
    view[w + 2]! ^= word;
    view[w + 3]! ^= word;
  }
}

/**
 * XORs `data` in place with the 4-byte masking key, starting at position
 * `keyOffset` of the key (non-zero when a frame's payload arrives in pieces).
 * Long payloads go a 32-bit word at a time over their aligned middle, which
 * is what makes pure JavaScript keep up with a native add-on here.
 *
 * The loops live in small functions called unconditionally. With them
 * inlined here behind `if`s, a loop that first ran after V8 had optimised
 * this function (an unaligned edge, a remainder of 1-3 words) threw the
 * optimised code away, again and again: thousands of deoptimisations a
 * second on 1 MiB messages, which then unmasked at a fifth of the speed.
 */
export function applyMask(data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const length = data.length;
  if (length < WORD_THRESHOLD) {
    maskBytes(data, key, keyOffset, 0, length);
    return;
  }
  maskRegion(data.buffer, data.byteOffset, length, key, keyOffset, data);
}

/**
 * `applyMask` for `view`, the `length` bytes at byte `start` of `memory`,
 * for a caller that already knows where they lie: the frame parser, which
 * reads a chunk's place once for all its payloads. The `buffer` and
 * `byteOffset` getters of a view are not inlined where Node's own functions
 * (Buffer#subarray) see every kind of buffer: a few hundred instructions
 * per message at 1 KiB, measured with bench/echo-instructions.mjs.
 */
export function maskRegion(memory: ArrayBufferLike, start: number, length: number, key: Uint8Array, keyOffset: number, view: Uint8Array): void {
  if (length >= SIMD_THRESHOLD && memory === simdMemory) {
    simdUnmask!(start, length, simdWord(key, keyOffset));
    return;
  }
  if (length < WORD_THRESHOLD) {
    maskBytes(view, key, keyOffset, 0, length);
    return;
  }
  const misalignment = start & 3;
  const head = misalignment === 0 ? 0 : 4 - misalignment;
  const phase = keyOffset + head;
  const m0 = key[phase & 3]!;
  const m1 = key[(phase + 1) & 3]!;
  const m2 = key[(phase + 2) & 3]!;
  const m3 = key[(phase + 3) & 3]!;
  const word = LITTLE_ENDIAN ? m0 | (m1 << 8) | (m2 << 16) | (m3 << 24) : (m0 << 24) | (m1 << 16) | (m2 << 8) | m3;
  // length >= 32 leaves at least 7 aligned words, so at least one group of 4.
  const words = ((length - head) >>> 2) & ~3;
  maskBytes(view, key, keyOffset, 0, head);
  const firstWord = (start + head) >>> 2;
  let wordView = wordsOf(memory);
  // A resizable ArrayBuffer that grew since its view was made: the view does not reach the payload.
  if (firstWord + words > wordView.length) wordView = new Int32Array(memory, 0, memory.byteLength >>> 2);
  maskWords(wordView, word, firstWord, words);
  maskBytes(view, key, keyOffset, head + words * 4, length);
}

/**
 * `maskRegion` (from the key's first byte) for a whole text message. Returns
 * true when the unmasked bytes are known to be ASCII, so valid UTF-8 (RFC
 * 3629): in the SIMD buffer that is found out in the same pass, which spares
 * the parser its call of `isUtf8` (about 650 instructions per 1 KiB message
 * on the main thread, most of them the call into Node's binding; see
 * bench/echo-instructions.mjs --text 1). False means "not known".
 */
export function unmaskText(memory: ArrayBufferLike, start: number, length: number, key: Uint8Array, view: Uint8Array): boolean {
  if (length >= SIMD_THRESHOLD && memory === simdMemory) return simdUnmaskText!(start, length, simdWord(key, 0)) === 0;
  maskRegion(memory, start, length, key, 0, view);
  return false;
}

/** The key as WebAssembly's memory holds a word (little-endian whatever the host is), from its byte `keyOffset`. */
function simdWord(key: Uint8Array, keyOffset: number): number {
  return key[keyOffset & 3]! | (key[(keyOffset + 1) & 3]! << 8) | (key[(keyOffset + 2) & 3]! << 16) | (key[(keyOffset + 3) & 3]! << 24);
}

/**
 * A 32-bit view of a whole ArrayBuffer, kept for the last buffer seen: payloads are mostly views of
 * the same few (the read buffer, Buffer's 8 KiB pool), and a view made per call would be an
 * allocation per message. Only buffers up to WORDS_CACHE_LIMIT are kept, so that the view never
 * holds a large payload's memory after its message is gone (a view per large payload costs nothing
 * next to unmasking it).
 */
const WORDS_CACHE_LIMIT = 1024 * 1024;
let wordsBuffer: ArrayBufferLike | null = null;
let wordsView: Int32Array<ArrayBufferLike> = new Int32Array(0);
function wordsOf(buffer: ArrayBufferLike): Int32Array<ArrayBufferLike> {
  if (buffer === wordsBuffer) return wordsView;
  const view = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
  if (buffer.byteLength <= WORDS_CACHE_LIMIT) {
    wordsBuffer = buffer;
    wordsView = view;
  }
  return view;
}

/** Copies `source` into `target` at `offset`, masked with `key` (for client frames, whose payload must not be changed). */
export function copyMasked(source: Uint8Array, target: Uint8Array, offset: number, key: Uint8Array): void {
  const length = source.length;
  if (length >= WORD_THRESHOLD) {
    target.set(source, offset);
    applyMask(target.subarray(offset, offset + length), key, 0);
    return;
  }
  for (let i = 0; i < length; i++) target[offset + i] = source[i]! ^ key[i & 3]!;
}

// The part of the WebAssembly API used here (not in @types/node 20; the library's lib has no DOM).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
};
interface MaskExports {
  memory: { buffer: ArrayBuffer };
  unmask: (start: number, length: number, word: number) => void;
  /** Also returns non-zero when an unmasked byte has its top bit set (mask.wat). */
  unmaskText: (start: number, length: number, word: number) => number;
}

/** Size of the SIMD buffer: four WebAssembly pages. */
export const SIMD_BUFFER_SIZE = 256 * 1024;

let simdMemory: ArrayBuffer | null = null;
let simdUnmask: ((start: number, length: number, word: number) => void) | null = null;
let simdUnmaskText: ((start: number, length: number, word: number) => number) | null = null;
let simdBuffer: Uint8Array | null | undefined;

/**
 * A 256 KiB buffer (one per process) in which `applyMask` unmasks with
 * WebAssembly SIMD (mask.wat), several times faster than JavaScript can:
 * the bytes must already be there, since copying them in would cost what
 * SIMD saves. The I/O layer reads the sockets into it. Null where
 * WebAssembly SIMD is not available.
 */
export function simdMaskBuffer(): Uint8Array | null {
  if (simdBuffer !== undefined) return simdBuffer;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(MASK_WASM, 'base64')));
    const exports = instance.exports as MaskExports;
    simdMemory = exports.memory.buffer;
    simdUnmask = exports.unmask;
    simdUnmaskText = exports.unmaskText;
    simdBuffer = new Uint8Array(exports.memory.buffer, 0, SIMD_BUFFER_SIZE);
  } catch {
    simdBuffer = null;
  }
  return simdBuffer;
}
