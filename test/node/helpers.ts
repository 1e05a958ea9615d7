// Shared helpers for the test/node tests (not a test file itself): servers on
// 127.0.0.1:0 that are always torn down, `ws` clients, and a raw TCP client
// that speaks the handshake and frames byte by byte.
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import WsClient from 'ws';
import { WebSocketServer, type WebSocket, type WebSocketServerOptions } from '../../packages/switchboard/src/index.js';
import { encodeFrame, encodeClosePayload, Opcode } from '../../packages/switchboard/src/protocol/index.js';

export { WsClient };
export const HOST = '127.0.0.1';

// ---- bounded waiting ---------------------------------------------------------

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The arguments of the next `event` (bounded). Does not treat 'error' specially. */
export function once<A extends unknown[] = any[]>(emitter: EventEmitter, event: string, ms = 5000): Promise<A> {
  let listener: ((...args: unknown[]) => void) | undefined;
  return withTimeout(
    new Promise<A>((resolve) => {
      listener = (...args: unknown[]) => resolve(args as A);
      emitter.once(event, listener);
    }),
    ms,
    `waiting for '${event}'`,
  ).finally(() => {
    if (listener) emitter.removeListener(event, listener);
  });
}

/** Polls `condition` until it holds (bounded). */
export async function waitFor(condition: () => boolean, ms = 5000, label = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${label}`);
    await delay(10);
  }
}

// ---- servers -------------------------------------------------------------------

export interface TestServer {
  wss: WebSocketServer;
  port: number;
  url: string;
  /** Resolves with [ws, req] of the next connection. */
  nextConnection(ms?: number): Promise<[WebSocket, import('node:http').IncomingMessage]>;
}

/**
 * `new WebSocketServer({ port: 0, host: 127.0.0.1, ...options })`, listening.
 * Registers teardown on `t`: every connection is terminated and the server
 * closed (bounded).
 */
export async function startServer(t: TestContext, options: Partial<WebSocketServerOptions> = {}): Promise<TestServer> {
  const wss = new WebSocketServer({ port: 0, host: HOST, ...options } as WebSocketServerOptions);
  const all = new Set<WebSocket>();
  wss.on('connection', (ws: WebSocket) => {
    all.add(ws);
    ws.on('close', () => all.delete(ws));
  });
  t.after(async () => {
    for (const ws of all) ws.terminate();
    for (const ws of wss.clients) ws.terminate();
    await withTimeout(new Promise<void>((resolve) => wss.close(() => resolve())), 5000, 'wss.close()').catch(() => {});
  });
  await once(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  return {
    wss,
    port,
    url: `ws://${HOST}:${port}`,
    nextConnection: (ms = 5000) => once<[WebSocket, import('node:http').IncomingMessage]>(wss, 'connection', ms),
  };
}

/** A `ws` client, open, terminated when the test ends. Rejects on an error or an unexpected response. */
export async function connect(t: TestContext, url: string, protocols?: string | string[], options: WsClient.ClientOptions = {}): Promise<WsClient> {
  const client = new WsClient(url, protocols, options);
  t.after(() => client.terminate());
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve());
      client.once('error', reject);
      client.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
    }),
    5000,
    `connecting to ${url}`,
  );
  return client;
}

/** A `ws` client and the server-side socket it became. */
export async function connectPair(t: TestContext, server: TestServer, protocols?: string | string[], options: WsClient.ClientOptions = {}): Promise<[WsClient, WebSocket]> {
  const connection = server.nextConnection();
  const client = await connect(t, server.url, protocols, options);
  const [ws] = await connection;
  return [client, ws];
}

/** Resolves with [code, reason] once the `ws` client closes. */
export function closed(client: WsClient, ms = 5000): Promise<[number, string]> {
  if (client.readyState === WsClient.CLOSED) return Promise.reject(new Error('client already closed'));
  return once<[number, Buffer]>(client, 'close', ms).then(([code, reason]) => [code, reason.toString()]);
}

/** Collects every message a `ws` client receives. */
export class Inbox {
  readonly messages: Array<{ data: unknown; isBinary: boolean }> = [];
  constructor(emitter: EventEmitter) {
    emitter.on('message', (data: unknown, isBinary: boolean) => this.messages.push({ data, isBinary }));
  }
  async next(n: number, ms = 5000): Promise<Array<{ data: unknown; isBinary: boolean }>> {
    await waitFor(() => this.messages.length >= n, ms, `${n} message(s) (have ${this.messages.length})`);
    return this.messages.slice(0, n);
  }
}

// ---- raw TCP -----------------------------------------------------------------------

export interface RawFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

export const MASK_KEY = Buffer.from([0x12, 0x34, 0x56, 0x78]);

/** A masked client frame, built with the library's own encoder. */
export function clientFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), fin = true): Buffer {
  return encodeFrame(Buffer.from(payload), { opcode, fin, maskKey: MASK_KEY });
}

