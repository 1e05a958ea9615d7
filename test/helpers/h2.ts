// RFC 8441 by hand: Node's http2 client opening an extended CONNECT stream,
// and reading the server's unmasked frames off it.
import { Buffer } from 'node:buffer';
import type { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { onceEvent, withTimeout } from './async.js';
import { HOST } from './net.js';

/** The server's port. */
export function portOf(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port;
}

/** A session to the server, once its SETTINGS have arrived. */
export async function h2Session(port: number, settings: http2.Settings = {}): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://${HOST}:${port}`, { rejectUnauthorized: false, settings: { initialWindowSize: 4 * 1024 * 1024, ...settings } });
  session.on('error', () => {});
  await onceEvent(session, 'remoteSettings', 5000);
  session.setLocalWindowSize(32 * 1024 * 1024);
  return session;
}

/** A session (h2Session) destroyed when the test ends. */
export async function testSession(t: { after(fn: () => void): void }, port: number, settings: http2.Settings = {}): Promise<http2.ClientHttp2Session> {
  const session = await h2Session(port, settings);
  t.after(() => session.destroy());
  return session;
}

/** Opens an extended CONNECT that the server accepts; resolves once `server` (a WebSocketServer) has emitted the connection, with the server's side of it. */
export async function acceptedStream<W>(
  server: EventEmitter,
  session: http2.ClientHttp2Session,
  path = '/',
  headers: Record<string, string> = {},
): Promise<Awaited<ReturnType<typeof extendedConnect>> & { serverSide: W }> {
  const connection = onceEvent<[W]>(server, 'connection');
  const opened = await extendedConnect(session, path, headers);
  const [serverSide] = await connection;
  return { ...opened, serverSide };
}

/** Opens an extended CONNECT for a WebSocket; resolves with the stream and the response headers. */
export async function extendedConnect(
  session: http2.ClientHttp2Session,
  path = '/',
  headers: Record<string, string> = {},
): Promise<{ stream: http2.ClientHttp2Stream; response: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader; frames: FrameReader }> {
  const stream = session.request({
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': path,
    ':authority': `${HOST}`,
    'sec-websocket-version': '13',
    ...headers,
  });
  stream.on('error', () => {});
  const frames = new FrameReader(stream);
  const [response] = await withTimeout(onceEvent<[http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader]>(stream, 'response', 5000), 6000, 'response');
  return { stream, response, frames };
}

export interface Frame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Buffer;
}

/** Collects unmasked frames from a stream, whatever the DATA frames cut them into. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private readonly frames: Frame[] = [];
  private waiter: (() => void) | null = null;
  ended = false;

  constructor(stream: http2.ClientHttp2Stream) {
    stream.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.parse();
    });
    stream.on('end', () => {
      this.ended = true;
      this.waiter?.();
    });
    stream.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
  }

  private parse(): void {
    for (;;) {
      if (this.length < 2) return;
      const buffer = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
      this.chunks = [buffer];
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      this.frames.push({ fin: (buffer[0]! & 0x80) !== 0, rsv1: (buffer[0]! & 0x40) !== 0, opcode: buffer[0]! & 0x0f, payload: buffer.subarray(offset, offset + length) });
      const rest = buffer.subarray(offset + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.length = rest.length;
      this.waiter?.();
    }
  }

  /** The next frame; rejects if the stream ends first. */
  async next(ms = 10_000): Promise<Frame> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      if (this.ended) throw new Error('the stream ended before a frame arrived');
      if (Date.now() > deadline) throw new Error('no frame in time');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 200).unref();
      });
      this.waiter = null;
    }
    return this.frames.shift()!;
  }
}
