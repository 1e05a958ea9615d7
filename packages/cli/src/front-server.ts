// The HTTP server `switchboard serve` listens with. Without TLS: node:http.
// With --tls-cert/--tls-key: an HTTP/2 server that speaks HTTP/1.1 on the
// same port too (ALPN picks; `allowHTTP1`), so that browsers holding an
// HTTP/2 connection to the page open their WebSockets as streams of it
// (RFC 8441) and every other client upgrades over HTTP/1.1 as before;
// --no-http2 keeps an HTTP/1.1-only `https` server.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { onWebSocketStreams } from 'switchboard';
import type { ServerLog } from './server-log.js';
import { announceListening, onPrimaryGone } from './workers.js';

/**
 * HTTP/2 receive windows (RFC 9113 section 6.9): Node's default of 65,535
 * bytes per stream and per session makes a large message crawl through
 * WINDOW_UPDATE round trips (see docs/http2.md, "Flow control").
 */
export const HTTP2_STREAM_WINDOW = 1024 * 1024;
export const HTTP2_SESSION_WINDOW = 16 * 1024 * 1024;

export interface FrontServerOptions {
  tls: { cert: Buffer; key: Buffer } | null;
  /** Serve HTTP/2 (with TLS only; browsers speak it over TLS only). */
  http2: boolean;
  timeouts: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
  /** Plain requests; over HTTP/2 these are Node's compatibility objects (Http2ServerRequest/Response), which serve the same purpose. */
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /** HTTP/1.1 upgrade requests. */
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** RFC 8441 extended CONNECT streams (only when serving HTTP/2). */
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, req: Http2ServerRequest) => void;
}

export interface FrontServer {
  server: Server | Http2SecureServer;
  /** Whether HTTP/2 is served. */
  http2: boolean;
  /** Whether it speaks TLS (wss:). */
  secure: boolean;
  /** Drops every connection (HTTP/1.1 sockets and HTTP/2 sessions alike): what `closeAllConnections()` does for node:http. */
  closeAllConnections(): void;
}

export function createFrontServer(options: FrontServerOptions): FrontServer {
  const { tls, timeouts, onRequest, onUpgrade } = options;
  if (tls === null || !options.http2) {
    const server = tls ? createHttpsServer({ ...tls, ...timeouts }, onRequest) : createHttpServer(timeouts, onRequest);
    server.on('upgrade', onUpgrade);
    return { server, http2: false, secure: tls !== null, closeAllConnections: () => server.closeAllConnections() };
  }
  const server = createSecureServer(
    { ...tls, allowHTTP1: true, settings: { enableConnectProtocol: true, initialWindowSize: HTTP2_STREAM_WINDOW } },
    onRequest as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void,
  );
  server.on('upgrade', onUpgrade);
  // Http2SecureServer has no closeAllConnections(): every TLS socket, whichever protocol it speaks, is tracked instead.
  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // HTTP/1.1 sockets only get the handshake timeout node:http would give them; HTTP/2 sessions have their own (below).
    if ((socket as Socket & { alpnProtocol?: string | false }).alpnProtocol !== 'h2') socket.setTimeout(timeouts.requestTimeout, () => socket.destroy());
  });
  server.on('session', (session: ServerHttp2Session) => {
    session.on('error', () => {});
    session.setLocalWindowSize(HTTP2_SESSION_WINDOW);
  });
  // An upgraded HTTP/1.1 socket is the WebSocket's: its idle timer must not cut it.
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => (socket as Socket).setTimeout(0));
  onWebSocketStreams(server, options.onStream);
  return {
    server,
    http2: true,
    secure: true,
    closeAllConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

export interface RunOptions {
  port: number;
  host: string;
  log: ServerLog;
  /** Called once listening, after the listening line. */
  onListening?: () => void;
  /** When listening fails (the error is printed): what the server holds is released before the command exits 1. */
  onListenError?: () => Promise<unknown>;
  /**
   * Called once, on SIGINT or SIGTERM or when a --workers primary goes away: closes the WebSockets
   * (and logs the shutdown); every remaining connection is then dropped and the command exits 0.
   */
  shutdown: (signal: NodeJS.Signals) => Promise<unknown>;
}

export interface RunningServer {
  /** The command's exit code: 0 once shut down, 1 when listening failed. */
  exitCode: Promise<number>;
  /** Shuts down as a signal would (the interactive console's Ctrl+D); only the first call counts. */
  stop(signal: NodeJS.Signals): void;
}

/** Listens, prints the listening line, and shuts down on SIGINT/SIGTERM: the life of `serve` and `serve --hub` alike. */
export function runFrontServer(front: FrontServer, options: RunOptions): RunningServer {
  const { server } = front;
  let resolveExit!: (code: number) => void;
  const exitCode = new Promise<number>((resolve) => (resolveExit = resolve));
  server.on('listening', () => {
    const address = server.address();
    if (address === null || typeof address !== 'object') return;
    announceListening(options.log, front.secure ? 'wss' : 'ws', address);
    options.onListening?.();
  });
  server.on('error', (error: Error) => {
    process.stderr.write(`switchboard: ${error.message}\n`);
    server.close();
    if (options.onListenError === undefined) resolveExit(1);
    else void options.onListenError().finally(() => resolveExit(1));
  });
  let stopped = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopped) return;
    stopped = true;
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    // A second Ctrl+C now has Node's default effect: exit at once.
    void options.shutdown(signal).then(() => {
      front.closeAllConnections();
      server.close();
      resolveExit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  onPrimaryGone(() => stop('SIGTERM'));
  server.listen(options.port, options.host);
  return { exitCode, stop };
}
