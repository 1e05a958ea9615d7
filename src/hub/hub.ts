// The messaging hub: rooms, presence, acks, resume, middleware and rate
// limits over switchboard.v1 (docs/protocol.md). Built on the public
// WebSocket/WebSocketServer API plus WebSocket#sendFrame, which lets a room
// broadcast be serialised and framed once and the same bytes be written to
// every member.
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { Opcode, encodeFrame } from '../protocol/index.js';
import { WebSocketServer } from '../node/server.js';
import { WebSocket } from '../node/websocket.js';
import { refuseUpgrade } from '../node/refuse.js';
import { InProcessAdapter, type Adapter, type AdapterSink, type HistoryLimits, type HistoryResult, type PresenceMember, type RoomMessage, type Sender } from './adapter.js';
import { EarlyBuffer, resolveLimits, type HubLimits } from './limits.js';
import { TokenBucket } from './rate-limit.js';
import { HubCloseCode, SUBPROTOCOL, WireError, encodeData, encodeMessage, encodeRoomMessage, errorMessage, parseClientMessage, type ClientMessage, type ParseLimits, type ServerMessage } from './wire.js';
import { HubError, RESERVED_EVENTS, checkEventName } from '../wire/index.js';

export { HubError, RESERVED_EVENTS };

// ---- typed events -------------------------------------------------------------

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


// ---- options ---------------------------------------------------------------------

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
  server?: WebSocketServer | HttpServer | HttpsServer;
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

interface Membership {
  /** Live messages held while the join replays history (null once live). */
  buffer: Array<{ frame: Buffer; mid: number; volatile: boolean }> | null;
}

const STATE_HELLO = 0;
const STATE_AUTH = 1;
const STATE_OPEN = 2;
const STATE_CLOSED = 3;

/** Live messages held for one member while its join replays history; beyond it the member is disconnected (1013). */
const MAX_JOIN_BUFFER = 10_000;

type Handler = (data: unknown, reply: Reply) => unknown;

function newId(): string {
  return randomBytes(9).toString('base64url');
}

const noop = (): void => {};

/** Frames a server message once (unmasked text frame). */
function frameOf(message: ServerMessage): Buffer {
  return encodeFrame(Buffer.from(encodeMessage(message)), { opcode: Opcode.Text });
}

// ---- a connection ------------------------------------------------------------

/**
 * One client connection, server side. `In` are the events the client sends,
 * `Out` those the server sends.
 */
export class HubConnection<In extends EventsMap = DefaultEvents, Out extends EventsMap = DefaultEvents> {
  readonly id = newId();
  /** Set by middleware; `hub.toUser(id)` reaches every connection with it. */
  userId: string | null = null;
  /** Application state. */
  data: Record<string, unknown> = {};
  /** JSON shown with this member in presence (set before joining). */
  presenceMeta: unknown = undefined;
  readonly handshake: Handshake;
  /** @internal */ _state = STATE_HELLO;
  /** @internal */ _lastSeen = Date.now();
  /** @internal */ readonly _memberships = new Map<string, Membership>();
  private readonly handlers = new Map<string, Handler[]>();
  private readonly disconnectHandlers: Array<(code: number, reason: string) => void> = [];
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private nextRequestId = 1;
  private readonly bucket: TokenBucket | null;
  /** When the last ping that cost no token arrived (Date.now()). */
  private lastFreePing = -Infinity;
  private readonly early: EarlyBuffer;
  /** Client messages that change state (join, pub, ...) run one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  private slowTimer: ReturnType<typeof setTimeout> | null = null;
  /** Closed by the hub for a rate-limit violation: what still arrives is ignored. */
  private closing = false;
  /** Volatile messages dropped because the connection was slow. */
  droppedVolatile = 0;

  constructor(
    private readonly hub: Hub<any, any>,
    readonly ws: WebSocket,
    req: IncomingMessage | undefined,
  ) {
    const url = req?.url ?? '/';
    const q = url.indexOf('?');
    this.handshake = {
      url,
      headers: req?.headers ?? {},
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      address: req?.socket?.remoteAddress,
      auth: undefined,
    };
    const limit = hub.options.rateLimit;
    this.bucket = limit === false ? null : new TokenBucket(limit.rate ?? 50, limit.burst ?? 100);
    this.early = new EarlyBuffer(hub.options);
  }

  /** Rooms this connection is in. */
  get rooms(): ReadonlySet<string> {
    return new Set(this._memberships.keys());
  }

  get connected(): boolean {
    return this._state === STATE_OPEN;
  }

  /** Adds a handler for an event the client emits or requests. */
  on<K extends EventNames<In>>(event: K, handler: (data: EventData<In, K>, reply: Reply<EventResult<In, K>>) => unknown): this;
  on(event: 'disconnect', handler: (code: number, reason: string) => void): this;
  on(event: string, handler: (...args: any[]) => unknown): this {
    if (event === 'disconnect') this.disconnectHandlers.push(handler as (code: number, reason: string) => void);
    else {
      const list = this.handlers.get(event);
      if (list) list.push(handler as Handler);
      else this.handlers.set(event, [handler as Handler]);
    }
    return this;
  }

