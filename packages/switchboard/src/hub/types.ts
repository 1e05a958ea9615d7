// The hub's public types: typed event maps, reply functions, options with
// their defaults, middleware and the handshake a connection remembers.
import type { AnyHttp2Server } from '../node/http2-server.js';
import type { IncomingHttpHeaders, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { WebSocketServer } from '../node/server.js';
import { DEFAULT_HEARTBEAT, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_REQUEST_TIMEOUT, MAX_NODE_URLS, isNodeUrl, type ParseOptions } from '../wire/index.js';
import { codedError } from '../protocol/switchboard-error.js';
import type { Adapter, HistoryLimits } from './adapter.js';
import type { PublishApiOptions } from './publish-api.js';
import type { HttpFallbackOptions } from './http-fallback.js';
import type { HubConnection } from './connection.js';
import { resolveLimits, type HubLimits } from './limits.js';
import { TokenBucket } from './rate-limit.js';

/**
 * An event map: event name → `(data) => reply`. The parameter is what the
 * event carries; the return type is what a request for it resolves with
 * (`void` for plain events). As in socket.io's typed events.
 */
export type EventsMap = { [event: string]: any };
export type DefaultEvents = { [event: string]: (data: any) => any };
export type EventNames<E extends EventsMap> = keyof E & string;
export type EventData<E extends EventsMap, K extends keyof E> = E[K] extends (data: infer D, ...rest: any[]) => any ? D : any;
export type EventResult<E extends EventsMap, K extends keyof E> = E[K] extends (...args: any[]) => infer R ? Awaited<R> : any;


/** A reply function: call it once with the result. `reply.error(code, message)` answers with an error instead. */
export interface Reply<R = unknown> {
  (result: R): void;
  error(code: string, message?: string): void;
  /** Whether this event was a request (a reply is expected). */
  readonly expected: boolean;
}


export interface RateLimitOptions {
  /** Messages per second, sustained (default 50). */
  rate?: number;
  /** Messages accepted in a burst (default 100). */
  burst?: number;
  /**
   * What happens to a message over the limit: 'error' (default) drops it and
   * answers `error` with code `rate_limited`; 'disconnect' closes the
   * connection with 4429.
   */
  onLimit?: 'error' | 'disconnect';
}

/** The per-connection limits (maxRoomsPerConnection, maxEarlyMessages, maxEarlyBytes, maxJsonDepth, presenceListLimit) are documented in limits.ts. */
export interface HubOptions extends Partial<HubLimits> {
  /** A WebSocketServer to take connections from, or an http(s) server to attach to on `path`. */
  server?: WebSocketServer | HttpServer | HttpsServer | AnyHttp2Server;
  /** Listen on this port with a server of the hub's own (instead of `server`). */
  port?: number;
  host?: string;
  /** Only upgrade requests for this path (default: any path with a WebSocketServer, '/hub' with an http server or `port`). */
  path?: string;
  /** Where ids, history and presence live (default: an InProcessAdapter with `history`). */
  adapter?: Adapter;
  /** Limits of the default adapter's per-room history. */
  history?: HistoryLimits;
  /** Milliseconds a connection has to send `hello` (default 10,000). */
  helloTimeout?: number;
  /**
   * Heartbeat told to clients: they send `ping` every `interval` ms and
   * count the connection dead when no `pong` comes within `timeout`. The
   * server closes (4408) connections silent for `interval + timeout`.
   * Default { interval: 25,000, timeout: 10,000 }.
   */
  heartbeat?: { interval: number; timeout: number };
  /** Default timeout of `client.request` (default 10,000 ms). */
  requestTimeout?: number;
  /**
   * URLs of this hub's nodes (ws: or wss:, at most 16), sent in every `welcome` (docs/protocol.md,
   * section 1): switchboard/client adds those its `nodeUrls` option accepts to the URLs it fails
   * over between. For hubs that share an adapter (e.g. Redis), so that any node can resume a client.
   * Default: none.
   */
  nodeUrls?: readonly string[];
  /** Per-connection token bucket; `false` turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Above this many bytes waiting to be sent, a connection's volatile messages are dropped (default 1 MiB). */
  maxBufferedAmount?: number;
  /** Above this many bytes waiting to be sent, a connection is closed with 1013 (default 8 MiB). */
  disconnectBufferedAmount?: number;
  /** Largest message accepted from a client, in bytes (default 1 MiB): larger ones get `too_large`. */
  maxMessageSize?: number;
  /**
   * Presence pushes for a room (join/leave notices to members, the member
   * list in join answers). Default: on. Each join or leave costs one message
   * per member, so a join wave into a room of n members costs n² messages:
   * turn it off for large broadcast rooms (`hub.presence(room)` still works).
   */
  presence?: boolean | ((room: string) => boolean);
  /** May this client join this room? Default: yes. */
  canJoin?: (client: HubConnection<any, any>, room: string) => boolean | Promise<boolean>;
  /** May this client publish to this room (it is a member)? Default: yes. */
  canPublish?: (client: HubConnection<any, any>, room: string, event: string) => boolean | Promise<boolean>;
  /**
   * An HTTP endpoint for backends to publish with an API key (`POST /api/publish`, docs/hub.md).
   * With `port` the hub's own server answers it; with `server`, call `hub.handleRequest(req, res)`
   * from the server's request handler. Default: none.
   */
  publishApi?: PublishApiOptions;
  /**
   * HTTP fallback transports for clients whose network blocks WebSockets (Server-Sent Events, then
   * long-polling; docs/transports.md), at `{path}/open`, `/sse`, `/poll`, `/send`. Default: on, same-origin
   * only. With `port` the hub's own server answers them; with `server`, call `hub.handleRequest(req, res)`
   * from the server's request handler. `false` turns them off.
   */
  fallback?: HttpFallbackOptions | false;
  /** May this client send a direct message to that user or connection? Default: yes. */
  canDirect?: (client: HubConnection<any, any>, to: { user: string } | { client: string }, event: string) => boolean | Promise<boolean>;
}

export type Middleware<In extends EventsMap = DefaultEvents, Out extends EventsMap = DefaultEvents> = (
  client: HubConnection<In, Out>,
  next: (error?: Error) => void,
) => void | Promise<void>;

/** What the handshake request and `hello` told about a connection. */
export interface Handshake {
  url: string;
  headers: IncomingHttpHeaders;
  query: URLSearchParams;
  address: string | undefined;
  /** `auth` from the client's `hello` message (undefined until it arrives). */
  auth: unknown;
}

export type ResolvedOptions = Omit<HubOptions, 'rateLimit' | keyof HubLimits> & HubLimits & {
  rateLimit: RateLimitOptions | false;
  helloTimeout: number;
  heartbeat: { interval: number; timeout: number };
  requestTimeout: number;
  maxBufferedAmount: number;
  disconnectBufferedAmount: number;
  maxMessageSize: number;
};

/** The options with their defaults; throws a RangeError for a limit that is not a positive integer. */
export function resolveOptions(options: HubOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    ...options,
    rateLimit: options.rateLimit === undefined ? {} : options.rateLimit,
    helloTimeout: options.helloTimeout ?? 10_000,
    heartbeat: options.heartbeat ?? { ...DEFAULT_HEARTBEAT },
    requestTimeout: options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT,
    maxBufferedAmount: options.maxBufferedAmount ?? 1024 * 1024,
    disconnectBufferedAmount: options.disconnectBufferedAmount ?? 8 * 1024 * 1024,
    maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    ...resolveLimits(options),
  };
  if (resolved.rateLimit !== false) new TokenBucket(resolved.rateLimit.rate ?? 50, resolved.rateLimit.burst ?? 100); // validates
  if (options.nodeUrls !== undefined) checkNodeUrls(options.nodeUrls);
  return resolved;
}

/** What parseClientMessage enforces for these options. */
export function parseOptionsOf(options: ResolvedOptions): ParseOptions {
  return { maxJsonDepth: options.maxJsonDepth, maxResumeRooms: options.maxRoomsPerConnection };
}

/** Throws unless `urls` is what a client would take from `welcome.nodes`: a list of at most 16 ws:/wss: URLs. */
function checkNodeUrls(urls: readonly string[]): void {
  if (!Array.isArray(urls) || urls.length > MAX_NODE_URLS || !urls.every(isNodeUrl)) {
    throw codedError(new TypeError(`nodeUrls must be a list of at most ${MAX_NODE_URLS} ws: or wss: URLs (got ${JSON.stringify(urls)})`), 'WS_ERR_INVALID_OPTION');
  }
}
