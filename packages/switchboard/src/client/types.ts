// The public types of switchboard/client: what it needs of a WebSocket, its
// options and its events (the implementation is index.ts and its modules).
import type { HubError, Member, Sender } from '../wire/index.js';
import type { NodeUrlPolicy } from './node-urls.js';

/**
 * An event handler property the client only assigns. Its parameter is
 * checked bivariantly (method syntax), so a WebSocket whose handlers take a
 * richer event (the DOM's MessageEvent, Switchboard's MessageEvent) fits;
 * with a function-typed property strict mode refused Switchboard's Node WebSocket (TS2419).
 */
export type EventHandler<E> = { handle(event: E): void }['handle'] | null;

/** What the client needs of a WebSocket: the browser API (Switchboard's WebSocket has it too). */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: EventHandler<unknown>;
  onmessage: EventHandler<{ data: unknown }>;
  onclose: EventHandler<{ code: number; reason: string }>;
  onerror: EventHandler<unknown>;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Event map: event name → `(data) => reply` (the return type is what a request resolves with). */
export type EventsMap = { [event: string]: any };
export type DefaultEvents = { [event: string]: (data: any) => any };
export type Data<E extends EventsMap, K extends keyof E> = E[K] extends (data: infer D, ...rest: any[]) => any ? D : any;
export type Result<E extends EventsMap, K extends keyof E> = E[K] extends (...args: any[]) => infer R ? Awaited<R> : any;

/** What came with a message besides its data. */
export interface Meta {
  room?: string;
  /** The message's id in its room (absent for volatile and non-room messages). */
  mid?: number;
  from?: Sender;
}
export interface Reply<R = unknown> {
  (result: R): void;
  error(code: string, message?: string): void;
  readonly expected: boolean;
}

export interface ReconnectOptions {
  /** First delay, ms (default 500). */
  initialDelay?: number;
  /** Largest delay, ms (default 30,000). */
  maxDelay?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Share of the delay that is random, 0-1 (default 0.5): delay × (1 - jitter × random). */
  jitter?: number;
  /** Give up after this many attempts in a row (default: never). */
  maxAttempts?: number;
}

/**
 * Moving back up to WebSocket from a fallback transport (docs/transports.md): tries in the background,
 * the first `delay` ms after connecting over a fallback, then after each failed try `factor` times
 * longer up to `maxDelay`, each delay shortened by a random share of at most `jitter`.
 */
export interface UpgradeOptions {
  /** First try, ms after the fallback connected (default 30,000). */
  delay?: number;
  /** Longest wait between tries, ms (default 300,000). */
  maxDelay?: number;
  /** Growth per failed try (default 2). */
  factor?: number;
  /** Share of the delay that is random, 0-1 (default 0.5): delay × (1 - jitter × random). */
  jitter?: number;
}

/** How a client reaches the hub: a WebSocket, or HTTP fallbacks (docs/transports.md). */
export type Transport = 'websocket' | 'sse' | 'polling';

export interface ClientOptions {
  /** The WebSocket class (default globalThis.WebSocket). In Node: `import { WebSocket } from 'switchboard'`. */
  WebSocket?: WebSocketConstructor;
  /**
   * Transports tried in order until one opens (default ['websocket', 'sse', 'polling']); the one that
   * worked is kept for reconnections. The application code is the same whatever the transport.
   */
  transports?: readonly Transport[];
  /**
   * Milliseconds a transport has to open before the next one is tried (default 2,500): a proxy that
   * neither refuses a WebSocket upgrade nor completes it, or one that buffers an event stream.
   */
  transportTimeout?: number;
  /**
   * On a fallback transport, try WebSocket again in the background and move over when it works, without
   * losing or repeating a message (default: on, first after 30 s); `false` stays on the fallback.
   */
  upgrade?: UpgradeOptions | false;
  /**
   * Remember, per URL, the fallback transport that worked, and start there next time (default true):
   * for the page's lifetime, and in sessionStorage where there is one (at most 32 URLs).
   */
  rememberTransport?: boolean;
  /** The fetch function of the HTTP transports (default globalThis.fetch). */
  fetch?: typeof globalThis.fetch;
  /** Sent in `hello` for middleware; a function is called on every (re)connection. */
  auth?: unknown;
  /** Automatic reconnection; `false` turns it off. */
  reconnect?: ReconnectOptions | false;
  /** Default request timeout, ms (default 10,000). */
  requestTimeout?: number;
  /**
   * Messages held while disconnected, while moving to WebSocket, or while a fallback's uplink is full
   * (default 100); when full the oldest is dropped, and a request among them rejects with `outbox_full`.
   */
  outboxSize?: number;
  /**
   * Messages an HTTP fallback holds for its uplink, not yet POSTed (default 1,000): one POST is in flight
   * at a time, and one answered 503 is sent again after its Retry-After. Past it, messages wait in the outbox.
   */
  uplinkQueueSize?: number;
  /** Heartbeat, overriding what the server announces; `false` turns it off. Either way each value is kept within 100 ms and about 24 days. */
  heartbeat?: { interval: number; timeout: number } | false;
  /**
   * Rooms this client keeps state for (default 1,000, the hub's default
   * `maxRoomsPerConnection`): `join()` past it rejects with `too_many_rooms`, and
   * rooms the server puts it in past it are ignored.
   */
  maxRooms?: number;
  /** Members kept per room for `members()` and `presence` (default 10,000); past it new members are not listed. */
  maxMembersPerRoom?: number;
  /**
   * Which node URLs a hub announces in `welcome` (its `nodeUrls`) are added to the URLs this client
   * fails over between (default 'same-host': a host name of the URLs given here, the same scheme).
   */
  nodeUrls?: NodeUrlPolicy;
}

export type Status = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface LifecycleEvents {
  connect: (info: { id: string; user: string | null; reconnected: boolean }) => void;
  disconnect: (info: { code: number; reason: string; willReconnect: boolean }) => void;
  reconnecting: (info: { attempt: number; delay: number }) => void;
  error: (error: HubError) => void;
  gap: (info: { room: string; from: number; to: number; reset?: boolean }) => void;
  presence: (info: { room: string; join?: Member; leave?: Member; members: Member[] }) => void;
  joined: (info: { room: string; members: Member[] }) => void;
  left: (info: { room: string }) => void;
  /** The client moved to another transport without disconnecting (back up to WebSocket); `id` is its new connection id. */
  transport: (info: { transport: Transport; previous: Transport; id: string }) => void;
}