  off(event: string, handler: (...args: any[]) => unknown): this {
    const list = event === 'disconnect' ? this.disconnectHandlers : this.handlers.get(event);
    const i = list ? (list as unknown[]).indexOf(handler) : -1;
    if (i !== -1) list!.splice(i, 1);
    return this;
  }

  /** Sends an event to this connection. */
  emit<K extends EventNames<Out>>(event: K, data: EventData<Out, K>): void {
    checkEventName(event);
    this.send({ t: 'emit', ev: event, data });
  }

  /** Sends a request; resolves with the client's reply, rejects with a HubError (code `timeout`, or the client's). */
  request<K extends EventNames<Out>>(event: K, data: EventData<Out, K>, options: { timeout?: number } = {}): Promise<EventResult<Out, K>> {
    checkEventName(event);
    if (this._state !== STATE_OPEN) return Promise.reject(new HubError('disconnected', 'The connection is not open'));
    const id = this.nextRequestId++;
    const timeout = options.timeout ?? this.hub.options.requestTimeout;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HubError('timeout', `No reply to request "${event}" within ${timeout} ms`));
      }, timeout);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ t: 'req', id, ev: event, data });
    });
  }

  /** Joins a room (the client is told with `joined`). */
  join(room: string): Promise<void> {
    return this.serial(async () => {
      if (this._memberships.has(room)) return;
      const result = await this._join(room, undefined);
      if (result === null) return;
      this.send({ t: 'joined', room, head: result.history.head, ...result.members });
      this.goLive(room, result.history, undefined);
    });
  }

  /** Leaves a room (the client is told with `left`). */
  leave(room: string): Promise<void> {
    return this.serial(async () => {
      if (await this._leave(room)) this.send({ t: 'left', room });
    });
  }

  /** Closes the connection (1000 by default). */
  disconnect(code = 1000, reason = ''): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
  }

  // ---- internals -----------------------------------------------------------------

  /** @internal Sends one message to this connection, subject to the slow-consumer policy. */
  send(message: ServerMessage): void {
    if (this._state === STATE_CLOSED || this.slowTimer !== null) return;
    if (this.ws.bufferedAmount > this.hub.options.disconnectBufferedAmount) {
      this.slowDisconnect();
      return;
    }
    this.ws.send(encodeMessage(message));
  }

  /** @internal A pre-framed room (or presence) message. */
  _deliverFrame(room: string, frame: Buffer, mid: number, volatile: boolean): void {
    if (this._state === STATE_CLOSED || this.slowTimer !== null) return;
    const membership = this._memberships.get(room);
    if (membership === undefined) return;
    if (membership.buffer !== null) {
      if (membership.buffer.length >= MAX_JOIN_BUFFER) this.slowDisconnect();
      else membership.buffer.push({ frame, mid, volatile });
      return;
    }
    this.writeFrame(frame, volatile);
  }

  private writeFrame(frame: Buffer, volatile: boolean): void {
    const buffered = this.ws.bufferedAmount;
    const options = this.hub.options;
    if (buffered > options.disconnectBufferedAmount) {
      this.slowDisconnect();
      return;
    }
    if (volatile && buffered > options.maxBufferedAmount) {
      this.droppedVolatile++;
      return;
    }
    this.ws.sendFrame(frame);
  }

  /**
   * The slow-consumer policy's last step: close with 1013 and stop writing;
   * the socket is destroyed if the close does not complete within a second
   * (its send buffer may never drain). The client reconnects and resumes.
   */
  private slowDisconnect(): void {
    if (this.slowTimer !== null || this._state === STATE_CLOSED) return;
    this.hub.emit('slowConsumer', this);
    this.slowTimer = setTimeout(() => this.ws.terminate(), 1000);
    this.slowTimer.unref?.();
    try {
      this.ws.close(HubCloseCode.TryAgainLater, 'slow consumer');
    } catch {
      this.ws.terminate();
    }
  }

  /** Runs client-triggered state changes one after another. */
  private serial(task: () => Promise<void>): Promise<void> {
    const run = this.chain.then(task);
    this.chain = run.catch(noop);
    return run;
  }

  /** @internal */
  _member(): PresenceMember {
    const member: PresenceMember = { id: this.id, user: this.userId };
    if (this.presenceMeta !== undefined) member.meta = this.presenceMeta;
    return member;
  }

  private sender(): Sender {
    return { id: this.id, user: this.userId };
  }

  /**
   * Joins: becomes a local member (live messages are held), registers
   * presence, fetches history after `since` (or just the head). The caller
   * answers, then `goLive` replays and releases what was held.
   */
  private async _join(room: string, since: number | undefined): Promise<{ history: HistoryResult; members: MemberList } | null> {
    const membership: Membership = { buffer: [] };
    this._memberships.set(room, membership);
    this.hub._addLocal(room, this);
    const adapter = this.hub.adapter;
    const member = this._member();
    try {
      await adapter.addMember(room, member);
      if (this._state === STATE_CLOSED || this._memberships.get(room) !== membership) {
        // Closed or left while the adapter was busy: undo, in case the removal overtook the addition.
        await adapter.removeMember(room, member);
        return null;
      }
      const history = await adapter.history(room, since);
      const members = await this.hub._memberList(room);
      if (this._state === STATE_CLOSED || this._memberships.get(room) !== membership) return null;
      return { history, members };
    } catch (error) {
      // Not left half-joined (held messages piling up, never live): the client may simply join again.
      if (this._memberships.get(room) === membership) {
        this._memberships.delete(room);
        this.hub._removeLocal(room, this);
        adapter.removeMember(room, member).catch(noop);
      }
      throw error;
    }
  }

  /**
   * Replays what the client missed in `room` (after `since`), then releases
   * the live messages held meanwhile. `previous` are the client's earlier
   * connection ids (a resume names them): messages kept from those
   * connections (their own publications, `except`) stay left out.
   */
  private goLive(room: string, history: HistoryResult, since: number | undefined, previous?: ReadonlySet<string>): void {
    const membership = this._memberships.get(room);
    if (membership === undefined || membership.buffer === null) return;
    let last = history.head;
    try {
      if (since !== undefined) {
        last = history.gap?.reset ? 0 : since;
        if (history.gap) this.send({ t: 'gap', room, ...history.gap });
        for (const message of history.messages) {
          if (message.mid <= last) continue;
          last = message.mid;
          if (previous !== undefined && message.except !== undefined && message.except.some((id) => previous.has(id))) continue;
          const frame = this.hub._frameFor(message);
          if (frame !== null) this.writeFrame(frame, false);
        }
      }
    } catch (error) {
      // The replay is incomplete: the client reconnects and resumes from what it got (1011, RFC 6455 section 7.4.1).
      this.hub._reportError(error);
      if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1011, 'replay failed');
    } finally {
      // Whatever happened, the member goes live: held messages are never left holding.
      const held = membership.buffer;
      membership.buffer = null;
      for (const item of held) {
        if (item.mid !== 0 && item.mid <= last) continue;
        this.writeFrame(item.frame, item.volatile);
      }
    }
  }

  private async _leave(room: string): Promise<boolean> {
    if (!this._memberships.delete(room)) return false;
    this.hub._removeLocal(room, this);
    await this.hub.adapter.removeMember(room, this._member());
    return true;
  }

  /** @internal */
  _onMessage(data: Buffer, isBinary: boolean): void {
    this._lastSeen = Date.now();
    if (this._state === STATE_CLOSED || this.closing) return;
    const options = this.hub.options;
    // What the protocol refuses still costs the sender a token: refusals are work too.
    if (isBinary) {
      if (!this.overRateLimit(undefined)) this.send(errorMessage('bad_message', 'switchboard.v1 uses text frames only (binary data travels base64-encoded)'));
      return;
    }
    if (data.length > options.maxMessageSize) {
      if (!this.overRateLimit(undefined)) this.send(errorMessage('too_large', `Messages are limited to ${options.maxMessageSize} bytes`));
      return;
    }
    const text = data.toString();
    let message: ClientMessage;
    try {
      message = parseClientMessage(text, this.hub._parseLimits);
    } catch (error) {
      const e = error as WireError;
      if (!this.overRateLimit(e.ref)) this.send(errorMessage(e.code ?? 'bad_message', e.message, e.ref));
      return;
    }
    if (message.t === 'ping') {
      // The heartbeat's own ping (one per half interval) is free, so that a client near its limit is never
      // cut off for keeping its connection alive; any more pings cost a token like every other message.
      const now = this._lastSeen;
      if (now - this.lastFreePing >= this.hub.options.heartbeat.interval / 2) this.lastFreePing = now;
      else if (this.overRateLimit(undefined)) return;
      this.send({ t: 'pong', ts: message.ts });
      return;
    }
    if (message.t === 'ack' || message.t === 'error') {
      // An answer to a request of the server's is free (the server chose to ask); anything else costs a token.
      // Never answered with an error naming its id: that id is the server's own request counter.
      if (!(message.id !== undefined && this.pending.has(message.id)) && this.overRateLimit(undefined)) return;
    } else if (this.overRateLimit('id' in message ? message.id : undefined)) return;
    if (this._state === STATE_HELLO) {
      if (message.t !== 'hello') {
        this.send(errorMessage('hello_required', 'The first message must be "hello"', 'id' in message ? message.id : undefined));
        return;
      }
      this._state = STATE_AUTH;
      this.handshake.auth = message.auth;
      this.hub._authenticate(this);
      return;
    }
    if (this._state === STATE_AUTH) {
      // Held as text, parsed again once open: a parsed message can take many times the memory of its text.
      if (!this.early.push(text, data.length)) {
        this.send(errorMessage('rate_limited', 'Too many messages before the hello was answered', 'id' in message ? message.id : undefined));
      }
      return;
    }
    this.dispatch(message);
  }

  /** Takes a token; when there is none, applies the rate-limit policy and returns true. */
  private overRateLimit(ref: number | undefined): boolean {
    if (this.bucket === null || this.bucket.take()) return false;
    const limit = this.hub.options.rateLimit;
    if (limit !== false && limit.onLimit === 'disconnect') {
      this.closing = true;
      this.ws.close(HubCloseCode.RateLimited, 'rate limit exceeded');
      return true;
    }
    this.send({ ...errorMessage('rate_limited', 'Too many messages', ref), retryAfter: this.bucket.retryAfter() });
    return true;
  }

  /** @internal Middleware passed: run what arrived meanwhile. */
  _open(): void {
    this._state = STATE_OPEN;
    for (const text of this.early.drain()) {
      let message: ClientMessage;
      try {
        message = parseClientMessage(text, this.hub._parseLimits); // it parsed on arrival, with the same limits
      } catch {
        continue;
      }
      this.dispatch(message);
    }
  }

  private dispatch(message: ClientMessage): void {
    switch (message.t) {
      case 'hello':
        this.send(errorMessage('bad_message', 'hello was already received'));
        return;
      case 'emit':
        if (RESERVED_EVENTS.has(message.ev)) this.send(errorMessage('bad_message', `"${message.ev}" is a reserved event name`));
        else this.runHandlers(message.ev, message.data, undefined);
        return;
      case 'req':
        if (RESERVED_EVENTS.has(message.ev)) this.send(errorMessage('bad_message', `"${message.ev}" is a reserved event name`, message.id));
        else this.runHandlers(message.ev, message.data, message.id);
        return;
      case 'ack':
      case 'error': {
        if (message.id === undefined) return; // an error about something we sent; nothing waits for it
        const waiting = this.pending.get(message.id);
        if (waiting === undefined) return; // a late reply (after a timeout): ignored
        this.pending.delete(message.id);
        clearTimeout(waiting.timer);
        if (message.t === 'ack') waiting.resolve(message.data);
        else waiting.reject(new HubError(message.code, message.message ?? message.code));
        return;
      }
      default:
        this.serial(() => this.stateChange(message)).catch((error: unknown) => {
          const id = 'id' in message ? message.id : undefined;
          if (error instanceof WireError || error instanceof HubError) this.send(errorMessage(error.code, error.message, id));
          else {
            this.send(errorMessage('internal', 'Internal error', id));
            this.hub._reportError(error);
          }
        });
    }
  }

  private async stateChange(message: ClientMessage): Promise<void> {
    if (this._state !== STATE_OPEN) return;
    const hub = this.hub;
    switch (message.t) {
      case 'join': {
        if (this._memberships.has(message.room)) {
          // Already a member: nothing to replay (live delivery never stopped).
          const history = await hub.adapter.history(message.room);
          this.ack(message.id, { room: message.room, head: history.head, ...(await hub._memberList(message.room)) });
          return;
        }
        if (this._memberships.size >= hub.options.maxRoomsPerConnection) throw this.tooManyRooms();
        if (!(await hub._canJoin(this, message.room))) throw new WireError('forbidden', `Not allowed to join "${message.room}"`);
        const result = await this._join(message.room, message.since);
        if (result === null) return;
        this.ack(message.id, { room: message.room, head: result.history.head, ...result.members });
        this.goLive(message.room, result.history, message.since);
        return;
      }
      case 'leave':
        await this._leave(message.room);
        this.ack(message.id, { room: message.room });
        return;
      case 'resume': {
        const previous = message.was === undefined ? undefined : new Set(message.was);
        // Null prototype: a room may be called "__proto__".
        const rooms: Record<string, ({ head: number } & MemberList) | { error: string }> = Object.create(null);
        for (const [room, since] of Object.entries(message.rooms)) {
          if (this._memberships.has(room)) {
            rooms[room] = { head: (await hub.adapter.history(room)).head, ...(await hub._memberList(room)) };
            continue;
          }
          if (this._memberships.size >= hub.options.maxRoomsPerConnection) {
            rooms[room] = { error: 'too_many_rooms' };
            continue;
          }
          if (!(await hub._canJoin(this, room))) {
            rooms[room] = { error: 'forbidden' };
            continue;
          }
          const result = await this._join(room, since);
          if (result === null) return;
          rooms[room] = { head: result.history.head, ...result.members };
          this.goLive(room, result.history, since, previous);
        }
        this.ack(message.id, { rooms });
        return;
      }
      case 'pub': {
        if (!this._memberships.has(message.room)) throw new WireError('not_member', `Join "${message.room}" before publishing to it`);
        if (RESERVED_EVENTS.has(message.ev)) throw new WireError('bad_message', `"${message.ev}" is a reserved event name`);
        const allowed = hub.options.canPublish ? await hub.options.canPublish(this, message.room, message.ev) : true;
        if (!allowed) throw new WireError('forbidden', `Not allowed to publish to "${message.room}"`);
        const mid = await hub.adapter.publish(message.room, {
          ev: message.ev,
          data: message.data,
          encoded: serialise(message.data),
          from: this.sender(),
          except: [this.id],
          volatile: message.volatile === true,
        });
        this.ack(message.id, { mid });
        return;
      }
      case 'dm': {
        if (RESERVED_EVENTS.has(message.ev)) throw new WireError('bad_message', `"${message.ev}" is a reserved event name`);
        const allowed = hub.options.canDirect ? await hub.options.canDirect(this, message.to, message.ev) : true;
        if (!allowed) throw new WireError('forbidden', 'Not allowed to send this direct message');
        if ('user' in message.to) {
          await hub.adapter.toUser(message.to.user, message.ev, message.data, this.sender());
          this.ack(message.id, {});
        } else {
          const delivered = await hub.adapter.toClient(message.to.client, message.ev, message.data, this.sender());
          this.ack(message.id, { delivered });
        }
        return;
      }
    }
  }

  private tooManyRooms(): WireError {
    return new WireError('too_many_rooms', `A connection may be in at most ${this.hub.options.maxRoomsPerConnection} rooms`);
  }

  private ack(id: number | undefined, data: unknown): void {
    if (id !== undefined) this.send({ t: 'ack', id, data });
  }

  /** Calls the handlers of an event; for a request, the first reply wins. */
  private runHandlers(event: string, data: unknown, id: number | undefined): void {
    const handlers = this.handlers.get(event);
    if (handlers === undefined || handlers.length === 0) {
      if (id !== undefined) this.send(errorMessage('no_handler', `No handler for "${event}"`, id));
      return;
    }
    let replied = false;
    const reply = ((result: unknown) => {
      if (replied || id === undefined) return;
      replied = true;
      this.send({ t: 'ack', id, data: result });
    }) as Reply;
    reply.error = (code: string, message?: string) => {
      if (replied || id === undefined) return;
      replied = true;
      this.send(errorMessage(code, message ?? code, id));
    };
    Object.defineProperty(reply, 'expected', { value: id !== undefined });
    const failed = (error: unknown): void => {
      this.hub._reportError(error);
      if (!replied && id !== undefined) reply.error('handler_error', error instanceof Error ? error.message : String(error));
    };
    for (const handler of [...handlers]) {
      try {
        const result = handler(data, reply);
        if (result instanceof Promise) result.catch(failed);
      } catch (error) {
        failed(error);
      }
    }
  }

  /** @internal The socket closed: leave every room, fail pending requests. */
  _closed(code: number, reason: string): void {
    if (this._state === STATE_CLOSED) return;
    const wasOpen = this._state === STATE_OPEN;
    this._state = STATE_CLOSED;
    if (this.slowTimer !== null) clearTimeout(this.slowTimer);
    for (const [, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new HubError('disconnected', 'The connection closed before the reply'));
    }
    this.pending.clear();
    const member = this._member();
    for (const room of this._memberships.keys()) {
      this.hub._removeLocal(room, this);
      this.hub.adapter.removeMember(room, member).catch((e: unknown) => this.hub._reportError(e));
    }
    this._memberships.clear();
    if (!wasOpen) return;
    for (const handler of [...this.disconnectHandlers]) {
      try {
        handler(code, reason);
      } catch (error) {
        this.hub._reportError(error);
      }
    }
  }
}

