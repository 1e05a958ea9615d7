// `switchboard connect URL --tcp-listen [HOST:]PORT` (websocat
// tcp-l:HOST:PORT ws://URL): a TCP server on this machine; each TCP
// connection it accepts opens its own WebSocket to URL, and the two are
// bridged (tcp-bridge.ts). It runs until SIGINT/SIGTERM, which closes every
// WebSocket with 1000 and exits 0.
import type { Socket } from 'node:net';
import { WebSocket, type ClientOptions } from 'switchboard';
import { describeFailure } from './connect-failure.js';
import { describeClose } from './format.js';
import { listeningAddress, listeningLine } from './listen-address.js';
import { UsageError } from './options.js';
import { listenTcp, parseHostPort } from './tcp-bridge.js';
import { escapeControls } from './terminal-safe.js';

/** TCP connections bridged at once by default; more are refused (closed at once). */
export const DEFAULT_MAX_TCP_CONNECTIONS = 64;

export interface TcpListenOptions {
  listen: string;
  subprotocols: string[];
  maxConnections?: number;
}

export function tcpListen(url: string, clientOptions: ClientOptions, options: TcpListenOptions): Promise<number> {
  let address: { host: string; port: number };
  try {
    address = parseHostPort(options.listen, '127.0.0.1');
  } catch (error) {
    throw new UsageError(`--tcp-listen: ${(error as Error).message}`);
  }
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_TCP_CONNECTIONS;
  const status = (text: string): void => void process.stderr.write(`* ${escapeControls(text)}\n`);
  const sockets = new Set<WebSocket>();
  let nextId = 0;
  const open = (socket: Socket): WebSocket => {
    const id = ++nextId;
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    const ws = new WebSocket(url, options.subprotocols, clientOptions);
    sockets.add(ws);
    if (sockets.size > maxConnections) {
      status(`#${id} tcp ${from}: refused: ${maxConnections} connections are bridged already`);
      ws.on('error', () => {});
      ws.terminate();
      return ws;
    }
    let failure: string | null = null;
    ws.on('error', (error: Error & { code?: string }) => (failure ??= describeFailure(error, ws.readyState !== ws.CONNECTING, ws.url)));
    ws.on('open', () => status(`#${id} tcp ${from} bridged to ${ws.url}`));
    ws.on('close', (code: number, reason: Buffer) => {
      sockets.delete(ws);
      status(`#${id} closed: ${failure ?? describeClose(code, reason)}`);
    });
    return ws;
  };
  const server = listenTcp(address, open);
  return new Promise<number>((resolve) => {
    server.on('listening', () => {
      const bound = server.address();
      if (bound === null || typeof bound !== 'object') return;
      process.stdout.write(`${listeningLine(listeningAddress('tcp', bound))}\n`);
      status(`each TCP connection is bridged to its own WebSocket to ${url}`);
    });
    server.on('error', (error: Error) => {
      process.stderr.write(`switchboard: --tcp-listen ${options.listen}: ${error.message}\n`);
      resolve(1);
    });
    const stop = (): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      server.close();
      if (sockets.size === 0) resolve(0);
      for (const ws of sockets) {
        ws.on('close', () => sockets.size === 0 && resolve(0));
        if (ws.readyState === ws.OPEN) ws.close(1000);
        else ws.terminate();
      }
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
