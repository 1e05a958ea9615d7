// Moving back up to WebSocket (docs/transports.md). A client that connected
// over a fallback tries a WebSocket again in the background, on a backed-off,
// jittered schedule (UpgradeSchedule). A try (UpgradeProbe) opens a WebSocket,
// says hello and waits for the welcome, holding what arrives after it; the
// fallback session goes on meanwhile. HubClient then moves over: it resumes
// its rooms on the new connection from their last ids (section 5 of
// docs/protocol.md), as after a reconnection, and the old transport stays
// open only for the answers to the requests sent on it (DrainingTransport).
import { HubError, WireError, encodeMessage, parseServerMessage, type Requests, type ServerMessage } from '../wire/index.js';
import type { UpgradeOptions, WebSocketConstructor, WebSocketLike } from './types.js';

/** Messages a probe holds between its welcome and the move (the move follows within one uplink round trip). */
const MAX_HELD = 10_000;

type Welcome = Extract<ServerMessage, { t: 'welcome' }>;

/** When to try WebSocket again: `delay`, then × `factor` per failed try up to `maxDelay`, less a random share (`jitter`). */
export class UpgradeSchedule {
  private readonly delay: number;
  private readonly maxDelay: number;
  private readonly factor: number;
  private readonly jitter: number;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: UpgradeOptions) {
    this.delay = options.delay ?? 30_000;
    this.maxDelay = options.maxDelay ?? 300_000;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.5;
  }

  get armed(): boolean {
    return this.timer !== null;
  }

  /** Calls `attempt` after the next delay (a timer already set stays). */
  arm(attempt: () => void): void {
    if (this.timer !== null) return;
    const base = Math.min(this.maxDelay, this.delay * Math.pow(this.factor, this.failures));
    const wait = Math.round(base * (1 - this.jitter * Math.random()));
    this.timer = setTimeout(() => {
      this.timer = null;
      attempt();
    }, wait);
  }

  /** A try failed: the next waits longer. */
  failed(): void {
    this.failures++;
  }

  /** A move worked: a later fallback starts the schedule afresh. */
  reset(): void {
    this.failures = 0;
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** One try: a WebSocket that must open within `openTimeout` ms and be welcomed within `welcomeTimeout` ms. */
export class UpgradeProbe {
  /** Messages after the welcome, for HubClient to handle once it has moved. */
  readonly held: ServerMessage[] = [];
  welcome: Welcome | null = null;
  readonly ws: WebSocketLike;
  private timer: ReturnType<typeof setTimeout> | null;
  private done = false;

  constructor(
    Ctor: WebSocketConstructor,
    url: string,
    subprotocol: string,
    hello: (ws: WebSocketLike) => void,
    openTimeout: number,
    welcomeTimeout: number,
    private readonly onWelcome: (probe: UpgradeProbe) => void,
    private readonly onFail: (reason: string) => void,
  ) {
    this.ws = new Ctor(url, subprotocol);
    const ws = this.ws;
    this.timer = setTimeout(() => this.fail('websocket did not open in time'), openTimeout);
    ws.onopen = () => {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.fail('no welcome in time'), welcomeTimeout);
      hello(ws);
    };
    ws.onmessage = (event) => {
      let m: ServerMessage;
      try {
        m = parseServerMessage(typeof event.data === 'string' ? event.data : String(event.data));
      } catch (error) {
        if (error instanceof WireError && error.code !== 'bad_message') return;
        return this.fail('a malformed message');
      }
      if (this.welcome === null) {
        if (m.t !== 'welcome') return; // nothing else comes before it (docs/protocol.md, section 1)
        if (this.timer !== null) clearTimeout(this.timer);
        this.timer = null;
        this.welcome = m;
        this.onWelcome(this);
      } else if (this.held.length < MAX_HELD) this.held.push(m);
      else this.fail('too many messages before the move');
    };
    ws.onclose = (event) => this.fail(`closed (${event.code} ${event.reason})`);
    ws.onerror = () => {};
  }

  /** The WebSocket, its handlers removed, for HubClient to drive. */
  take(): WebSocketLike {
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    detachHandlers(this.ws);
    return this.ws;
  }

  /** Gives up on this try (HubClient closing, or its fallback dropped). */
  abandon(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    detachHandlers(this.ws);
    try {
      this.ws.close(1000, 'moving up abandoned');
    } catch {}
  }

  private fail(reason: string): void {
    if (this.done) return;
    this.abandon();
    this.onFail(reason);
  }
}

/** How often a draining transport looks whether its requests were settled otherwise (timed out). */
const DRAIN_CHECK_MS = 1000;

/**
 * The transport a client moved away from, kept open only until the requests sent on it are answered
 * (the hub answers on the connection that asked) or time out; everything else it receives is ignored:
 * room messages come again on the new connection, after the ids the resume named.
 */
export class DrainingTransport {
  private readonly check: ReturnType<typeof setInterval>;
  private over = false;

  constructor(
    private readonly ws: WebSocketLike,
    private readonly waiting: Set<number>,
    private readonly requests: Requests,
    private readonly onSettled: () => void,
  ) {
    ws.onopen = null;
    ws.onerror = () => {};
    ws.onmessage = (event) => {
      let m: ServerMessage;
      try {
        m = parseServerMessage(typeof event.data === 'string' ? event.data : String(event.data));
      } catch {
        return;
      }
      if ((m.t === 'ack' || m.t === 'error') && m.id !== undefined && this.waiting.has(m.id)) {
        this.requests.answer(m);
        this.settled();
      } else if (m.t === 'req') {
        // Asked of the connection being left: say so rather than let the server wait for its timeout.
        ws.send(encodeMessage({ t: 'error', id: m.id, code: 'disconnected', message: 'This connection moved to another transport' }));
      }
    };
    ws.onclose = () => this.finish('disconnected');
    this.check = setInterval(() => this.settled(), DRAIN_CHECK_MS);
    this.settled();
  }

  /** Closes the transport (the client closing): what still waits on it fails with `code`. */
  finish(code: 'disconnected' | 'closed'): void {
    if (this.over) return;
    this.over = true;
    clearInterval(this.check);
    detachHandlers(this.ws);
    for (const id of this.waiting) this.requests.settle(id, new HubError(code, 'The connection closed before the reply'));
    this.waiting.clear();
    try {
      this.ws.close(1000, '');
    } catch {}
    this.onSettled();
  }

  private settled(): void {
    for (const id of this.waiting) if (!this.requests.has(id)) this.waiting.delete(id);
    if (this.waiting.size === 0) this.finish('disconnected');
  }
}

export function detachHandlers(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.onerror = () => {};
}
