// `switchboard serve`: a WebSocket server (ws://, or wss:// with --tls-cert
// and --tls-key) in tutorial, echo or broadcast mode, with an event log, that
// closes every connection with 1001 on SIGINT/SIGTERM and exits 0.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { WebSocketServer, type VerifyClientCallback, type VerifyClientInfo, type WebSocket, type WebSocketServerOptions } from '../index.js';
import { styleFor } from './color.js';
import { MODES, type Mode } from './modes.js';
import { UsageError } from './options.js';
import { ServerLog, type LogFormat } from './server-log.js';

export interface ServeOptions {
  port: number;
  host?: string;
  path?: string;
  mode: Mode;
  deflate: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** Accept only these subprotocols (none given: accept any, choose the first offered). */
  subprotocols: string[];
  maxPayload: number;
  log: LogFormat;
}

/** Largest message by default: larger than the conformance suite's 16 MiB cases. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
/** How long shutdown waits for clients to answer the 1001 close frame before dropping them. */
const SHUTDOWN_TIMEOUT_MS = 2000;
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Runs the server until SIGINT/SIGTERM (resolves 0) or a server error such as a port in use (resolves 1). */
export function serve(options: ServeOptions): Promise<number> {
  const tls = readTlsFiles(options);
  const log = new ServerLog(options.log, styleFor(process.stdout), options.mode === 'tutorial');
  const wssOptions: WebSocketServerOptions = {
    maxPayload: options.maxPayload,
    perMessageDeflate: options.deflate,
    ...(options.path !== undefined ? { path: options.path } : {}),
    ...(options.subprotocols.length > 0 ? subprotocolOptions(options.subprotocols, log) : {}),
  };
  let httpsServer: HttpsServer | null = null;
  let wss: WebSocketServer;
  if (tls) {
    httpsServer = createHttpsServer(
      { ...tls, headersTimeout: HANDSHAKE_TIMEOUT_MS, requestTimeout: HANDSHAKE_TIMEOUT_MS + 1000 },
      (_req: IncomingMessage, res: ServerResponse) => {
        const body = 'Upgrade Required';
        res.writeHead(426, { 'Content-Length': Buffer.byteLength(body), 'Content-Type': 'text/plain', Upgrade: 'websocket' });
        res.end(body);
      },
    );
    wss = new WebSocketServer({ ...wssOptions, server: httpsServer });
    httpsServer.listen(options.port, options.host);
  } else {
    wss = new WebSocketServer({ ...wssOptions, port: options.port, ...(options.host !== undefined ? { host: options.host } : {}) });
  }

  const handle = MODES[options.mode];
  let nextId = 0;
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const id = ++nextId;
    log.connect(id, { remote: remoteOf(req), path: req.url ?? '/', protocol: ws.protocol, extensions: ws.extensions });
    ws.on('error', (error: Error) => log.error(id, error));
    ws.on('close', (code: number, reason: Buffer) => log.close(id, code, reason));
    handle(ws, { id, log, wss });
  });

  return new Promise<number>((resolve) => {
    wss.on('listening', () => {
      const address = wss.address();
      if (address === null || typeof address !== 'object') return;
      const host = options.host ?? 'localhost';
      log.listening(`${tls ? 'wss' : 'ws'}://${host.includes(':') ? `[${host}]` : host}:${address.port}`);
    });
    wss.on('error', (error: Error) => {
      process.stderr.write(`switchboard: ${error.message}\n`);
      httpsServer?.close();
      resolve(1);
    });
    const stop = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      // A second Ctrl+C now has Node's default effect: exit at once.
      log.shutdown(signal, wss.clients.size);
      wss.shutdown({ code: 1001, reason: 'server shutting down', timeout: SHUTDOWN_TIMEOUT_MS }).then(() => {
        if (httpsServer) {
          httpsServer.closeAllConnections();
          httpsServer.close();
        }
        resolve(0);
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function readTlsFiles(options: ServeOptions): { cert: Buffer; key: Buffer } | null {
  if (options.tlsCert === undefined && options.tlsKey === undefined) return null;
  if (options.tlsCert === undefined || options.tlsKey === undefined) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  return { cert: readOption('--tls-cert', options.tlsCert), key: readOption('--tls-key', options.tlsKey) };
}

/** Reads the file an option names; a missing or unreadable file is a usage error. */
export function readOption(option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${option} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/**
 * --subprotocol: refuse (400) clients that offer none of `accepted`, and
 * choose the first one the client offers that is in the list.
 */
function subprotocolOptions(accepted: string[], log: ServerLog): Pick<WebSocketServerOptions, 'verifyClient' | 'handleProtocols'> {
  return {
    verifyClient: (info: VerifyClientInfo, done: VerifyClientCallback) => {
      const header = info.req.headers['sec-websocket-protocol'];
      const offered = (header ?? '').split(',').map((p) => p.trim()).filter(Boolean);
      if (offered.some((p) => accepted.includes(p))) {
        done(true);
        return;
      }
      const reason = `${offered.length === 0 ? 'No subprotocol offered' : `None of the offered subprotocols (${offered.join(', ')}) is supported`}; this server speaks ${accepted.join(', ')}`;
      log.refused(remoteOf(info.req), 400, reason);
      done(false, 400, reason);
    },
    handleProtocols: (offered: Set<string>) => [...offered].find((p) => accepted.includes(p)) ?? false,
  };
}

function remoteOf(req: IncomingMessage): string {
  const { remotePort } = req.socket;
  // IPv4 clients of a dual-stack server are shown as IPv4 (not ::ffff:127.0.0.1).
  const remoteAddress = req.socket.remoteAddress?.replace(/^::ffff:(?=\d+\.)/, '');
  if (remoteAddress === undefined) return 'unknown';
  return `${remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress}:${remotePort ?? 0}`;
}
