/** Payloads at least this long are unmasked a 32-bit word at a time. */
const WORD_THRESHOLD = 32;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XORs `data[start..end)` byte by byte: short payloads and the unaligned
 * edges of long ones.
 */
function maskBytes(data: Uint8Array, key: Uint8Array, keyOffset: number, start: number, end: number): void {
  for (let i = start; i < end; i++) data[i]! ^= key[(keyOffset + i) & 3]!;
}

/** XORs `count` 32-bit words (a multiple of 4, at least 4) with `word`. */
function maskWords(view: Int32Array, word: number, count: number): void {
  for (let w = 0; w < count; w += 4) {
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
  const misalignment = data.byteOffset & 3;
  const head = misalignment === 0 ? 0 : 4 - misalignment;
  const phase = keyOffset + head;
  const m0 = key[phase & 3]!;
  const m1 = key[(phase + 1) & 3]!;
  const m2 = key[(phase + 2) & 3]!;
  const m3 = key[(phase + 3) & 3]!;
  const word = LITTLE_ENDIAN ? m0 | (m1 << 8) | (m2 << 16) | (m3 << 24) : (m0 << 24) | (m1 << 16) | (m2 << 8) | m3;
  // length >= 32 leaves at least 7 aligned words, so at least one group of 4.
  const words = ((length - head) >>> 2) & ~3;
  maskBytes(data, key, keyOffset, 0, head);
  maskWords(new Int32Array(data.buffer, data.byteOffset + head, words), word, words);
  maskBytes(data, key, keyOffset, head + words * 4, length);
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
