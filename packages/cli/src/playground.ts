// The browser playground: the built page (dist/playground, made by Vite from
// playground/ in `npm run build`) served from memory over plain GET/HEAD on
// the same port as `switchboard serve`, and `switchboard playground`, which
// serves only the page and the relay.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { refuseUpgrade } from 'switchboard';
import { styleFor } from './color.js';
import { DEFAULT_HOST, listeningAddress, listeningLine } from './listen-address.js';
import { RELAY_PATH, type PlaygroundConfig } from '../shared/playground-protocol.js';
import { PlaygroundRelay } from './playground-relay.js';
import { batchedWriter, type LogFormat } from './server-log.js';
import { escapeControls, safeJson } from './terminal-safe.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** The page may load its own files and connect to any WebSocket URL; nothing else (no inline script). */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

const CONFIG_PLACEHOLDER = '__SWITCHBOARD_PLAYGROUND_CONFIG__';

interface Asset {
  body: Buffer;
  type: string;
  /** Hashed file names (assets/*) never change: cache them for good. */
  immutable: boolean;
}

/** The built page, in memory; answers GET/HEAD for its files. */
export class PlaygroundSite {
  private readonly assets = new Map<string, Asset>();

  private constructor(dir: string, config: PlaygroundConfig) {
    for (const file of walk(dir)) {
      const urlPath = `/${relative(dir, file).split(sep).join('/')}`;
      let body = readFileSync(file);
      if (urlPath === '/index.html') {
        const json = JSON.stringify(config).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
        body = Buffer.from(body.toString('utf8').replace(CONFIG_PLACEHOLDER, json));
      }
      this.assets.set(urlPath, {
        body,
        type: CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        immutable: urlPath.startsWith('/assets/'),
      });
    }
    const index = this.assets.get('/index.html');
    if (index) this.assets.set('/', index);
  }

  /** The page built into `dir`, or null when there is none (a checkout that was never built). */
  static load(dir: string | undefined, config: PlaygroundConfig): PlaygroundSite | null {
    if (dir === undefined) return null;
    try {
      if (!statSync(join(dir, 'index.html')).isFile()) return null;
    } catch {
      return null;
    }
    return new PlaygroundSite(dir, config);
  }

  /** Answers the request when it is for one of the page's files; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const asset = this.assets.get(query === -1 ? url : url.slice(0, query));
    if (!asset) return false;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': asset.type,
      'Content-Length': asset.body.length,
      'Cache-Control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return true;
  }
}

function walk(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...walk(path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** Whether an upgrade request (or an HTTP/2 WebSocket stream's request) is for the relay. */
export function isRelayRequest(req: { url?: string }): boolean {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return (query === -1 ? url : url.slice(0, query)) === RELAY_PATH;
}

/** "a.example, b.example" (repeatable) → lowercase hostnames. */
export function parseRelayAllow(value: string, previous: string[] | undefined): string[] {
  const hosts = value
    .split(',')
    .map((h) => h.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1'))
    .filter(Boolean);
  return [...(previous ?? []), ...hosts];
}

/** The relay's lines in the server's event log, in the log's format. */
export function relayLogger(format: LogFormat): (event: string, fields: Record<string, string | number | undefined>) => void {
  const style = styleFor(process.stdout);
  // Batched like the server's own log lines, so that the two keep their order across turns.
  const write = batchedWriter(process.stdout);
  return (event, fields) => {
    const time = new Date().toISOString();
    if (format === 'json') {
      write(safeJson({ time, event, ...fields }));
    } else if (format === 'human') {
      const text = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        // Targets, header names and reasons come from the page: escaped, never raw on a terminal.
        .map(([k, v]) => `${k} ${escapeControls(typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v))}`)
        .join(', ');
      const colour = event === 'relay-refused' ? style.red : style.magenta;
      write(`${style.dim(time)} ${style.bold('-')} ${colour(event)} ${text}`);
    }
  };
}

/**
 * Answers requests that are not for the page as a WebSocket server does: 426.
 * `Upgrade: websocket` only over HTTP/1.1: HTTP/2 forbids connection-specific
 * fields (RFC 9113 section 8.2.2), and its WebSockets come by extended
 * CONNECT (RFC 8441) instead.
 */
export function upgradeRequired(req: IncomingMessage, res: ServerResponse): void {
  const body = 'Upgrade Required';
  const headers: Record<string, string | number> = { 'Content-Length': Buffer.byteLength(body), 'Content-Type': 'text/plain', 'Sec-WebSocket-Version': '13' };
  if (req.httpVersionMajor < 2) headers.Upgrade = 'websocket';
  res.writeHead(426, headers);
  res.end(body);
}

export interface PlaygroundOptions {
  port: number;
  host?: string;
  /** The URL the page's URL field starts with. */
  url: string;
  relayAllow: string[];
  maxPayload: number;
  log: LogFormat;
  /** Where the built page is (dist/playground). */
  playgroundDir?: string;
}

const HTTP_TIMEOUT_MS = 10_000;
const SHUTDOWN_TIMEOUT_MS = 2000;

/**
 * `switchboard playground`: the page and the relay, no WebSocket server of
 * its own. Prints `listening on http://HOST:PORT` and runs until
 * SIGINT/SIGTERM (resolves 0) or a server error (resolves 1).
 */
export function servePlayground(options: PlaygroundOptions): Promise<number> {
  const site = PlaygroundSite.load(options.playgroundDir, { defaultUrl: options.url, relayAllow: options.relayAllow, server: 'playground' });
  if (site === null) {
    process.stderr.write(`switchboard: the playground page is not built (${options.playgroundDir ?? 'no directory'}): run "npm run build"\n`);
    return Promise.resolve(1);
  }
  const relay = new PlaygroundRelay({ allow: options.relayAllow, maxPayload: options.maxPayload, log: relayLogger(options.log) });
  const server = createHttpServer({ headersTimeout: HTTP_TIMEOUT_MS, requestTimeout: HTTP_TIMEOUT_MS + 1000 }, (req, res) => {
    if (site.handle(req, res)) return;
    const body = 'Not Found';
    res.writeHead(404, { 'Content-Length': Buffer.byteLength(body), 'Content-Type': 'text/plain' });
    res.end(body);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (isRelayRequest(req)) relay.handleUpgrade(req, socket, head, false);
    else refuseUpgrade(socket, 404, 'Not Found');
  });
  return runUntilSignal(server, options, async () => relay.shutdown(SHUTDOWN_TIMEOUT_MS));
}

/** Listens, prints the listening line, and on SIGINT/SIGTERM runs `shutdown` and closes the server. */
function runUntilSignal(server: Server, { port, host, log }: PlaygroundOptions, shutdown: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    server.on('listening', () => {
      const address = server.address();
      if (address === null || typeof address !== 'object') return;
      const shown = listeningAddress('http', address);
      const record = { time: new Date().toISOString(), event: 'listening', url: shown.url, allInterfaces: shown.allInterfaces || undefined };
      process.stdout.write(`${log === 'json' ? JSON.stringify(record) : listeningLine(shown)}\n`);
    });
    server.on('error', (error: Error) => {
      process.stderr.write(`switchboard: ${error.message}\n`);
      resolve(1);
    });
    const stop = (): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      void shutdown().then(() => {
        server.closeAllConnections();
        server.close();
        resolve(0);
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    server.listen(port, host ?? DEFAULT_HOST);
  });
}
