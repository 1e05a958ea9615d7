// `switchboard serve`: a WebSocket server (ws://, or wss:// with --tls-cert
// and --tls-key, over HTTP/2 and HTTP/1.1: front-server.ts) in tutorial, echo or broadcast mode, with an event log, that
// closes every connection with 1001 on SIGINT/SIGTERM and exits 0. Plain
// GET requests on the same port get the browser playground (playground.ts).
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuseStream, refuseUpgrade, WebSocketServer, type VerifyClientCallback, type VerifyClientInfo, type WebSocket, type WebSocketServerOptions } from 'switchboard';
import { styleFor } from './color.js';
import { createFrontServer, runFrontServer } from './front-server.js';
import { DEFAULT_HOST } from './listen-address.js';
import { MODES, type Mode } from './modes.js';
import { UsageError } from './options.js';
import { isRelayRequest, PlaygroundSite, relayLogger, upgradeRequired } from './playground.js';
import { PlaygroundRelay } from './playground-relay.js';
import { ServerLog, type LogFormat } from './server-log.js';
import { ProgramBridge, splitCommand } from './exec-bridge.js';
import { ServerConsole } from './server-console.js';
import { bridgeToTcpServer, parseHostPort } from './tcp-bridge.js';
import { serveHub, type HubServeOptions } from './hub-server.js';
import { workerSlot } from './workers.js';
import { openMetrics, type MetricsEndpoint } from './metrics-endpoint.js';
import { answerStats, statsSnapshot } from './playground-stats.js';

export interface ServeOptions extends HubServeOptions {
  port: number;
  /** --hub: a switchboard/hub server (hub-server.ts) instead of a mode. */
  hub?: boolean;
  /** --workers: processes sharing the port (workers.ts); main.ts forks them, each runs serve(). */
  workers?: number;
  /** Address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every interface). */
  host?: string;
  path?: string;
  mode: Mode;
  deflate: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** With TLS, serve HTTP/2 (RFC 8441 WebSocket streams) and HTTP/1.1 on the same port; false (--no-http2): HTTP/1.1 only. */
  http2?: boolean;
  /** Accept only these subprotocols (none given: accept any, choose the first offered). */
  subprotocols: string[];
  maxPayload: number;
  /** Most frames one message may come in (0: no limit). */
  maxFragments?: number;
  log: LogFormat;
  /** Serve the browser playground (GET /) and its relay on the same port (--no-playground: plain requests get 426). */
  playground?: boolean;
  /** Hosts the playground's relay may connect to besides loopback (--relay-allow; "*": any). */
  relayAllow?: string[];
  /** --exec CMD: run this program per connection, messages on its stdin/stdout (instead of the mode). */
  exec?: string;
  /** --max-processes: most --exec programs running at once; more connections get 503. */
  maxProcesses?: number;
  /** --heartbeat SECONDS: ping quiet connections, drop those that do not answer within as long again. */
  heartbeat?: number;
  /** --interactive (wscat -l): a prompt whose lines go to the connected clients, instead of the mode. */
  interactive?: boolean;
  /** --tcp-connect HOST:PORT: bridge each connection to its own TCP connection there (websockify), instead of the mode. */
  tcpConnect?: string;
  /** Where the built playground is (dist/playground); bin/switchboard.js says. */
  playgroundDir?: string;
  /** --metrics [ADDR]: Prometheus metrics at /metrics, on the serve port (true) or on [HOST:]PORT of their own (metrics-endpoint.ts). */
  metrics?: true | string;
}

/** Largest message by default: larger than the conformance suite's 16 MiB cases. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
/**
 * Most frames per message by default: the conformance suite's 9.3.1 and 9.4.1
 * send a 4 MiB message in 65,536 fragments, past the library's (and ws's)
 * default of 16,384, which would refuse them with 1008.
 */
export const DEFAULT_MAX_FRAGMENTS = 65_536;
/** How long shutdown waits for clients to answer the 1001 close frame before dropping them. */
const SHUTDOWN_TIMEOUT_MS = 2000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** --exec runs at most this many programs at once by default. */
export const DEFAULT_MAX_PROCESSES = 16;

/** Runs the server until SIGINT/SIGTERM (resolves 0) or a server error such as a port in use (resolves 1). */
export function serve(options: ServeOptions): Promise<number> {
  const tls = readTlsFiles(options);
  const run = (metrics: MetricsEndpoint | null): Promise<number> => (options.hub === true ? serveHub(options, tls, metrics) : serveModes(options, tls, metrics));
  if (options.metrics === undefined) return run(null);
  return openMetrics(options.metrics).then(
    (metrics) => {
      if (metrics.url !== null && options.log === 'human') process.stderr.write(`switchboard: metrics at ${metrics.url}\n`);
      return run(metrics).finally(() => metrics.close());
    },
    (error: unknown) => {
      process.stderr.write(`switchboard: ${(error as Error).message}\n`);
      return 1;
    },
  );
}

