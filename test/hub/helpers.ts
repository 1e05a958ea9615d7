// Helpers for the hub tests (not a test file): a hub on an http server on
// 127.0.0.1:0, raw protocol clients (Switchboard's WebSocket speaking
// switchboard.v1 by hand) and browser-API clients (switchboard/client on
// Switchboard's WebSocket).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { Hub, type HubOptions } from '../../packages/switchboard/src/hub/index.js';
import { HubClient, type ClientOptions, type DefaultEvents, type EventsMap } from '../../packages/switchboard/src/client/index.js';
import { withTimeout } from '../helpers/async.js';

export const HOST = '127.0.0.1';

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `cond` every 5 ms until true (bounded). */
export async function until(cond: () => boolean, ms = 5000, label = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms: ${label}`);
    await delay(5);
  }
}

export interface TestHub {
  hub: Hub<any, any>;
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

/** A Hub attached to a fresh http server on 127.0.0.1:0, path /hub. */
export async function startHub(options: HubOptions = {}): Promise<TestHub> {
  const server = http.createServer((_, res) => res.writeHead(404).end());
  const hub = new Hub({ server, ...options });
  hub.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    hub,
    server,
    url: `ws://${HOST}:${port}/hub`,
    close: async () => {
      await withTimeout(hub.close(), 5000, 'hub.close()').catch(() => {});
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A client speaking the protocol by hand: every server message parsed and kept. */
export class RawClient {
  readonly received: any[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.received.push(JSON.parse(data.toString()));
      this.wake();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => {});
  }

  static async connect(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<RawClient> {
    const ws = await WebSocket.connect(url, { protocols: options.protocols ?? ['switchboard.v1'], headers: options.headers });
    return new RawClient(ws);
  }

  /** Connects, says hello and waits for welcome. */
  static async open(url: string, auth?: unknown): Promise<RawClient> {
    const c = await RawClient.connect(url);
    c.send(auth === undefined ? { t: 'hello' } : { t: 'hello', auth });
    await c.next((m) => m.t === 'welcome');
    return c;
  }

  get id(): string {
    return this.received.find((m) => m.t === 'welcome')?.id;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first received message (from `from` on) that matches; waits for it (bounded). */
  async next(match: (m: any) => boolean, ms = 5000, from = 0): Promise<any> {
    return withTimeout(
      (async () => {
        for (;;) {
          for (let i = from; i < this.received.length; i++) if (match(this.received[i])) return this.received[i];
          if (this.closed) throw new Error(`closed (${this.closed.code} ${this.closed.reason}) while waiting; got ${JSON.stringify(this.received).slice(0, 500)}`);
          await new Promise<void>((r) => this.waiters.push(r));
        }
      })(),
      ms,
      `a matching message; got ${JSON.stringify(this.received).slice(-500)}`,
    );
  }

  /** Sends a message with an id and waits for the ack or error with that id. */
  async call(message: Record<string, unknown>, id: number, ms = 5000): Promise<any> {
    this.send({ ...message, id });
    return this.next((m) => (m.t === 'ack' || m.t === 'error') && m.id === id, ms);
  }

  async waitClosed(ms = 5000): Promise<{ code: number; reason: string }> {
    await withTimeout(
      (async () => {
        while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
      })(),
      ms,
      'the connection to close',
    );
    return this.closed!;
  }

  /** Destroys the TCP connection (no close frame): an abrupt disconnect. */
  destroy(): void {
    (this.ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
  }
}

/** A switchboard/client HubClient on Switchboard's WebSocket. */
export function hubClient<L extends EventsMap = DefaultEvents, S extends EventsMap = DefaultEvents>(url: string | readonly string[], options: ClientOptions = {}): HubClient<L, S> {
  return new HubClient<L, S>(url, { WebSocket, ...options });
}

/** Destroys the TCP socket under a HubClient (an abrupt drop the client notices as 1006). */
export function dropClient(client: HubClient<any, any>): void {
  const ws = (client as unknown as { ws: { _socket: { destroy(): void } } | null }).ws;
  ws?._socket.destroy();
}

/** Opens `n` raw clients, `batch` at a time. */
export async function openMany(url: string, n: number, batch = 100): Promise<RawClient[]> {
  const out: RawClient[] = [];
  for (let i = 0; i < n; i += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, n - i) }, () => RawClient.open(url)))));
  }
  return out;
}
