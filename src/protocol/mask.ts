/** Payloads at least this long are unmasked a 32-bit word at a time. */
const WORD_THRESHOLD = 32;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XORs `data` in place with the 4-byte masking key, starting at position
 * `keyOffset` of the key (non-zero when a frame's payload arrives in pieces).
 * Long payloads go a 32-bit word at a time over their aligned middle, which
 * is what makes pure JavaScript keep up with a native add-on here.
 */
export function applyMask(data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const length = data.length;
  if (length >= WORD_THRESHOLD) {
    const misalignment = data.byteOffset & 3;
    const head = misalignment === 0 ? 0 : 4 - misalignment;
    let i = 0;
    for (; i < head; i++) data[i]! ^= key[(keyOffset + i) & 3]!;
    const phase = keyOffset + head;
    const m0 = key[phase & 3]!;
    const m1 = key[(phase + 1) & 3]!;
    const m2 = key[(phase + 2) & 3]!;
    const m3 = key[(phase + 3) & 3]!;
    const word = LITTLE_ENDIAN ? m0 | (m1 << 8) | (m2 << 16) | (m3 << 24) : (m0 << 24) | (m1 << 16) | (m2 << 8) | m3;
    const words = (length - head) >>> 2;
    const view = new Int32Array(data.buffer, data.byteOffset + head, words);
    const unrolled = words & ~3;
    let w = 0;
    for (; w < unrolled; w += 4) {
      view[w]! ^= word;
      view[w + 1]! ^= word;
      view[w + 2]! ^= word;
      view[w + 3]! ^= word;
    }
    for (; w < words; w++) view[w]! ^= word;
    for (i = head + words * 4; i < length; i++) data[i]! ^= key[(keyOffset + i) & 3]!;
    return;
  }
  for (let i = 0; i < length; i++) data[i]! ^= key[(keyOffset + i) & 3]!;
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
