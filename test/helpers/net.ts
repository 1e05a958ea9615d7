// TCP-level helpers: free ports, port checks, raw sockets.
import net from 'node:net';
import { withTimeout } from './async.js';

export const HOST = '127.0.0.1';

/** A port that was free on 127.0.0.1 a moment ago (prefer `port: 0` where the API allows it). */
export function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Throws a clear error if `port` cannot be bound (the way a server started
 * with `{ port }` and no host would bind it: on every interface).
 */
export async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`port ${port} is busy (${e.code ?? e.message}); stop whatever listens on it and run the test again`)),
    );
    srv.listen(port, () => srv.close(() => resolve()));
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 10_000, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: HOST, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!isAlive()) throw new Error(`process exited before listening on ${HOST}:${port}`);
    if (Date.now() > deadline) throw new Error(`nothing listened on ${HOST}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A raw TCP client that buffers everything it receives, for byte-exact
 * comparisons of what a server writes.
 */
export class RawClient {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  ended = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, timeoutMs = 5000): Promise<RawClient> {
    return withTimeout(
      new Promise<RawClient>((resolve, reject) => {
        const s = net.connect({ host: HOST, port });
        s.setNoDelay(true);
        s.once('connect', () => resolve(new RawClient(s)));
        s.once('error', reject);
      }),
      timeoutMs,
      `TCP connect to ${HOST}:${port}`,
    );
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Waits until `take(buffered)` returns a byte count, removes and returns that many bytes. */
  async read(take: (b: Buffer) => number | null, label: string, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = take(this.buf);
      if (n !== null) {
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return Buffer.from(out);
      }
      if (this.ended) throw new Error(`connection closed while waiting for ${label}; buffered: ${JSON.stringify(this.buf.toString('latin1'))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}; buffered: ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The HTTP response head, including the final CRLFCRLF. */
  readHttpHead(timeoutMs?: number): Promise<Buffer> {
    return this.read((b) => {
      const i = b.indexOf('\r\n\r\n');
      return i < 0 ? null : i + 4;
    }, 'the HTTP response head', timeoutMs);
  }

  /** One complete WebSocket frame (header and payload), as sent. */
  readFrame(timeoutMs?: number): Promise<Buffer> {
    return this.read(frameLength, 'a WebSocket frame', timeoutMs);
  }

  /** Waits for the peer to close the TCP connection; returns any bytes received meanwhile. */
  async readToEnd(timeoutMs = 5000): Promise<Buffer> {
    return this.read((b) => (this.ended ? b.length : null), 'the peer to close the connection', timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Total length of the first complete frame in `b`, or null if incomplete. */
export function frameLength(b: Buffer): number | null {
  if (b.length < 2) return null;
  const masked = (b[1]! & 0x80) !== 0;
  let len = b[1]! & 0x7f;
  let off = 2;
  if (len === 126) {
    if (b.length < 4) return null;
    len = b.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (b.length < 10) return null;
    len = Number(b.readBigUInt64BE(2));
    off = 10;
  }
  const total = off + (masked ? 4 : 0) + len;
  return b.length >= total ? total : null;
}

/** A client frame (always masked, FIN set unless told otherwise). */
export function clientFrame(opcode: number, payload: Buffer | string, mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]), fin = true): Buffer {
  const p = Buffer.from(payload);
  if (p.length > 65535) throw new Error('clientFrame: payload too long for this helper');
  const head = p.length < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | p.length]) : Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, p.length >> 8, p.length & 0xff]);
  const body = Buffer.alloc(p.length);
  for (let i = 0; i < p.length; i++) body[i] = p[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}