/** The member list of a join answer: absent with presence off, at most `presenceListLimit` long (then `more`). */
type MemberList = { members?: PresenceMember[]; more?: true };

/** `data` serialised before it is published, so nothing unserialisable is stored (see the Adapter contract). */
function serialise(data: unknown): string | undefined {
  try {
    return encodeData(data);
  } catch (error) {
    throw new WireError('bad_message', `"data" cannot be serialised: ${error instanceof Error ? error.message : String(error)}`);
  }
}


// ---- broadcasting operators -------------------------------------------------------

/** `hub.to(room)`: publishes to a room's members, on every process. */
export class RoomOperator<Out extends EventsMap = DefaultEvents> {
  constructor(
    private readonly hub: Hub<any, Out>,
    private readonly room: string,
    private readonly excluded: readonly string[] = [],
    private readonly isVolatile = false,
  ) {}

  /** Leaves out these connections (objects or ids). */
  except(...clients: Array<HubConnection<any, any> | string | Array<HubConnection<any, any> | string>>): RoomOperator<Out> {
    const ids = clients.flat().map((c) => (typeof c === 'string' ? c : c.id));
    return new RoomOperator(this.hub, this.room, [...this.excluded, ...ids], this.isVolatile);
  }

  /** Volatile: no id, not kept in history, dropped for connections over `maxBufferedAmount`. */
  get volatile(): RoomOperator<Out> {
    return new RoomOperator(this.hub, this.room, this.excluded, true);
  }