function serveModes(options: ServeOptions, tls: { cert: Buffer; key: Buffer } | null, metrics: MetricsEndpoint | null): Promise<number> {
  // With --interactive the console shows the events above its prompt: the log prints only the listening line.
  const log = new ServerLog(options.interactive ? 'quiet' : options.log, styleFor(process.stdout), options.mode === 'tutorial');
  log.worker = workerSlot;
  const wssOptions: WebSocketServerOptions = {
    maxPayload: options.maxPayload,
    maxFragments: options.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
    perMessageDeflate: options.deflate,
    ...(options.path !== undefined ? { path: options.path } : {}),
    ...(options.subprotocols.length > 0 ? subprotocolOptions(options.subprotocols, log) : {}),
    ...(options.heartbeat !== undefined ? { heartbeat: { interval: options.heartbeat * 1000, timeout: options.heartbeat * 1000 } } : {}),
  };
  if (options.interactive && options.exec !== undefined) throw new UsageError('--interactive and --exec cannot go together');
  let tcpTarget: { host: string; port: number } | null = null;
  if (options.tcpConnect !== undefined) {
    try {
      tcpTarget = parseHostPort(options.tcpConnect, '127.0.0.1');
    } catch (error) {
      throw new UsageError(`--tcp-connect: ${(error as Error).message}`);
    }
  }
  let execArgv: string[] | null = null;
  if (options.exec !== undefined) {
    try {
      execArgv = splitCommand(options.exec);
    } catch (error) {
      throw new UsageError(`--exec ${options.exec}: ${(error as Error).message}`);
    }
  }
  const maxProcesses = options.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  let processes = 0;
  // An HTTP(S) server of our own: plain GET requests get the playground page,
  // upgrades go to the WebSocket server (or, at RELAY_PATH, to the playground's relay).
  const relayAllow = options.relayAllow ?? [];
  const site =
    options.playground === false
      ? null
      : PlaygroundSite.load(options.playgroundDir, { defaultUrl: options.path ?? '/', relayAllow, server: `serve (${options.mode})`, stats: true });
  const relay =
    options.playground === false ? null : new PlaygroundRelay({ allow: relayAllow, ...(tls !== null ? { trust: tls.cert } : {}), maxPayload: options.maxPayload, log: relayLogger(options.log) });
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (metrics?.handle(req, res)) return;
    if (site?.handle(req, res)) return;
    // The page's live panel, beside the page (none without it).
    if (site !== null && answerStats(req, res, () => statsSnapshot(wss.stats()))) return;
    upgradeRequired(req, res);
  };
  const timeouts = { headersTimeout: HANDSHAKE_TIMEOUT_MS, requestTimeout: HANDSHAKE_TIMEOUT_MS + 1000, connectionsCheckingInterval: 1000 };
  const wss = new WebSocketServer({ ...wssOptions, noServer: true });
  metrics?.track(wss);
  const tooManyProcesses = (): string | null => {
    if (execArgv === null || processes < maxProcesses) return null;
    return `${maxProcesses} programs are running (--max-processes); try again later`;
  };
  const front = createFrontServer({
    tls,
    http2: options.http2 !== false,
    timeouts,
    onRequest,
    onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const busy = tooManyProcesses();
      if (relay !== null && isRelayRequest(req)) relay.handleUpgrade(req, socket, head, tls !== null);
      else if (busy !== null) {
        log.refused(remoteOf(req), 503, busy);
        refuseUpgrade(socket, 503, busy);
      } else wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    onStream: (stream, headers, req) => {
      const busy = tooManyProcesses();
      if (relay !== null && isRelayRequest(req)) relay.handleStream(stream, headers, req);
      else if (busy !== null) {
        log.refused(remoteOf(req as unknown as IncomingMessage), 503, busy);
        refuseStream(stream, 503, busy);
      } else wss.handleStream(stream, headers, (ws) => wss.emit('connection', ws, req), req);
    },
  });
  const handle = MODES[options.mode];
  let nextId = 0;
  let serverConsole: ServerConsole | null = null;
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const id = ++nextId;
    log.connect(id, { remote: remoteOf(req), path: req.url ?? '/', protocol: ws.protocol, extensions: ws.extensions, http2: req.httpVersionMajor === 2 });
    ws.on('error', (error: Error) => log.error(id, error));
    ws.on('close', (code: number, reason: Buffer) => log.close(id, code, reason));
    if (tcpTarget !== null) {
      bridgeToTcpServer(ws, tcpTarget);
      return;
    }
    if (serverConsole !== null) {
      serverConsole.attach(ws, id, remoteOf(req));
      return;
    }
    if (execArgv === null) {
      handle(ws, { id, log, wss });
      return;
    }
    processes++;
    let pending = 0;
    let waiters: Array<() => void> = [];
    const bridge = new ProgramBridge(execArgv, {
      send: (data) => {
        if (ws.readyState !== ws.OPEN) return;
        pending++;
        ws.send(data.toString('utf8'), () => {
          if (--pending > 0) return;
          const ready = waiters;
          waiters = [];
          for (const fn of ready) fn();
        });
      },
      backlog: () => pending,
      afterSent: (fn) => (pending === 0 ? setImmediate(fn) : waiters.push(fn)),
      close: (code, reason) => ws.close(code, reason),
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      log.message(id, data, isBinary);
      bridge.input(data);
    });
    ws.on('close', () => {
      processes--;
      bridge.stop();
    });
  });

  const running = runFrontServer(front, {
    port: options.port,
    host: options.host ?? DEFAULT_HOST,
    log,
    onListening: () => {
      if (!options.interactive) return;
      serverConsole = new ServerConsole(styleFor(process.stdout.isTTY ? process.stdout : process.stderr), () => running.stop('SIGINT'));
      // After the (batched) listening line, so that it is the first line printed.
      setImmediate(() => serverConsole?.start());
    },
    shutdown: (signal) => {
      log.shutdown(signal, wss.clients.size);
      serverConsole?.stop();
      return Promise.all([
        wss.shutdown({ code: 1001, reason: 'server shutting down', timeout: SHUTDOWN_TIMEOUT_MS }),
        relay?.shutdown(SHUTDOWN_TIMEOUT_MS),
      ]);
    },
  });
  return running.exitCode;
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
