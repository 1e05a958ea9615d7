// Payloads and client frames for the load generator, built once before traffic starts.
// Binary payloads are pseudo-random; text payloads are JSON-like records with a few
// non-ASCII words (valid UTF-8) of exactly the requested length, as in ../shared/perf.
import zlib from 'node:zlib';

/** Deterministic xorshift32 generator (same seed every run): unsigned 32-bit integers. */
export function rng(seed = 0x9e3779b9) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

export function binaryPayload(size, next = rng()) {
  const b = Buffer.allocUnsafe(size);
  let i = 0;
  for (; i + 4 <= size; i += 4) b.writeUInt32LE(next(), i);
  for (; i < size; i++) b[i] = next() & 0xff;
  return b;
}

const WORDS = ('alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november ' +
  'oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu message channel room ' +
  'presence online typing update ticker price volume score leader notify feed').split(' ');
const UWORDS = ['café', 'naïve', 'Zürich', '日本', 'Привет', '😀'];

/** JSON-like UTF-8 text of exactly `size` bytes (whole records, space padding). */
export function textPayload(size, next = rng()) {
  const small = '{"type":"tick","sym":"ACME","px":101.25,"qty":300,"seq":123456}';
  if (size < 160) {
    if (size < small.length) return Buffer.from(small.slice(0, size), 'latin1'); // ASCII: any cut is valid
    return Buffer.from(small.slice(0, -1) + ' '.repeat(size - small.length) + '}', 'latin1');
  }
  const pick = (list) => list[next() % list.length];
  const parts = ['['];
  let len = 1;
  for (let id = 1000; ; id++) {
    const words = [];
    for (let w = 4 + (next() % 10); w > 0; w--) words.push(next() % 9 === 0 ? pick(UWORDS) : pick(WORDS));
    const rec =
      (len > 1 ? ',' : '') +
      JSON.stringify({
        id,
        room: `${pick(WORDS)}-${next() % 50}`,
        user: `${pick(WORDS)}${next() % 1000}`,
        ts: 1700000000000 + (next() % 100000000),
        text: words.join(' '),
        tags: [pick(WORDS), pick(WORDS)],
        score: Number(`${next() % 10000}.${String(next() % 100).padStart(2, '0')}`),
      });
    const n = Buffer.byteLength(rec);
    if (len + n + 1 > size) break;
    parts.push(rec);
    len += n;
  }
  parts.push(' '.repeat(size - 1 - len), ']');
  const out = Buffer.from(parts.join(''));
  if (out.length !== size) throw new Error(`text payload is ${out.length} bytes, wanted ${size}`);
  return out;
}

/**
 * permessage-deflate payload as a client without context takeover sends it: raw deflate
 * with a sync flush, the trailing 00 00 ff ff removed (RFC 7692 7.2.1).
 */
export function compressMessage(payload, windowBits = 15) {
  const out = zlib.deflateRawSync(payload, {
    windowBits: Math.max(9, windowBits),
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const n = out.length;
  const tail = n >= 4 && out[n - 4] === 0 && out[n - 3] === 0 && out[n - 2] === 0xff && out[n - 1] === 0xff;
  return tail ? out.subarray(0, n - 4) : out;
}

export const TRAILER = Buffer.from([0, 0, 0xff, 0xff]);

function frameSize(len) {
  return 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + 4 + len;
}

function writeFrame(out, o, payload, opcode, rsv1, key) {
  const len = payload.length;
  out[o++] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (len < 126) out[o++] = 0x80 | len;
  else if (len < 65536) {
    out[o++] = 0x80 | 126;
    out.writeUInt16BE(len, o);
    o += 2;
  } else {
    out[o++] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(len / 2 ** 32), o);
    out.writeUInt32BE(len >>> 0, o + 4);
    o += 8;
  }
  out.writeUInt32BE(key, o);
  const k = out.subarray(o, o + 4);
  o += 4;
  for (let i = 0; i < len; i++) out[o + i] = payload[i] ^ k[i & 3];
  return o + len;
}

/**
 * M masked frames (each with its own non-zero key) laid out twice in a row, so that any
 * run of up to M consecutive frames starting at frame q < M is one contiguous slice:
 * buf.subarray(off[q], off[q + n]). Frame i carries wires[i % wires.length], so the
 * i-th frame a connection sends is always message i mod wires.length.
 * Small frames get many copies (a batch of due frames is one write); large ones one.
 */
export function frameSet(wires, opcode, rsv1) {
  let m = wires.length;
  if (m === 1) m = Math.min(4096, Math.max(1, Math.floor((256 * 1024) / frameSize(wires[0].length))));
  const next = rng(0x2545f491);
  const sizes = [];
  for (let i = 0; i < m; i++) sizes.push(frameSize(wires[i % wires.length].length));
  const once = sizes.reduce((a, b) => a + b, 0);
  const buf = Buffer.allocUnsafe(2 * once);
  const off = new Float64Array(2 * m + 1);
  let o = 0;
  for (let i = 0; i < m; i++) {
    off[i] = o;
    let key;
    do key = next();
    while (key === 0);
    o = writeFrame(buf, o, wires[i % wires.length], opcode, rsv1, key);
  }
  buf.copy(buf, once, 0, once);
  for (let i = 0; i < m; i++) off[m + i] = once + off[i];
  off[2 * m] = 2 * once;
  return { buf, off, m };
}