  /** Publishes; resolves with the message's id in the room (0 when volatile). */
  emit<K extends EventNames<Out>>(event: K, data: EventData<Out, K>): Promise<number> {
    checkEventName(event);
    let encoded: string | undefined;
    try {
      encoded = encodeData(data);
    } catch (error) {
      throw new TypeError(`The data of "${event}" cannot be serialised: ${error instanceof Error ? error.message : String(error)}`);
    }
    return this.hub.adapter.publish(this.room, {
      ev: event,
      data,
      encoded,
      ...(this.excluded.length > 0 ? { except: this.excluded } : {}),
      ...(this.isVolatile ? { volatile: true } : {}),
    });
  }
}

/** `hub.toUser(id)`: every connection of a user, on every process. */
export class UserOperator<Out extends EventsMap = DefaultEvents> {
  constructor(
    private readonly hub: Hub<any, Out>,
    private readonly user: string,
  ) {}

  emit<K extends EventNames<Out>>(event: K, data: EventData<Out, K>): Promise<void> {
    checkEventName(event);
    return this.hub.adapter.toUser(this.user, event, data);
  }
}

// ---- the hub --------------------------------------------------------------------

type ResolvedOptions = Omit<HubOptions, 'rateLimit' | keyof HubLimits> & HubLimits & {
  rateLimit: RateLimitOptions | false;
  helloTimeout: number;
  heartbeat: { interval: number; timeout: number };
  requestTimeout: number;
  maxBufferedAmount: number;
  disconnectBufferedAmount: number;
  maxMessageSize: number;
};