/** An unmasked frame (what a client must never send). */
export function unmaskedFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), fin = true): Buffer {
  return encodeFrame(Buffer.from(payload), { opcode, fin });
}

export function closeFrame(code?: number, reason = ''): Buffer {
  return clientFrame(Opcode.Close, encodeClosePayload(code, reason));
}

export function upgradeRequest(path = '/', extraHeaders: Record<string, string> = {}, options: { omit?: string[] } = {}): string {
  const headers: Record<string, string> = {
    Host: `${HOST}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...extraHeaders,
  };
  for (const name of options.omit ?? []) delete headers[name];
  let head = `GET ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
}

export interface HttpHead {
  status: number;
  statusLine: string;
  headers: Record<string, string>;
  raw: string;
}

function parseHead(raw: string): HttpHead {
  const lines = raw.split('\r\n').filter((l) => l !== '');
  const statusLine = lines[0] ?? '';
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, statusLine, headers, raw };
}

/**
 * A raw TCP client: sends exact bytes; buffers what it receives so tests can
 * read the HTTP head and then frames. Destroyed when the test ends.
 */
export class RawClient {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  private size = 0;
  /** Drop received bytes instead of buffering them. */
  discard = false;
  ended = false;
  closedAt = 0;
  readonly closedPromise: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      if (this.discard) return;
      this.chunks.push(d);
      this.size += d.length;
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  static async connect(t: TestContext, port: number): Promise<RawClient> {
    const socket = net.connect({ host: HOST, port });
    socket.setNoDelay(true);
    t.after(() => socket.destroy());
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      5000,
      'TCP connect',
    );
    return new RawClient(socket);
  }

  /** Connects and completes an opening handshake; throws unless the answer is 101. */
  static async open(t: TestContext, port: number, path = '/', headers: Record<string, string> = {}): Promise<RawClient> {
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest(path, headers));
    const head = await raw.readHead();
    if (head.status !== 101) throw new Error(`handshake refused: ${head.statusLine}`);
    return raw;
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  private buffered(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(n: number): Buffer {
    const all = this.buffered();
    const out = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    return out;
  }

  /** Waits until `take(buffered)` returns a byte count, then removes and returns those bytes. */
  async read(take: (b: Buffer) => number | null, label: string, ms = 5000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    for (;;) {
      const n = take(this.buffered());
      if (n !== null) return this.consume(n);
      if (this.ended) throw new Error(`connection closed while waiting for ${label}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${label}`);
      await delay(5);
    }
  }

  /** The HTTP response head (status line and headers). */
  async readHead(ms = 5000): Promise<HttpHead> {
    const raw = await this.read(
      (b) => {
        const i = b.indexOf('\r\n\r\n');
        return i < 0 ? null : i + 4;
      },
      'an HTTP response head',
      ms,
    );
    return parseHead(raw.toString('latin1'));
  }

  /** The next frame the server sent. */
  async readFrame(ms = 5000): Promise<RawFrame> {
    const bytes = await this.read(frameLength, 'a frame', ms);
    return decodeFrame(bytes);
  }

  /** Reads frames until one with `opcode` arrives (bounded). */
  async readFrameOf(opcode: number, ms = 5000): Promise<RawFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const frame = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (frame.opcode === opcode) return frame;
    }
  }

  /** Waits until the server closes the TCP connection. */
  async waitClosed(ms = 5000): Promise<void> {
    await withTimeout(this.closedPromise, ms, 'the server to close the TCP connection');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Length of the first complete frame in `b`, or null. */
export function frameLength(b: Buffer): number | null {
  if (b.length < 2) return null;
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
  const total = off + (b[1]! & 0x80 ? 4 : 0) + len;
  return b.length >= total ? total : null;
}

export function decodeFrame(b: Buffer): RawFrame {
  const masked = (b[1]! & 0x80) !== 0;
  let len = b[1]! & 0x7f;
  let off = 2;
  if (len === 126) {
    len = b.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    len = Number(b.readBigUInt64BE(2));
    off = 10;
  }
  let payload: Buffer;
  if (masked) {
    const key = b.subarray(off, off + 4);
    payload = Buffer.from(b.subarray(off + 4, off + 4 + len));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
  } else {
    payload = Buffer.from(b.subarray(off, off + len));
  }
  return { fin: (b[0]! & 0x80) !== 0, opcode: b[0]! & 0x0f, masked, payload };
}

/** Code and reason of a close frame's payload. */
export function parseClose(frame: RawFrame): { code: number; reason: string } {
  if (frame.opcode !== Opcode.Close) throw new Error(`expected a close frame, got opcode ${frame.opcode}`);
  if (frame.payload.length < 2) return { code: 1005, reason: '' };
  return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() };
}

/** Sends a raw HTTP request and returns the response head and whether the server then closed the socket. */
export async function rawRequest(t: TestContext, port: number, request: string): Promise<{ head: HttpHead; raw: RawClient }> {
  const raw = await RawClient.connect(t, port);
  raw.write(request);
  const head = await raw.readHead();
  return { head, raw };
}
