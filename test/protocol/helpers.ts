// Shared helpers for the protocol tests (not a test file itself).
import { Buffer } from 'node:buffer';
import assert from 'node:assert/strict';
import { FrameParser, ProtocolError, type FrameParserHandler, type FrameParserOptions } from '../../packages/switchboard/src/protocol/index.js';

export type ParserEvent =
  | { type: 'message'; data: Buffer; isBinary: boolean; compressed: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: Buffer }
  | { type: 'error'; code: string; closeCode: number; error: ProtocolError };

/**
 * Records every callback. Buffers are copied on arrival: the parser hands out
 * views of the pushed chunks, which tests may reuse.
 */
export class Recorder implements FrameParserHandler {
  readonly events: ParserEvent[] = [];

  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    this.events.push({ type: 'message', data: Buffer.from(data), isBinary, compressed });
  }
  onPing(data: Buffer): void {
    this.events.push({ type: 'ping', data: Buffer.from(data) });
  }
  onPong(data: Buffer): void {
    this.events.push({ type: 'pong', data: Buffer.from(data) });
  }
  onClose(code: number, reason: Buffer): void {
    this.events.push({ type: 'close', code, reason: Buffer.from(reason) });
  }
  onError(error: ProtocolError): void {
    this.events.push({ type: 'error', code: error.code, closeCode: error.closeCode, error });
  }

  /** Events without the error object, for deepEqual comparisons. */
  plain(): unknown[] {
    return this.events.map((e) => (e.type === 'error' ? { type: 'error', code: e.code, closeCode: e.closeCode } : e));
  }
}

export function makeParser(options: FrameParserOptions): { parser: FrameParser; rec: Recorder } {
  const rec = new Recorder();
  return { parser: new FrameParser(rec, options), rec };
}

/**
 * Feeds each chunk (copied, since the parser unmasks in place) and returns the recorder.
 */
export function feed(options: FrameParserOptions, ...chunks: Uint8Array[]): { parser: FrameParser; rec: Recorder } {
  const { parser, rec } = makeParser(options);
  for (const chunk of chunks) parser.push(Buffer.from(chunk));
  return { parser, rec };
}

/** Bytes from a hex string with optional spaces: hex('81 05 48') */
export function hex(s: string): Buffer {
  const clean = s.replace(/\s+/g, '');
  assert.equal(clean.length % 2, 0, `odd hex string ${s}`);
  return Buffer.from(clean, 'hex');
}

export function cat(...parts: (Uint8Array | string | number[])[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
}

export interface RawFrame {
  opcode: number;
  payload?: Uint8Array | string | number[];
  fin?: boolean;
  /** Bits 0x70 of the first byte: 0x40 = RSV1, 0x20 = RSV2, 0x10 = RSV3. */
  rsv?: number;
  maskKey?: Uint8Array | number[];
  /** Force a length encoding (possibly non-minimal). Default: shortest. */
  lengthForm?: 7 | 16 | 64;
}

/**
 * An independent, deliberately simple frame encoder (not the library's writer),
 * able to produce invalid encodings on purpose.
 */
export function rawFrame(f: RawFrame): Buffer {
  const payload = typeof f.payload === 'string' ? Buffer.from(f.payload) : Buffer.from(f.payload ?? []);
  const len = payload.length;
  const form = f.lengthForm ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const bytes: number[] = [((f.fin ?? true) ? 0x80 : 0) | (f.rsv ?? 0) | f.opcode];
  const maskBit = f.maskKey ? 0x80 : 0;
  if (form === 7) {
    assert.ok(len < 126);
    bytes.push(maskBit | len);
  } else if (form === 16) {
    assert.ok(len < 65536);
    bytes.push(maskBit | 126, (len >> 8) & 0xff, len & 0xff);
  } else {
    bytes.push(maskBit | 127);
    const big = BigInt(len);
    for (let shift = 56n; shift >= 0n; shift -= 8n) bytes.push(Number((big >> shift) & 0xffn));
  }
  const out: number[] = bytes;
  if (f.maskKey) {
    const key = Array.from(f.maskKey);
    out.push(...key);
    const masked = Buffer.alloc(len);
    for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ key[i % 4]!;
    return Buffer.concat([Buffer.from(out), masked]);
  }
  return Buffer.concat([Buffer.from(out), payload]);
}

/** Splits `data` at the given cut positions (need not be sorted or unique). Copies each chunk. */
export function splitAt(data: Uint8Array, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(data.length, c))))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    chunks.push(Buffer.from(data.subarray(prev, p)));
    prev = p;
  }
  chunks.push(Buffer.from(data.subarray(prev)));
  return chunks;
}

/** Asserts the recorder saw exactly one event, an error with this code and close code. */
export function assertOnlyError(rec: Recorder, code: string, closeCode: number): void {
  assert.deepEqual(
    rec.events.map((e) => e.type),
    ['error'],
    `expected a single error event, got ${JSON.stringify(rec.plain())}`,
  );
  const e = rec.events[0] as Extract<ParserEvent, { type: 'error' }>;
  assert.ok(e.error instanceof ProtocolError, 'error is a ProtocolError');
  assert.ok(e.error instanceof Error);
  assert.equal(e.error.name, 'ProtocolError');
  assert.equal(e.code, code);
  assert.equal(e.closeCode, closeCode);
}

/** Deterministic pseudo-random bytes (cheap to generate in large sizes inside property tests). */
export function patternBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = (seed | 0) ^ 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Valid UTF-8 of exactly `length` bytes mixing 1-, 2-, 3- and 4-byte characters. */
export function utf8OfLength(length: number, seed: number): Buffer {
  const chars = ['a', 'é', '€', '😀', 'Z', 'ж', '中', '\u{10FFFF}', '\u0000'];
  const parts: Buffer[] = [];
  let total = 0;
  let i = seed >>> 0;
  for (;;) {
    const c = Buffer.from(chars[i % chars.length]!);
    i = (i * 1103515245 + 12345) >>> 0;
    if (total + c.length > length) break;
    parts.push(c);
    total += c.length;
  }
  parts.push(Buffer.alloc(length - total, 0x41));
  const out = Buffer.concat(parts);
  assert.equal(out.length, length);
  return out;
}
