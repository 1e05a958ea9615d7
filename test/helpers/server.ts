// In-process servers of the library under test.
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from './impl.js';
import { onceEvent, withTimeout } from './async.js';
import { HOST } from './net.js';

export type Server = InstanceType<typeof WebSocketServer>;
export type ServerOptions = ConstructorParameters<typeof WebSocketServer>[0];

export interface Listening {
  wss: Server;
  port: number;
  /** ws://127.0.0.1:PORT (no trailing slash; append the path). */
  base: string;
  /** Resolves with [socket, request] of the next connection from now on. */
  nextConnection(ms?: number): Promise<[any, import('node:http').IncomingMessage]>;
  /** Terminates every connection and closes the server (bounded). */
  close(): Promise<void>;
}

/** `new WebSocketServer({ port: 0, host: '127.0.0.1', ...options })`, once listening. */
export async function listen(options: Record<string, unknown> = {}): Promise<Listening> {
  const wss = new WebSocketServer({ port: 0, host: HOST, ...options } as ServerOptions);
  const sockets = new Set<{ terminate(): void }>();
  wss.on('connection', (ws: { terminate(): void; on(e: string, f: () => void): void }) => {
    sockets.add(ws);
    ws.on('error', () => {});
    ws.on('close', () => sockets.delete(ws));
  });
  await onceEvent(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  return {
    wss,
    port,
    base: `ws://${HOST}:${port}`,
    nextConnection: (ms = 5000) => onceEvent(wss, 'connection', ms),
    close: async () => {
      for (const s of sockets) s.terminate();
      await withTimeout(new Promise<void>((r) => wss.close(() => r())), 5000, 'WebSocketServer.close()').catch(() => {});
    },
  };
}

/** An echo server: every message goes back with the same type. */
export async function listenEcho(options: Record<string, unknown> = {}): Promise<Listening> {
  const l = await listen(options);
  l.wss.on('connection', (ws: { send(d: unknown, o: object): void; on(e: 'message', f: (d: unknown, b: boolean) => void): void }) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  return l;
}
