// A small seeded PRNG (sfc32) and the byte mutators the fuzz targets share.
// Every input is generated from (seed, index) alone, so one failing input
// can be replayed without re-running the ones before it.
import { Buffer } from 'node:buffer';

const RANDOM_POOL: Buffer = (() => {
  const pool = Buffer.allocUnsafe(256 * 1024);
  let x = 0x2545f491;
  for (let i = 0; i < pool.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    pool[i] = x & 0xff;
  }
  return pool;
})();

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for input `index` of a run seeded with `seed`. */
  static forInput(seed: number, index: number): Rng {
    return new Rng(seed >>> 0, Math.imul(index + 1, 0x9e3779b1) >>> 0);
  }

  constructor(seed: number, stream = 0) {
    this.a = 0x9e3779b9;
    this.b = seed >>> 0;
    this.c = stream >>> 0;
    this.d = 1;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.next() / 0x100000000) * n);
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  /** Mostly small sizes, sometimes up to `max`: random data is most useful short. */
  size(max: number): number {
    const r = this.below(8);
    if (r < 4) return this.below(Math.min(max, 16) + 1);
    if (r < 7) return this.below(Math.min(max, 300) + 1);
    return this.below(max + 1);
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    if (n <= 64) {
      for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
      return out;
    }
    // Long runs come from a fixed random pool at a random offset: as good for a parser, and 50 times faster.
    for (let at = 0; at < n; ) {
      const from = this.below(RANDOM_POOL.length);
      const take = Math.min(n - at, RANDOM_POOL.length - from);
      RANDOM_POOL.copy(out, at, from, from + take);
      at += take;
    }
    return out;
  }
}

/** Byte values that sit on boundaries parsers care about. */
const INTERESTING_BYTES = [0x00, 0x01, 0x7e, 0x7f, 0x80, 0x81, 0x88, 0x89, 0x8a, 0xc0, 0xc1, 0xed, 0xf4, 0xf5, 0xfe, 0xff, 0x0d, 0x0a, 0x20, 0x3a, 0x2c, 0x3b, 0x22, 0x09];

/**
 * One to `maxOps` random edits of `input` (a new buffer): bit flips, byte
 * sets, inserted, deleted, duplicated and swapped spans, truncation.
 */
export function mutateBytes(rng: Rng, input: Buffer, maxOps = 4): Buffer {
  let bytes = Buffer.from(input);
  const ops = rng.int(1, maxOps);
  for (let op = 0; op < ops; op++) {
    const n = bytes.length;
    switch (rng.below(9)) {
      case 0:
      case 1:
        if (n > 0) bytes[rng.below(n)]! ^= 1 << rng.below(8);
        break;
      case 2:
        if (n > 0) bytes[rng.below(n)] = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.below(256);
        break;
      case 3: {
        const at = rng.below(n + 1);
        const insert = rng.chance(0.5) ? rng.bytes(rng.size(64)) : Buffer.from([rng.pick(INTERESTING_BYTES)]);
        bytes = Buffer.concat([bytes.subarray(0, at), insert, bytes.subarray(at)]);
        break;
      }
      case 4: {
        if (n === 0) break;
        const at = rng.below(n);
        const len = rng.int(1, Math.min(n - at, 32));
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + len)]);
        break;
      }
      case 5: {
        if (n === 0) break;
        const at = rng.below(n);
        const len = rng.int(1, Math.min(n - at, 64));
        const to = rng.below(n + 1);
        bytes = Buffer.concat([bytes.subarray(0, to), bytes.subarray(at, at + len), bytes.subarray(to)]);
        break;
      }
      case 6: {
        if (n < 2) break;
        const i = rng.below(n);
        const j = rng.below(n);
        const t = bytes[i]!;
        bytes[i] = bytes[j]!;
        bytes[j] = t;
        break;
      }
      case 7:
        if (n > 0) bytes = bytes.subarray(0, rng.below(n));
        break;
      default:
        if (n > 0) {
          // A 16- or 32-bit boundary value written over the bytes (length fields, close codes).
          const at = rng.below(n);
          const value = rng.pick([0, 1, 125, 126, 127, 0xff, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0xffffffff, 1000, 1005, 1006, 1015, 2999, 5000]);
          for (let k = 0; k < 4 && at + k < n; k++) bytes[at + k] = (value >>> (8 * (3 - k))) & 0xff;
        }
    }
  }
  return bytes;
}

/** `bytes` cut into pieces at random places (sometimes one byte at a time, sometimes whole). */
export function randomChunks(rng: Rng, bytes: Buffer): Buffer[] {
  const n = bytes.length;
  const mode = rng.below(4);
  if (mode === 0 || n === 0) return [bytes];
  if (mode === 1 && n <= 512) {
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) out.push(bytes.subarray(i, i + 1));
    return out;
  }
  const cuts = new Set<number>();
  const count = rng.int(1, Math.min(12, n));
  for (let i = 0; i < count; i++) cuts.add(rng.below(n + 1));
  const sorted = [...cuts].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const cut of sorted) {
    out.push(bytes.subarray(prev, cut));
    prev = cut;
  }
  out.push(bytes.subarray(prev));
  return out;
}
