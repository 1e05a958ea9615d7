// `switchboard serve --hub`: a standalone hub server (switchboard/hub on
// --path, default /hub), as Centrifugo is a standalone server: clients speak
// switchboard.v1 (switchboard/client), backends publish over HTTP with
// --api-key, and --redis shares rooms with other processes and machines
// through @switchboard/redis. The playground stays on GET /.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuseStream, refuseUpgrade, WebSocketServer, type WebSocket } from 'switchboard';
import { Hub, SUBPROTOCOL, type Adapter, type HubConnection, type HubOptions } from 'switchboard/hub';
import { styleFor } from './color.js';
import { authMiddleware, type HubAuth } from './hub-auth.js';
import { createFrontServer, runFrontServer } from './front-server.js';
import { DEFAULT_HOST } from './listen-address.js';
import { isRelayRequest, PlaygroundSite, relayLogger, upgradeRequired } from './playground.js';
import { PlaygroundRelay } from './playground-relay.js';
import { ServerLog } from './server-log.js';
import type { ServeOptions } from './serve.js';
import type { MetricsEndpoint } from './metrics-endpoint.js';
import { answerStats, statsSnapshot } from './playground-stats.js';
import { workerSlot } from './workers.js';

/** What `serve --hub` adds to serve's options. */
export interface HubServeOptions {
  /** --auth-token or --jwt-secret; none: anyone may connect (user id null). */
  auth?: HubAuth;
  /** --allow-origin: browsers' Origin must be one of these ("*": any); none: any. */
  allowOrigins?: string[];
  /** --history: messages kept per room (0: none). */
  historySize?: number;
  /** --history-age: seconds a message stays in history. */
  historyAge?: number;
  /** --rate: messages per second per connection, sustained (0: no limit). */
  rate?: number;
  /** --burst: messages a connection may send in a burst. */
  burst?: number;
  /** --api-key: enables POST /api/publish with this key. */
  apiKey?: string;
  /** --redis URL: share rooms through @switchboard/redis. */
  redis?: string;
  /** --advertise-url: the nodes' URLs sent to clients in `welcome` (HubOptions.nodeUrls). */
  nodeUrls?: string[];
  /** Largest client message (--max-payload given explicitly; default: the hub's 1 MiB). */
  maxMessageSize?: number;
}

export const DEFAULT_HUB_PATH = '/hub';
const SHUTDOWN_TIMEOUT_MS = 2000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const REDIS_PACKAGE = '@switchboard/redis';

/** A usable hub server setup error (not a usage error): exit code 1 with this message. */
export class HubSetupError extends Error {
  override readonly name = 'HubSetupError';
}

/** The adapter for --redis: @switchboard/redis, imported only when asked for, so that the command works without it. */
export async function redisAdapter(url: string, history: { maxMessages?: number; maxAge?: number }): Promise<Adapter> {
  // A variable specifier: the package is optional, and neither TypeScript nor a bundler should require it.
  const specifier: string = REDIS_PACKAGE;
  let module: { RedisAdapter?: new (options: { url: string; history?: object }) => Adapter };
  try {
    module = (await import(specifier)) as typeof module;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new HubSetupError(`--redis needs the Redis adapter, which is not installed: npm install ${REDIS_PACKAGE}`);
    }
    throw error;
  }
  if (typeof module.RedisAdapter !== 'function') throw new HubSetupError(`${REDIS_PACKAGE} has no RedisAdapter export: is it a matching version?`);
  return new module.RedisAdapter({ url, history });
}

