// Collecting WebSocket messages from ws-style sockets ('message' (data, isBinary)).
import type { EventEmitter } from 'node:events';
import { withTimeout } from './async.js';

export interface Received {
  data: Buffer;
  isBinary: boolean;
}

type RawData = Buffer | ArrayBuffer | Buffer[];

/** Normalises a ws 'message' payload (Buffer, ArrayBuffer or fragments) to one Buffer. */
export function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`unexpected message payload type ${Object.prototype.toString.call(data)}`);
}

/**
 * Records every message a socket receives from now on. `next(n)` waits
 * (bounded) until at least n messages arrived in all and returns the first n.
 */
export class MessageLog {
  readonly messages: Received[] = [];
  /** The payloads exactly as the library delivered them (to check their type). */
  readonly raw: unknown[] = [];
  private waiters: Array<() => void> = [];
  private failure: Error | null = null;

  constructor(socket: EventEmitter) {
    socket.on('message', (data: RawData, isBinary: boolean) => {
      this.raw.push(data);
      this.messages.push({ data: toBuffer(data), isBinary });
      this.wake();
    });
    socket.on('close', (code: number) => {
      this.failure ??= new Error(`socket closed (code ${code}) after ${this.messages.length} message(s)`);
      this.wake();
    });
    socket.on('error', (err: Error) => {
      this.failure ??= err;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async next(n: number, ms = 5000): Promise<Received[]> {
    return withTimeout(
      (async () => {
        while (this.messages.length < n) {
          if (this.failure) throw new Error(`expected ${n} message(s): ${this.failure.message}`);
          await new Promise<void>((r) => this.waiters.push(r));
        }
        return this.messages.slice(0, n);
      })(),
      ms,
      `${n} message(s) (got ${this.messages.length})`,
    );
  }
}

/** Shortcut: the next `n` messages received on `socket` from now on. */
export function collectMessages(socket: EventEmitter, n: number, ms = 5000): Promise<Received[]> {
  return new MessageLog(socket).next(n, ms);
}

/** Deterministic pseudo-random bytes (xorshift32), so failures are reproducible. */
export function patternBytes(size: number, seed = 0x9e3779b9): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** A short description for assertion messages (never dumps megabytes). */
export function describe(b: Buffer): string {
  return b.length <= 64 ? JSON.stringify(b.toString('latin1')) : `${b.length} bytes, starting ${b.subarray(0, 16).toString('hex')}`;
}
