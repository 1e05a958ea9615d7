/**
 * XORs `data` in place with the 4-byte masking key, starting at position
 * `keyOffset` of the key (non-zero when a frame's payload arrives in pieces).
 */
export function applyMask(data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const length = data.length;
  let i = 0;
  // Rotate the key so the loop below can always start at key[0].
  const k0 = key[keyOffset & 3]!;
  const k1 = key[(keyOffset + 1) & 3]!;
  const k2 = key[(keyOffset + 2) & 3]!;
  const k3 = key[(keyOffset + 3) & 3]!;
  const whole = length & ~3;
  for (; i < whole; i += 4) {
    data[i] ^= k0;
    data[i + 1] ^= k1;
    data[i + 2] ^= k2;
    data[i + 3] ^= k3;
  }
  if (i < length) data[i++] ^= k0;
  if (i < length) data[i++] ^= k1;
  if (i < length) data[i] ^= k2;
}

/** Copies `source` into `target` at `offset`, masked with `key` (for client frames, whose payload must not be changed). */
export function copyMasked(source: Uint8Array, target: Uint8Array, offset: number, key: Uint8Array): void {
  const length = source.length;
  const k0 = key[0]!;
  const k1 = key[1]!;
  const k2 = key[2]!;
  const k3 = key[3]!;
  const whole = length & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    target[offset + i] = source[i]! ^ k0;
    target[offset + i + 1] = source[i + 1]! ^ k1;
    target[offset + i + 2] = source[i + 2]! ^ k2;
    target[offset + i + 3] = source[i + 3]! ^ k3;
  }
  if (i < length) target[offset + i] = source[i]! ^ k0, i++;
  if (i < length) target[offset + i] = source[i]! ^ k1, i++;
  if (i < length) target[offset + i] = source[i]! ^ k2;
}