/** Runs the hub server until SIGINT/SIGTERM (resolves 0) or a server or setup error (resolves 1). */
export async function serveHub(options: ServeOptions & HubServeOptions, tls: { cert: Buffer; key: Buffer } | null, metrics: MetricsEndpoint | null = null): Promise<number> {
  const log = new ServerLog(options.log, styleFor(process.stdout));
  if (workerSlot !== null) log.worker = workerSlot;
  const path = options.path ?? DEFAULT_HUB_PATH;
  const history = {
    maxMessages: options.historySize ?? 1000,
    maxAge: (options.historyAge ?? 600) * 1000,
  };
  let adapter: Adapter | undefined;
  try {
    adapter = options.redis === undefined ? undefined : await redisAdapter(options.redis, history);
  } catch (error) {
    process.stderr.write(`switchboard: ${(error as Error).message}\n`);
    return 1;
  }
  const maxMessageSize = options.maxMessageSize ?? 1024 * 1024;
  // A WebSocketServer of our own, so that the Origin check and the playground's relay come before the hub.
  const wss = new WebSocketServer({
    noServer: true,
    path,
    handleProtocols: (offered: Set<string>) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    maxPayload: maxMessageSize + 1024,
    perMessageDeflate: options.deflate,
  });
  const hubOptions: HubOptions = {
    server: wss,
    path,
    history,
    ...(adapter !== undefined ? { adapter } : {}),
    maxMessageSize,
    rateLimit: options.rate === 0 ? false : { rate: options.rate ?? 50, burst: options.burst ?? 100 },
    ...(options.heartbeat !== undefined && options.heartbeat > 0 ? { heartbeat: { interval: options.heartbeat * 1000, timeout: options.heartbeat * 1000 } } : {}),
    ...(options.apiKey !== undefined ? { publishApi: { key: options.apiKey } } : {}),
    ...(options.nodeUrls !== undefined ? { nodeUrls: options.nodeUrls } : {}),
  };
  let hub: Hub;
  try {
    hub = new Hub(hubOptions);
  } catch (error) {
    process.stderr.write(`switchboard: ${(error as Error).message}\n`);
    await adapter?.close();
    return 1;
  }
  hub.on('error', (error: unknown) => process.stderr.write(`switchboard: hub: ${error instanceof Error ? error.message : String(error)}\n`));
  if (options.auth !== undefined) {
    const check = authMiddleware(options.auth);
    hub.use((client, next) =>
      check(client, (error) => {
        if (error !== undefined) log.refused(client.handshake.address ?? 'unknown', 4401, error.message);
        next(error);
      }),
    );
  }

  const numbers = new WeakMap<HubConnection<any, any>, number>();
  /** The WebSockets that came as HTTP/2 streams, for the log. */
  const streamed = new WeakSet<WebSocket>();
  let nextId = 0;
  hub.on('connection', (client: HubConnection<any, any>) => {
    const id = ++nextId;
    numbers.set(client, id);
    log.connect(id, { remote: client.handshake.address ?? 'unknown', path: client.handshake.url, protocol: SUBPROTOCOL, extensions: client.ws.extensions, http2: streamed.has(client.ws) });
  });
  hub.on('disconnect', (client: HubConnection<any, any>, code: number, reason: string) => {
    const id = numbers.get(client);
    if (id !== undefined) log.close(id, code, Buffer.from(reason));
  });

  const relayAllow = options.relayAllow ?? [];
  const site = options.playground === false ? null : PlaygroundSite.load(options.playgroundDir, { defaultUrl: path, relayAllow, server: 'serve (hub)', stats: true });
  const relay = options.playground === false ? null : new PlaygroundRelay({ allow: relayAllow, ...(tls !== null ? { trust: tls.cert } : {}), maxPayload: maxMessageSize, log: relayLogger(options.log) });
  // The hub's own stats cover its connections (tracking the WebSocketServer too would count their bytes twice).
  metrics?.track(hub);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (metrics?.handle(req, res)) return;
    if (hub.handleRequest(req, res)) return;
    if (site?.handle(req, res)) return;
    // The page's live panel, beside the page (none without it).
    if (site !== null && answerStats(req, res, () => statsSnapshot(wss.stats(), hub.stats()))) return;
    upgradeRequired(req, res);
  };
  const timeouts = { headersTimeout: HANDSHAKE_TIMEOUT_MS, requestTimeout: HANDSHAKE_TIMEOUT_MS + 20_000, connectionsCheckingInterval: 1000 };
  const origins = options.allowOrigins ?? [];
  /** Why a browser's Origin is refused (403), or null. */
  const originProblem = (req: IncomingMessage): string | null => {
    const origin = req.headers.origin;
    // Only browsers send Origin, and it is what they cannot forge: a page elsewhere must not use its visitors' cookies here.
    if (origin === undefined || origins.length === 0 || origins.includes('*') || origins.includes(origin.toLowerCase())) return null;
    log.refused(remoteOf(req), 403, `origin ${origin} is not allowed (--allow-origin)`);
    return 'Origin not allowed';
  };
  const noEndpoint = `No WebSocket endpoint at this path (the hub is at ${path})`;
  const front = createFrontServer({
    tls,
    http2: options.http2 !== false,
    timeouts,
    onRequest,
    onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (relay !== null && isRelayRequest(req)) {
        relay.handleUpgrade(req, socket, head, tls !== null);
        return;
      }
      const refused = originProblem(req);
      if (refused !== null) refuseUpgrade(socket, 403, refused);
      else if (!wss.shouldHandle(req)) refuseUpgrade(socket, 400, noEndpoint);
      else wss.handleUpgrade(req, socket, head, (ws: WebSocket) => wss.emit('connection', ws, req));
    },
    onStream: (stream, headers, req) => {
      const request = req as unknown as IncomingMessage;
      if (relay !== null && isRelayRequest(req)) {
        relay.handleStream(stream, headers, req);
        return;
      }
      const refused = originProblem(request);
      if (refused !== null) refuseStream(stream, 403, refused);
      else if (!wss.shouldHandle(request)) refuseStream(stream, 400, noEndpoint);
      else
        wss.handleStream(stream, headers, (ws: WebSocket) => {
          streamed.add(ws);
          wss.emit('connection', ws, request);
        }, req);
    },
  });
  return runFrontServer(front, {
    port: options.port,
    host: options.host ?? DEFAULT_HOST,
    log,
    onListenError: () => hub.close(),
    shutdown: (signal) => {
      log.shutdown(signal, hub.clients.size);
      return Promise.all([hub.close(), relay?.shutdown(SHUTDOWN_TIMEOUT_MS)]);
    },
  }).exitCode;
}

function remoteOf(req: IncomingMessage): string {
  const address = req.socket.remoteAddress?.replace(/^::ffff:(?=\d+\.)/, '') ?? 'unknown';
  return `${address.includes(':') ? `[${address}]` : address}:${req.socket.remotePort ?? 0}`;
}