/**
 * The hub. Events: 'connection' (client), 'disconnect' (client, code,
 * reason), 'slowConsumer' (client), 'error' (an adapter or handler failure;
 * without a listener it is reported with process.emitWarning).
 */
export class Hub<In extends EventsMap = DefaultEvents, Out extends EventsMap = DefaultEvents> extends EventEmitter {
  readonly options: ResolvedOptions;
  readonly adapter: Adapter;
  /** Open connections (after middleware) by id. */
  readonly clients = new Map<string, HubConnection<In, Out>>();
  /** The WebSocketServer connections come from. */
  readonly wss: WebSocketServer | null = null;
  private readonly users = new Map<string, Set<HubConnection<In, Out>>>();
  private readonly localRooms = new Map<string, Set<HubConnection<In, Out>>>();
  private readonly all = new Set<HubConnection<In, Out>>();
  private readonly middleware: Array<Middleware<In, Out>> = [];
  private readonly frames = new WeakMap<RoomMessage, Buffer>();
  private readonly ready: Promise<void>;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private detach: (() => void) | null = null;
  private ownsWss = false;
  private closed = false;
  /** @internal What parseClientMessage enforces, built once. */
  readonly _parseLimits: ParseLimits;

  constructor(options: HubOptions = {}) {
    super();
    this.options = {
      ...options,
      rateLimit: options.rateLimit === undefined ? {} : options.rateLimit,
      helloTimeout: options.helloTimeout ?? 10_000,
      heartbeat: options.heartbeat ?? { interval: 25_000, timeout: 10_000 },
      requestTimeout: options.requestTimeout ?? 10_000,
      maxBufferedAmount: options.maxBufferedAmount ?? 1024 * 1024,
      disconnectBufferedAmount: options.disconnectBufferedAmount ?? 8 * 1024 * 1024,
      maxMessageSize: options.maxMessageSize ?? 1024 * 1024,
      ...resolveLimits(options),
    };
    this._parseLimits = { maxJsonDepth: this.options.maxJsonDepth, maxResumeRooms: this.options.maxRoomsPerConnection };
    if (this.options.rateLimit !== false) new TokenBucket(this.options.rateLimit.rate ?? 50, this.options.rateLimit.burst ?? 100); // validates
    this.adapter = options.adapter ?? new InProcessAdapter(options.history);
    this.ready = Promise.resolve(this.adapter.attach(this.sink));
    this.ready.catch((e: unknown) => this._reportError(e));

    const server = options.server;
    const handleProtocols = (protocols: Set<string>): string | false => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false);
    if (server instanceof WebSocketServer) {
      this.wss = server;
      const path = options.path;
      const onConnection = (ws: WebSocket, req: IncomingMessage): void => {
        if (path !== undefined && pathOf(req.url) !== path) return;
        this.handleConnection(ws, req);
      };
      server.on('connection', onConnection);
      this.detach = () => server.removeListener('connection', onConnection);
    } else {
      const path = options.path ?? '/hub';
      const maxPayload = this.options.maxMessageSize + 1024;
      // The library's own write-buffer cut is a backstop behind the hub's slow-consumer policy,
      // which closes with 1013 and a close frame first: it must never act before it.
      const disconnectBufferedAmount = 2 * this.options.disconnectBufferedAmount;
      if (server !== undefined) {
        const wss = new WebSocketServer({ noServer: true, handleProtocols, maxPayload, disconnectBufferedAmount });
        this.wss = wss;
        this.ownsWss = true;
        const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
          if (pathOf(req.url) === path) wss.handleUpgrade(req, socket, head, (ws) => this.handleConnection(ws, req));
          else if (server.listenerCount('upgrade') === 1) {
            refuseUpgrade(socket, 400, 'No WebSocket endpoint at this path');
          }
        };
        server.on('upgrade', onUpgrade);
        this.detach = () => server.removeListener('upgrade', onUpgrade);
      } else if (options.port !== undefined) {
        const wss = new WebSocketServer({ port: options.port, host: options.host, path, handleProtocols, maxPayload, disconnectBufferedAmount });
        this.wss = wss;
        this.ownsWss = true;
        wss.on('connection', (ws: WebSocket, req: IncomingMessage) => this.handleConnection(ws, req));
        wss.on('listening', () => this.emit('listening'));
        wss.on('error', (e: Error) => this._reportError(e));
      }
    }
    const beat = Math.max(50, Math.min(this.options.heartbeat.interval, this.options.heartbeat.timeout) / 2);
    this.heartbeatTimer = setInterval(() => this.checkSilence(), beat);
    this.heartbeatTimer.unref?.();
  }

  /** Adds middleware: `(client, next) => ...`, run in order after `hello`; `next(error)` or a throw refuses the connection. */
  use(fn: Middleware<In, Out>): this {
    this.middleware.push(fn);
    return this;
  }

  override on(event: 'connection', listener: (client: HubConnection<In, Out>) => void): this;
  override on(event: 'disconnect', listener: (client: HubConnection<In, Out>, code: number, reason: string) => void): this;
  override on(event: 'slowConsumer', listener: (client: HubConnection<In, Out>) => void): this;
  override on(event: 'error', listener: (error: unknown) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  /** Publishes to a room (see RoomOperator). */
  to(room: string): RoomOperator<Out> {
    return new RoomOperator(this, room);
  }

  /** Every connection of a user (see UserOperator). */
  toUser(user: string): UserOperator<Out> {
    return new UserOperator(this, user);
  }

  /** The members of a room, across processes. */
  presence(room: string): Promise<PresenceMember[]> {
    return this.adapter.members(room);
  }

  /** Held history of a room after `since`. */
  history(room: string, since = 0): Promise<HistoryResult> {
    return this.adapter.history(room, since);
  }

  /** Connections of a user on this process. */
  connectionsOf(user: string): HubConnection<In, Out>[] {
    return [...(this.users.get(user) ?? [])];
  }

  /** Takes a WebSocket connection (from any source; for `noServer` setups). */
  handleConnection(ws: WebSocket, req?: IncomingMessage): HubConnection<In, Out> {
    const client = new HubConnection<In, Out>(this, ws, req);
    if (this.closed) {
      ws.close(HubCloseCode.GoingAway, 'hub closed');
      return client;
    }
    this.all.add(client);
    ws.on('message', (data: Buffer, isBinary: boolean) => client._onMessage(data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => {
      this.all.delete(client);
      const wasOpen = client.connected;
      if (this.clients.get(client.id) === client) this.clients.delete(client.id);
      this.unregisterUser(client);
      client._closed(code, reason.toString());
      if (wasOpen) this.emit('disconnect', client, code, reason.toString());
    });
    ws.on('error', noop); // the close that follows is what matters
    if (ws.protocol !== SUBPROTOCOL) {
      ws.send(encodeMessage(errorMessage('bad_message', `The subprotocol must be ${SUBPROTOCOL}`)));
      ws.close(HubCloseCode.WrongProtocol, `subprotocol ${SUBPROTOCOL} required`);
      return client;
    }
    const timer = setTimeout(() => {
      if (client._state < STATE_OPEN && ws.readyState === WebSocket.OPEN) ws.close(HubCloseCode.Timeout, 'no hello');
    }, this.options.helloTimeout);
    timer.unref?.();
    ws.once('close', () => clearTimeout(timer));
    return client;
  }

  /** @internal After `hello`: middleware, then welcome. */
  _authenticate(client: HubConnection<In, Out>): void {
    this.runMiddleware(client).then(
      async () => {
        await this.ready;
        if (client.ws.readyState !== WebSocket.OPEN) return;
        this.clients.set(client.id, client);
        if (client.userId !== null) {
          let set = this.users.get(client.userId);
          if (set === undefined) this.users.set(client.userId, (set = new Set()));
          set.add(client);
        }
        client.send({ t: 'welcome', id: client.id, user: client.userId, hb: this.options.heartbeat });
        client._state = STATE_OPEN;
        try {
          this.emit('connection', client);
        } catch (error) {
          this._reportError(error);
        }
        client._open();
      },
      (error: unknown) => {
        const e = error as { code?: unknown; message?: unknown };
        const code = typeof e?.code === 'string' ? e.code : 'unauthorized';
        const message = typeof e?.message === 'string' && e.message !== '' ? e.message : 'Refused by middleware';
        client.send(errorMessage(code, message));
        if (client.ws.readyState === WebSocket.OPEN) {
          client.ws.close(code === 'unauthorized' ? HubCloseCode.Unauthorized : 1008, code === 'unauthorized' ? 'unauthorized' : code.slice(0, 100));
        }
      },
    );
  }

  private async runMiddleware(client: HubConnection<In, Out>): Promise<void> {
    for (const fn of this.middleware) {
      await new Promise<void>((resolve, reject) => {
        let done = false;
        const next = (error?: Error): void => {
          if (done) return;
          done = true;
          if (error) reject(error);
          else resolve();
        };
        try {
          const result = fn(client, next);
          // An async middleware that finishes without calling next() continues.
          if (result instanceof Promise) result.then(() => next(), (e: unknown) => next((e ?? new Error('Refused')) as Error));
        } catch (error) {
          next(error as Error);
        }
      });
    }
  }

  /** @internal */
  _presenceOn(room: string): boolean {
    const p = this.options.presence;
    return p === undefined ? true : typeof p === 'function' ? p(room) : p;
  }

  /** @internal The member list for a join answer. */
  async _memberList(room: string): Promise<MemberList> {
    if (!this._presenceOn(room)) return {};
    const limit = this.options.presenceListLimit;
    const members = await this.adapter.members(room, limit + 1);
    return members.length > limit ? { members: members.slice(0, limit), more: true } : { members };
  }

  /** @internal */
  _canJoin(client: HubConnection<In, Out>, room: string): Promise<boolean> | boolean {
    return this.options.canJoin ? this.options.canJoin(client, room) : true;
  }

  /** @internal */
  _addLocal(room: string, client: HubConnection<In, Out>): void {
    let set = this.localRooms.get(room);
    if (set === undefined) this.localRooms.set(room, (set = new Set()));
    set.add(client);
  }

  /** @internal */
  _removeLocal(room: string, client: HubConnection<In, Out>): void {
    const set = this.localRooms.get(room);
    if (set === undefined) return;
    set.delete(client);
    if (set.size === 0) this.localRooms.delete(room);
  }

  private unregisterUser(client: HubConnection<In, Out>): void {
    if (client.userId === null) return;
    const set = this.users.get(client.userId);
    if (set === undefined) return;
    set.delete(client);
    if (set.size === 0) this.users.delete(client.userId);
  }

  /**
   * @internal The frame of a room message; null (reported) when it cannot be built.
   * Replays keep it with the message, so that a wave of resumes builds it once. Live
   * delivery (`keep` false) builds it once for all members and lets it go with the
   * writes: a frame kept for every message in history would double what history
   * holds, and long-lived frames among short-lived reads leave the allocator with
   * freed pages it does not return (the history attack kept 50-70 MiB of RSS with
   * 32 MiB of history; 15-26 MiB without).
   */
  _frameFor(message: RoomMessage, keep = true): Buffer | null {
    let frame = this.frames.get(message);
    if (frame === undefined) {
      try {
        let text: string;
        if (message.encoded !== undefined) text = encodeRoomMessage(message as RoomMessage & { encoded: string });
        else {
          // An adapter that did not keep `encoded` (or data that serialises to nothing).
          const packet: ServerMessage = { t: 'msg', room: message.room, ev: message.ev, data: message.data };
          if (message.mid !== 0) packet.mid = message.mid;
          if (message.from !== undefined) packet.from = message.from;
          text = encodeMessage(packet);
        }
        frame = encodeFrame(Buffer.from(text), { opcode: Opcode.Text });
      } catch (error) {
        this._reportError(error);
        return null;
      }
      if (keep) this.frames.set(message, frame);
    }
    return frame;
  }

  /** @internal */
  _reportError(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(`switchboard hub: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, 'SwitchboardWarning');
  }

  private readonly sink: AdapterSink = {
    deliverRoom: (message, except, volatile) => {
      const members = this.localRooms.get(message.room);
      if (members === undefined) return;
      const frame = this._frameFor(message, false);
      if (frame === null) return;
      const skip = except === undefined || except.length === 0 ? null : except.length <= 8 ? except : new Set(except);
      for (const client of members) {
        if (skip !== null && (Array.isArray(skip) ? (skip as readonly string[]).includes(client.id) : (skip as Set<string>).has(client.id))) continue;
        client._deliverFrame(message.room, frame, message.mid, volatile);
      }
    },
    deliverUser: (user, ev, data, from) => {
      const set = this.users.get(user);
      if (set === undefined) return;
      const packet: ServerMessage = from === undefined ? { t: 'emit', ev, data } : { t: 'emit', ev, data, from };
      for (const client of set) client.send(packet);
    },
    deliverClient: (id, ev, data, from) => {
      const client = this.clients.get(id);
      if (client === undefined) return false;
      client.send(from === undefined ? { t: 'emit', ev, data } : { t: 'emit', ev, data, from });
      return true;
    },
    presenceChanged: (room, change) => {
      const members = this.localRooms.get(room);
      if (members === undefined || !this._presenceOn(room)) return;
      const member = (change.join ?? change.leave)!;
      const frame = frameOf(change.join ? { t: 'presence', room, join: change.join } : { t: 'presence', room, leave: change.leave! });
      for (const client of members) {
        if (client.id !== member.id) client._deliverFrame(room, frame, 0, false);
      }
    },
  };

  private checkSilence(): void {
    const { interval, timeout } = this.options.heartbeat;
    const limit = Date.now() - interval - timeout;
    for (const client of this.all) {
      if (client._lastSeen < limit && client.ws.readyState === WebSocket.OPEN) client.ws.close(HubCloseCode.Timeout, 'heartbeat timeout');
    }
  }

  /** Closes every connection (1001), detaches from the server and closes the adapter. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.detach?.();
    const gone = [...this.all].map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.ws.readyState === WebSocket.CLOSED) return resolve();
          client.ws.once('close', () => resolve());
          client.ws.close(HubCloseCode.GoingAway, 'hub closing');
          setTimeout(() => client.ws.terminate(), 2000).unref?.();
        }),
    );
    await Promise.all(gone);
    if (this.ownsWss && this.wss !== null) await new Promise<void>((resolve) => this.wss!.close(() => resolve()));
    await this.adapter.close();
  }
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}
