// Attaching a hub to where connections come from: a WebSocketServer (its
// 'connection' event), an http(s) server shared with others (upgrade
// requests for the hub's path), or a port of its own. Path matching and
// handshake refusals are WebSocketServer's; what is added here is sharing
// one http server: every hub on it registers its WebSocketServer with one
// upgrade router, which answers a request that no hub and no other upgrade
// listener takes with 400 exactly once.
import type { Buffer } from 'node:buffer';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { refuseUpgrade } from '../node/refuse.js';
import { isHttp2Server, onWebSocketStreams, refuseStream, type AnyHttp2Server } from '../node/http2-server.js';
import { WebSocketServer } from '../node/server.js';
import { handshakeChannel, publishHandshake } from '../node/diagnostics.js';
import type { WebSocket } from '../node/websocket.js';
import { SUBPROTOCOL } from '../wire/index.js';
import type { ResolvedOptions } from './types.js';

export interface Attachment {
  /** The WebSocketServer connections come from (null with none: `handleConnection` only). */
  wss: WebSocketServer | null;
  /** Stops taking connections. */
  stop(): void;
  /** Closes the WebSocketServer when the hub made it (after its connections are gone). */
  close(): Promise<void>;
}

type Connect = (ws: WebSocket, req: IncomingMessage) => void;
type AnyHttpServer = HttpServer | HttpsServer | AnyHttp2Server;

/** The WebSocketServers attached to one http server, in attach order. */
const routers = new WeakMap<AnyHttpServer, Set<{ wss: WebSocketServer; connect: Connect }>>();

function route(server: AnyHttpServer, wss: WebSocketServer, connect: Connect): () => void {
  let routes = routers.get(server);
  if (routes === undefined) {
    const set = new Set<{ wss: WebSocketServer; connect: Connect }>();
    routes = set;
    routers.set(server, set);
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      for (const r of set) {
        if (r.wss.shouldHandle(req)) {
          r.wss.handleUpgrade(req, socket, head, (ws) => r.connect(ws, req));
          return;
        }
      }
      // Nobody here takes this path: answered unless another upgrade listener may (it then owns the answer).
      if (server.listenerCount('upgrade') === 1) {
        if (handshakeChannel.hasSubscribers) publishHandshake(req, false, 400, 'WS_ERR_INVALID_PATH');
        refuseUpgrade(socket, 400, 'No WebSocket endpoint at this path');
      }
    };
    server.on('upgrade', onUpgrade);
    // An http2 server (RFC 8441): WebSocket streams are routed by path the same way.
    const detachStreams = isHttp2Server(server)
      ? onWebSocketStreams(server, (stream, headers, req) => {
          const request = req as unknown as IncomingMessage;
          for (const r of set) {
            if (r.wss.shouldHandle(request)) {
              r.wss.handleStream(stream, headers, (ws) => r.connect(ws, request), req);
              return;
            }
          }
          if (handshakeChannel.hasSubscribers) publishHandshake(request, false, 400, 'WS_ERR_INVALID_PATH');
          refuseStream(stream, 400, 'No WebSocket endpoint at this path');
        })
      : null;
    (set as unknown as { detach: () => void }).detach = () => {
      server.removeListener('upgrade', onUpgrade);
      detachStreams?.();
    };
  }
  const entry = { wss, connect };
  routes.add(entry);
  const owned = routes;
  return () => {
    owned.delete(entry);
    if (owned.size === 0) {
      (owned as unknown as { detach: () => void }).detach();
      routers.delete(server);
    }
  };
}

/**
 * `onRequest`, when given, answers plain HTTP requests on a server the hub makes itself (`port`):
 * it is then an http server rather than the upgrade-only one. Requests it does not take get 426.
 */
export function attach(
  options: ResolvedOptions,
  connect: Connect,
  onListening: () => void,
  onError: (error: unknown) => void,
  onRequest?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Attachment {
  const server = options.server;
  if (server instanceof WebSocketServer) {
    const path = options.path;
    const onConnection = (ws: WebSocket, req: IncomingMessage): void => {
      if (path === undefined || pathOf(req.url) === path) connect(ws, req);
    };
    server.on('connection', onConnection);
    return { wss: server, stop: () => server.removeListener('connection', onConnection), close: async () => {} };
  }
  const path = options.path ?? '/hub';
  const common = {
    path,
    handleProtocols: (protocols: Set<string>): string | false => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    maxPayload: options.maxMessageSize + 1024,
    // The library's own write-buffer cut is a backstop behind the hub's slow-consumer policy,
    // which closes with 1013 and a close frame first: it must never act before it.
    disconnectBufferedAmount: 2 * options.disconnectBufferedAmount,
  };
  let wss: WebSocketServer;
  let unroute = (): void => {};
  if (server !== undefined) {
    wss = new WebSocketServer({ noServer: true, ...common });
    unroute = route(server, wss, connect);
  } else if (options.port !== undefined && onRequest !== undefined) {
    const http = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
      if (!onRequest(req, res)) refuseRequest(res);
    });
    const own = new WebSocketServer({ server: http, ...common });
    own.on('connection', connect);
    http.on('listening', onListening);
    http.on('error', onError);
    http.listen(options.port, options.host);
    return {
      wss: own,
      stop: () => own.removeAllListeners('connection'),
      close: async () => {
        await new Promise<void>((resolve) => own.close(() => resolve()));
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      },
    };
  } else if (options.port !== undefined) {
    wss = new WebSocketServer({ port: options.port, host: options.host, ...common });
    wss.on('connection', connect);
    wss.on('listening', onListening);
    wss.on('error', onError);
  } else return { wss: null, stop: () => {}, close: async () => {} };
  return {
    wss,
    stop: unroute,
    close: () => new Promise<void>((resolve) => wss.close(() => resolve())),
  };
}

/** What a WebSocket endpoint answers a plain HTTP request with (RFC 6455 section 4.2.2). */
function refuseRequest(res: ServerResponse): void {
  const body = 'Upgrade Required';
  res.writeHead(426, { 'Content-Type': 'text/plain', 'Content-Length': body.length, Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' });
  res.end(body);
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}
