// switchboard/client: the browser (and Node) client of the switchboard.v1
// hub protocol (docs/protocol.md). One ES module, no dependencies, no Node
// modules: it uses the WebSocket class you pass in, or globalThis.WebSocket.
// The protocol itself (messages, codec, codes, the request engine) is
// switchboard/wire, shared with the hub.
import {
  DEFAULT_MAX_ROOMS,
  DEFAULT_REQUEST_TIMEOUT,
  FINAL_CLOSE_CODES,
  HubError,
  SwitchboardError,
  MAX_PREVIOUS_IDS,
  RESERVED_EVENTS,
  Requests,
  SUBPROTOCOL,
  WireError,
  checkEventName,
  encodeMessage,
  parseServerMessage,
  type ClientMessage,
  type HubErrorCode,
  type Member,
  type Sender,
  type ServerMessage,
} from '../wire/index.js';
import { codedError } from '../wire/errors.js';
import { Heartbeat } from './heartbeat.js';
import { Rooms, type ResumeAnswer, type Room } from './rooms.js';
import { HttpTransport } from './http-transport.js';
import { mergeNodeUrls, type NodeUrlPolicy } from './node-urls.js';
import { recallTransport, rememberTransport } from './transport-memory.js';
import { DrainingTransport, UpgradeProbe, UpgradeSchedule, detachHandlers as detach } from './upgrade.js';

export { SUBPROTOCOL, HubError, SwitchboardError, type HubErrorCode, type Member, type Sender, type NodeUrlPolicy };

export type {
  ClientOptions,
  DefaultEvents,
  EventsMap,
  LifecycleEvents,
  Meta,
  ReconnectOptions,
  Reply,
  Status,
  Transport,
  UpgradeOptions,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js';
import type { ClientOptions, Data, DefaultEvents, EventsMap, LifecycleEvents, Meta, Reply, Result, Status, Transport, WebSocketConstructor, WebSocketLike } from './types.js';

const DEFAULT_MAX_MEMBERS_PER_ROOM = 10_000;
const DEFAULT_OUTBOX_SIZE = 100;
const DEFAULT_UPLINK_QUEUE_SIZE = 1000;

/** A message this client sends, before it is given an id (`call` numbers it). */
type Outgoing = Extract<ClientMessage, { t: 'emit' | 'req' | 'pub' | 'dm' | 'join' | 'leave' | 'resume' }>;

/**
 * A hub client. `Listen` are the events the server (and other clients'
 * room messages) send; `Send` the events this client sends.
 */
export class HubClient<Listen extends EventsMap = DefaultEvents, Send extends EventsMap = DefaultEvents> {
  /** The connection id the server gave (changes on every reconnection). */
  id: string | null = null;
  user: string | null = null;
  status: Status = 'connecting';
  private ws: WebSocketLike | null = null;
  private readonly Ctor: WebSocketConstructor | undefined;
  private readonly transports: readonly Transport[];
  /** Index in `transports` of the transport in use (or tried next). */
  private transportIndex = 0;
  /** Whether the current attempt's transport opened (a failure before it did moves on to the next transport). */
  private transportOpened = false;
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly handlers = new Map<string, Array<(...args: any[]) => unknown>>();
  private readonly rooms: Rooms;
  private readonly requests = new Requests();
  /** Messages held while disconnected, moving, or with a fallback's uplink full (at most `outboxSize`). */
  private outbox: Array<{ message: Outgoing; id?: number }> = [];
  /** The fallback whose uplink the outbox waits on, to be idle. */
  private uplinkWaitedOn: HttpTransport | null = null;
  private attempt = 0;
  private everConnected = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly heartbeat = new Heartbeat(
    () => {
      if (!this.ws) return false;
      this.ws.send('{"t":"ping"}');
      return true;
    },
    () => {
      const ws = this.ws;
      if (!ws) return;
      detach(ws);
      try {
        ws.close(4408, 'heartbeat timeout');
      } catch {}
      this.closed(4408, 'heartbeat timeout');
    },
  );
  private readonly options: ClientOptions;
  /** The connection ids this client has had (the most recent 17): its own messages carry one. */
  private readonly ids = new Set<string>();
  /** Moving back up to WebSocket from a fallback: null when off (option `upgrade: false`, or no WebSocket). */
  private readonly upgrade: UpgradeSchedule | null;
  /** The try in progress; once welcomed, the client is moving (its sends wait in the outbox for the old uplink to drain). */
  private probe: UpgradeProbe | null = null;
  /** Transports moved away from, still waiting for answers to requests sent on them. */
  private readonly draining = new Set<DrainingTransport>();

  /** The URLs the application gave; the hub's `welcome.nodes` may add more (node-urls.ts). */
  private readonly ownUrls: readonly string[];
  private urlList: readonly string[];
  /** Index in `urls` of the URL in use (or tried next). */
  private urlIndex = 0;

  /**
   * `url` may be a list: the client connects to the first, and every reconnection (after a
   * connection dropped or an attempt failed) goes to the next one, round-robin, resuming its
   * rooms there. Meant for hubs that share an adapter, so that any of them can resume a room.
   */
  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    const urls = typeof url === 'string' ? [url] : [...url];
    if (urls.length === 0 || urls.some((u) => typeof u !== 'string')) throw codedError(new TypeError('The URL must be a string or a non-empty list of strings'), 'WS_ERR_INVALID_ARGUMENT');
    this.ownUrls = urls;
    this.urlList = urls;
    this.options = options;
    this.rooms = new Rooms(options.maxRooms ?? DEFAULT_MAX_ROOMS, options.maxMembersPerRoom ?? DEFAULT_MAX_MEMBERS_PER_ROOM);
    const transports = options.transports ?? ['websocket', 'sse', 'polling'];
    if (transports.length === 0 || transports.some((t) => t !== 'websocket' && t !== 'sse' && t !== 'polling')) {
      throw codedError(new TypeError(`transports must be a non-empty list of 'websocket', 'sse', 'polling'`), 'WS_ERR_INVALID_OPTION');
    }
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    // Without a WebSocket class the HTTP transports may still do.
    this.transports = Ctor ? transports : transports.filter((t) => t !== 'websocket');
    if (this.transports.length === 0) throw codedError(new TypeError('No WebSocket class: pass options.WebSocket (in Node: the WebSocket of "switchboard")'), 'WS_ERR_INVALID_OPTION');
    this.Ctor = Ctor;
    this.upgrade = options.upgrade === false || !this.transports.includes('websocket') ? null : new UpgradeSchedule(options.upgrade ?? {});
    // A fallback that worked for this URL before: start there (the WebSocket is tried again in the background).
    const recalled = options.rememberTransport === false ? undefined : recallTransport(this.urls[0]!);
    if (recalled !== undefined && this.transports.includes(recalled)) this.transportIndex = this.transports.indexOf(recalled);
    try {
      this.open();
    } catch (error) {
      this.status = 'closed';
      throw error;
    }
  }

  /** The transport of the current connection (or of the next attempt). */
  get transport(): Transport {
    return this.transports[this.transportIndex]!;
  }

  /** The hub URLs, in the order they are tried: the application's, then those the hub's nodes announced (`nodeUrls`). */
  get urls(): readonly string[] {
    return this.urlList;
  }

  /** The URL of the current connection (or of the next attempt). */
  get url(): string {
    return this.urls[this.urlIndex]!;
  }

  // ---- events ------------------------------------------------------------------

  on<K extends keyof LifecycleEvents>(event: K, handler: LifecycleEvents[K]): this;
  on<K extends keyof Listen & string>(event: K, handler: (data: Data<Listen, K>, reply: Reply<Result<Listen, K>>, meta: Meta) => unknown): this;
  on(event: string, handler: (...args: any[]) => unknown): this {
    const list = this.handlers.get(event);
    if (list) list.push(handler);
    else this.handlers.set(event, [handler]);
    return this;
  }

  off(event: string, handler: (...args: any[]) => unknown): this {
    const list = this.handlers.get(event);
    const i = list ? list.indexOf(handler) : -1;
    if (i !== -1) list!.splice(i, 1);
    return this;
  }

  private fire(event: string, ...args: unknown[]): boolean {
    const list = this.handlers.get(event);
    if (!list || list.length === 0) return false;
    for (const handler of [...list]) {
      try {
        handler(...args);
      } catch (error) {
        if (event === 'error') setTimeout(() => { throw error; });
        else this.fire('error', new HubError('handler_error', String(error)));
      }
    }
    return true;
  }

  // ---- sending -------------------------------------------------------------------

  /** Sends an event to the server (`client.on(event)` handlers there). Held in the outbox while disconnected. */
  emit<K extends keyof Send & string>(event: K, data: Data<Send, K>): void {
    checkEventName(event);
    this.post({ t: 'emit', ev: event, data });
  }

  /** A request to the server; resolves with its reply, rejects with a HubError (`timeout`, ...). */
  request<K extends keyof Send & string>(event: K, data: Data<Send, K>, options: { timeout?: number } = {}): Promise<Result<Send, K>> {
    checkEventName(event);
    return this.call({ t: 'req', id: 0, ev: event, data }, options.timeout);
  }

  /** Publishes to a room this client is in (other members get it; not this client). Resolves with the message id. */
  publish<K extends keyof Listen & string>(room: string, event: K, data: Data<Listen, K>, options: { volatile?: boolean; timeout?: number } = {}): Promise<number> {
    checkEventName(event);
    const message: Outgoing = options.volatile ? { t: 'pub', room, ev: event, data, volatile: true } : { t: 'pub', room, ev: event, data };
    return this.call(message, options.timeout).then((r: { mid: number }) => r.mid);
  }

  /** A direct message to every connection of a user, or to one connection. */
  direct<K extends keyof Listen & string>(to: { user: string } | { client: string }, event: K, data: Data<Listen, K>): Promise<unknown> {
    checkEventName(event);
    return this.call({ t: 'dm', to, ev: event, data });
  }

  /**
   * Joins a room, now and after every reconnection (resuming from the last
   * message seen). `history: true` also asks for the history the server holds.
   */
  join(room: string, options: { history?: boolean } = {}): Promise<{ head: number; members: Member[] }> {
    let state = this.rooms.get(room);
    if (state && state.last !== null) return Promise.resolve({ head: state.last, members: [...state.members.values()] });
    const p = new Promise<{ head: number; members: Member[] }>((resolve, reject) => {
      if (!state) {
        state = this.rooms.create(room, options.history === true);
        if (!state) {
          reject(new HubError('too_many_rooms', `This client keeps at most ${this.rooms.maxRooms} rooms (option maxRooms)`));
          return;
        }
        if (this.status === 'open') this.sendJoin(room, state);
      }
      state.waiters.push([resolve, reject]);
    });
    return p;
  }

  /** Leaves a room (and stops rejoining it). */
  leave(room: string): Promise<void> {
    const state = this.rooms.get(room);
    if (!state) return Promise.resolve();
    this.rooms.delete(room);
    for (const [, reject] of state.waiters) reject(new HubError('left', `Left "${room}"`));
    return this.status === 'open' ? this.call({ t: 'leave', room }).then(() => undefined) : Promise.resolve();
  }

  /** Members of a room as last reported. */
  members(room: string): Member[] {
    return [...(this.rooms.get(room)?.members.values() ?? [])];
  }

  /** The highest message id seen in a room (what a resume starts after). */
  lastSeen(room: string): number | null {
    return this.rooms.get(room)?.last ?? null;
  }

  /** Resolves once connected (at once if already), rejects when the client is closed for good. */
  ready(): Promise<void> {
    if (this.status === 'open') return Promise.resolve();
    if (this.status === 'closed') return Promise.reject(new HubError('closed', 'The client is closed'));
    return new Promise((resolve, reject) => {
      const onConnect = (): void => {
        cleanup();
        resolve();
      };
      const onDisconnect = (info: { code: number; reason: string; willReconnect: boolean }): void => {
        if (info.willReconnect) return;
        cleanup();
        reject(new HubError('closed', `Disconnected (${info.code} ${info.reason})`));
      };
      const cleanup = (): void => {
        this.off('connect', onConnect);
        this.off('disconnect', onDisconnect);
      };
      this.on('connect', onConnect);
      this.on('disconnect', onDisconnect);
    });
  }

  /** Closes for good: no more reconnection; pending requests reject. */
  close(code = 1000, reason = ''): void {
    const was = this.status;
    this.status = 'closed';
    if (this.timer) clearTimeout(this.timer);
    this.clearOpenTimer();
    this.stopMoving();
    for (const old of [...this.draining]) old.finish('closed');
    this.heartbeat.stop();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      try {
        ws.close(code, reason);
      } catch {}
    }
    this.failPending('closed');
    for (const item of this.outbox) if (item.id !== undefined) this.requests.settle(item.id, new HubError('closed'));
    this.outbox = [];
    if (was !== 'closed') this.fire('disconnect', { code, reason, willReconnect: false });
  }

  private call(message: Outgoing, timeout?: number): Promise<any> {
    if (this.status === 'closed') return Promise.reject(new HubError('closed', 'The client is closed'));
    const id = this.requests.nextId();
    (message as { id?: number }).id = id;
    const answer = this.requests.wait(id, timeout ?? this.options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT);
    this.post(message, id);
    return answer;
  }

  private post(message: Outgoing, id?: number): void {
    if (this.status === 'closed') return;
    const moving = this.probe?.welcome != null;
    // Behind messages already held, or with a fallback's uplink full (a 503 waited out, a slow POST): held too, in order.
    if (this.status === 'open' && !moving && this.outbox.length === 0 && !this.uplinkFull()) {
      this.ws!.send(encodeMessage(message));
      return;
    }
    this.outbox.push({ message, id });
    if (this.outbox.length > (this.options.outboxSize ?? DEFAULT_OUTBOX_SIZE)) {
      const dropped = this.outbox.shift()!;
      if (dropped.id !== undefined) this.requests.settle(dropped.id, new HubError('outbox_full', 'Dropped from the full outbox (option outboxSize)'));
    }
    if (this.status === 'open' && !moving) this.sendOutboxWhenIdle();
  }

  /** Whether the connection is an HTTP fallback holding `uplinkQueueSize` messages not yet POSTed. */
  private uplinkFull(): boolean {
    const ws = this.ws;
    return ws instanceof HttpTransport && ws.queued >= Math.max(1, this.options.uplinkQueueSize ?? DEFAULT_UPLINK_QUEUE_SIZE);
  }

  /** Sends what the outbox holds, as far as the uplink takes it; the rest once the uplink has sent what it has. */
  private sendOutbox(): void {
    while (this.outbox.length > 0 && !this.uplinkFull()) this.ws!.send(encodeMessage(this.outbox.shift()!.message));
    if (this.outbox.length > 0) this.sendOutboxWhenIdle();
  }

  private sendOutboxWhenIdle(): void {
    const ws = this.ws;
    if (!(ws instanceof HttpTransport) || this.uplinkWaitedOn === ws) return;
    this.uplinkWaitedOn = ws;
    ws.whenIdle(() => {
      if (this.uplinkWaitedOn === ws) this.uplinkWaitedOn = null;
      // A transport that closed meanwhile: the outbox waits for the next connection's welcome.
      if (this.ws === ws && ws.readyState === 1 && this.status === 'open' && this.probe?.welcome == null) this.sendOutbox();
    });
  }

  /** Fails the requests already sent (those still in the outbox are sent after reconnecting). */
  private failPending(code: HubErrorCode): void {
    this.requests.failAll(code, 'The connection closed before the reply', new Set(this.outbox.map((o) => o.id)));
  }

  // ---- the connection ------------------------------------------------------------

  private open(): void {
    const transport = this.transport;
    const timeout = this.options.transportTimeout ?? 2500;
    let ws: WebSocketLike;
    if (transport === 'websocket') ws = new this.Ctor!(this.url, SUBPROTOCOL);
    else {
      const fetchFn = this.options.fetch ?? globalThis.fetch;
      if (typeof fetchFn !== 'function') throw codedError(new TypeError('No fetch function for the HTTP transports: pass options.fetch'), 'WS_ERR_INVALID_OPTION');
      ws = new HttpTransport(this.url, transport, fetchFn.bind(globalThis) as never, timeout);
    }
    this.ws = ws;
    this.transportOpened = false;
    if (transport === 'websocket' && this.transports.length > 1) {
      // A proxy that swallows the upgrade without an answer: give the next transport its turn.
      this.openTimer = setTimeout(() => {
        this.openTimer = null;
        if (this.ws !== ws || this.transportOpened) return;
        detach(ws);
        try {
          ws.close();
        } catch {}
        this.closed(1006, `websocket did not open within ${timeout} ms`);
      }, timeout);
    }
    ws.onopen = () => {
      this.transportOpened = true;
      this.clearOpenTimer();
      this.sendHello(ws);
    };
    this.listen(ws);
  }

  /** Handles what `ws` receives, and its close, as the client's connection. */
  private listen(ws: WebSocketLike): void {
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.heartbeat.alive();
      let m: ServerMessage;
      try {
        m = parseServerMessage(typeof event.data === 'string' ? event.data : String(event.data));
      } catch (error) {
        // A malformed message from the server (a field of the wrong type) loses only itself. Text that is
        // not a JSON object, and types of a later protocol version, are ignored.
        const code = error instanceof WireError ? error.code : 'bad_message';
        if (code === 'bad_message') this.fire('error', new HubError('bad_message', `A malformed message from the server was ignored: ${String((error as Error).message)}`));
        return;
      }
      this.receive(m);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      // The fallback dropped while a welcomed WebSocket waited to take over: take over now.
      if (this.probe?.welcome) this.move();
      else this.closed(event.code, event.reason);
    };
    ws.onerror = () => {};
  }

  private sendHello(ws: WebSocketLike): void {
    const auth = typeof this.options.auth === 'function' ? (this.options.auth as () => unknown)() : this.options.auth;
    Promise.resolve(auth).then(
      (value) => {
        if (ws.readyState === 1 && (this.ws === ws || this.probe?.ws === ws)) ws.send(encodeMessage(value === undefined ? { t: 'hello' } : { t: 'hello', auth: value }));
      },
      () => ws.close(4000, 'auth failed'),
    );
  }

  private clearOpenTimer(): void {
    if (this.openTimer !== null) clearTimeout(this.openTimer);
    this.openTimer = null;
  }

  private closed(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    if (ws) detach(ws);
    this.clearOpenTimer();
    this.heartbeat.stop();
    this.stopMoving();
    if (!this.transportOpened && this.status !== 'closed' && this.transportIndex < this.transports.length - 1) {
      // This transport could not even open (blocked, or buffered by a proxy): the next one, at once.
      this.transportIndex++;
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.status === 'closed') return;
        try {
          this.open();
        } catch (error) {
          this.closed(1006, String((error as Error)?.message ?? error));
        }
      }, 0);
      return;
    }
    // Every transport failed to open: start the list again (back up to WebSocket) after the usual delay.
    if (!this.transportOpened) this.transportIndex = 0;
    this.id = null;
    this.failPending('disconnected');
    const attempts = this.options.reconnect === false ? 0 : (this.options.reconnect?.maxAttempts ?? Infinity);
    const willReconnect = this.status !== 'closed' && !FINAL_CLOSE_CODES.has(code) && this.attempt < attempts;
    const wasOpen = this.status === 'open';
    if (!willReconnect) {
      this.status = 'closed';
      for (const state of this.rooms.values()) for (const [, reject] of state.waiters.splice(0)) reject(new HubError('closed', 'Closed'));
      for (const item of this.outbox) if (item.id !== undefined) this.requests.settle(item.id, new HubError('closed'));
      this.outbox = [];
      this.fire('disconnect', { code, reason, willReconnect: false });
      return;
    }
    this.status = 'reconnecting';
    if (wasOpen) this.fire('disconnect', { code, reason, willReconnect: true });
    const r = this.options.reconnect || {};
    // With several URLs the next one may well be up: the delay grows once per pass over the list.
    const passes = Math.floor(this.attempt / this.urls.length);
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const base = Math.min(r.maxDelay ?? 30_000, (r.initialDelay ?? 500) * Math.pow(r.factor ?? 2, passes));
    const delay = Math.round(base * (1 - (r.jitter ?? 0.5) * Math.random()));
    this.attempt++;
    this.fire('reconnecting', { attempt: this.attempt, delay });
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.status !== 'reconnecting') return;
      try {
        this.open();
      } catch (error) {
        // Another URL of the list that the WebSocket class refuses: a failed attempt, and on to the next.
        this.closed(1006, String((error as Error)?.message ?? error));
      }
    }, delay);
  }

  private receive(m: ServerMessage): void {
    switch (m.t) {
      case 'welcome':
        // One welcome per connection (section 1): another would start a second heartbeat and send the joins again.
        if (this.status !== 'open') this.welcomed(m, false);
        return;
      case 'msg': {
        if (!this.rooms.accept(m)) return; // not in the room, or seen already
        // Our own messages come back only in a replay after reconnecting: count them as seen, do not deliver them.
        if (m.from && this.ids.has(m.from.id)) return;
        this.dispatch(m.ev, m.data, undefined, { room: m.room, mid: m.mid, from: m.from });
        return;
      }
      case 'emit':
        this.dispatch(m.ev, m.data, undefined, m.from ? { from: m.from } : {});
        return;
      case 'req':
        this.dispatch(m.ev, m.data, m.id, {});
        return;
      case 'ack':
        this.requests.answer(m);
        return;
      case 'error':
        if (!this.requests.answer(m)) this.fire('error', new HubError(m.code, m.message));
        return;
      case 'gap': {
        this.rooms.gap(m);
        this.fire('gap', { room: m.room, from: m.from, to: m.to, reset: m.reset });
        return;
      }
      case 'presence': {
        const state = this.rooms.presence(m);
        if (!state) return;
        this.fire('presence', { room: m.room, join: m.join, leave: m.leave, members: [...state.members.values()] });
        return;
      }
      case 'joined': {
        const state = this.rooms.get(m.room) ?? this.rooms.create(m.room, false);
        if (!state) {
          this.fire('error', new HubError('too_many_rooms', `The server put this client in "${m.room.slice(0, 100)}", past maxRooms (${this.rooms.maxRooms}): ignored`));
          return;
        }
        this.rooms.joined(state, m.head, m.epoch, m.members, true);
        this.fire('joined', { room: m.room, members: [...state.members.values()] });
        return;
      }
      case 'left':
        this.rooms.delete(m.room);
        this.fire('left', { room: m.room });
        return;
    }
  }

  /** A connection's welcome (`moved`: a WebSocket taking over from a fallback, with no disconnect in between). */
  private welcomed(m: Extract<ServerMessage, { t: 'welcome' }>, moved: boolean): void {
    this.id = m.id;
    this.ids.add(m.id);
    // Only recent ids matter: older ones' messages have left the server's history.
    if (this.ids.size > MAX_PREVIOUS_IDS + 1) this.ids.delete(this.ids.values().next().value as string);
    this.user = m.user;
    if (m.nodes !== undefined) {
      const current = this.url;
      this.urlList = mergeNodeUrls(this.ownUrls, current, m.nodes, this.options.nodeUrls ?? 'same-host');
      this.urlIndex = this.urlList.indexOf(current);
    }
    this.status = 'open';
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.attempt = 0;
    this.heartbeat.start(this.options.heartbeat === undefined ? m.hb : this.options.heartbeat);
    // The resume goes before what the outbox holds (room messages need the rooms resumed).
    const held = this.outbox;
    this.outbox = [];
    const resume = this.rooms.resumeRequest((room, state) => this.sendJoin(room, state));
    if (resume) {
      const message: Outgoing = { t: 'resume', ...resume };
      // Earlier connection ids: the server leaves out of the replay what was kept from them (our own messages, except).
      const was = [...this.ids].filter((id) => id !== m.id).slice(-MAX_PREVIOUS_IDS);
      if (was.length > 0) message.was = was;
      this.call(message).then(
        (r: ResumeAnswer) => this.rooms.resumed(r, (room, error) => this.fire('error', new HubError(error, `Could not rejoin "${room}"`))),
        () => {},
      );
    }
    this.outbox.push(...held);
    this.sendOutbox();
    if (this.options.rememberTransport !== false) rememberTransport(this.url, this.transport);
    // Only up: a list that puts a fallback before WebSocket prefers it.
    if (this.upgrade && this.transportIndex > this.transports.indexOf('websocket')) this.upgrade.arm(() => this.tryWebSocket());
    if (!moved) this.fire('connect', { id: m.id, user: this.user, reconnected });
  }

  // ---- moving back up to WebSocket (upgrade.ts) ------------------------------------

  /** A background try: a WebSocket to the same URL, while the fallback carries on. */
  private tryWebSocket(): void {
    if (this.status !== 'open' || this.transport === 'websocket' || this.probe !== null) return;
    const timeout = this.options.transportTimeout ?? 2500;
    const fail = (): void => {
      this.probe = null;
      this.upgrade!.failed();
      if (this.status === 'open' && this.transport !== 'websocket') this.upgrade!.arm(() => this.tryWebSocket());
    };
    try {
      this.probe = new UpgradeProbe(this.Ctor!, this.url, SUBPROTOCOL, (ws) => this.sendHello(ws), timeout, this.options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT, () => this.welcomedProbe(), fail);
    } catch {
      fail();
    }
  }

  /** The WebSocket is welcomed: sends now wait in the outbox until what the fallback still has to send reached the hub. */
  private welcomedProbe(): void {
    const probe = this.probe!;
    const old = this.ws;
    if (!(old instanceof HttpTransport)) return this.move();
    // Past transportTimeout the uplink is taken as stuck: its messages may arrive late or not at all, as on a reconnection.
    const stuck = setTimeout(() => this.probe === probe && this.move(), this.options.transportTimeout ?? 2500);
    old.whenIdle(() => {
      clearTimeout(stuck);
      // A microtask later: `done` may run at once, inside the probe's message handler.
      if (this.probe === probe && this.ws === old) queueMicrotask(() => this.probe === probe && this.move());
    });
  }

  /** Moves to the welcomed WebSocket: resume on it, the old transport kept only for the answers it owes. */
  private move(): void {
    const probe = this.probe!;
    this.probe = null;
    const old = this.ws!;
    const previous = this.transport;
    detach(old);
    // Joins in flight on the old transport: sent again on the new one (their answers there would come with no messages).
    for (const state of this.rooms.values()) {
      if (state.last === null && state.joinId !== undefined) this.requests.settle(state.joinId, new HubError('disconnected'));
    }
    const held = new Set(this.outbox.map((o) => o.id));
    const waiting = new Set<number>();
    for (const id of this.requests.ids()) if (!held.has(id)) waiting.add(id);
    if (old.readyState === 1 && waiting.size > 0) {
      const draining: DrainingTransport = new DrainingTransport(old, waiting, this.requests, () => this.draining.delete(draining));
      this.draining.add(draining);
    } else {
      for (const id of waiting) this.requests.settle(id, new HubError('disconnected', 'The connection closed before the reply'));
      try {
        old.close(1000, '');
      } catch {}
    }
    const ws = probe.take();
    this.ws = ws;
    this.transportIndex = this.transports.indexOf('websocket');
    this.transportOpened = true;
    this.listen(ws);
    this.status = 'connecting';
    this.upgrade!.reset();
    this.welcomed(probe.welcome!, true);
    this.fire('transport', { transport: this.transport, previous, id: this.id! });
    for (const m of probe.held) {
      if (this.ws !== ws) break;
      this.receive(m);
    }
  }

  private stopMoving(): void {
    this.upgrade?.cancel();
    this.probe?.abandon();
    this.probe = null;
  }

  private sendJoin(room: string, state: Room): void {
    const id = this.requests.nextId();
    state.joinId = id;
    const message: ClientMessage = state.history ? { t: 'join', id, room, since: 0 } : { t: 'join', id, room };
    const onAnswer = (r: { head: number; epoch?: unknown; members?: Member[] }): void => {
      if (this.rooms.get(room) === state) this.rooms.joined(state, r.head, typeof r.epoch === 'string' ? r.epoch : undefined, r.members, !state.history);
    };
    const onFailure = (error: Error): void => {
      // A refusal or no answer: give up on the room. A lost connection: it is joined again after reconnecting.
      if (error instanceof HubError && error.code !== 'disconnected' && this.rooms.get(room) === state) {
        this.rooms.delete(room);
        for (const [, reject] of state.waiters.splice(0)) reject(error);
      }
    };
    this.requests.track(id, { resolve: onAnswer, reject: onFailure }, this.options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT);
    this.ws!.send(encodeMessage(message));
  }

  private dispatch(event: string, data: unknown, id: number | undefined, meta: Meta): void {
    let replied = false;
    // The answer goes where the request came from, even if the client moved to another transport since.
    const ws = this.ws;
    const reply = ((result: unknown) => {
      if (replied || id === undefined || !ws || ws.readyState !== 1 || this.status === 'closed') return;
      replied = true;
      ws.send(encodeMessage({ t: 'ack', id, data: result }));
    }) as Reply;
    reply.error = (code: string, message?: string) => {
      if (replied || id === undefined || !ws || ws.readyState !== 1 || this.status === 'closed') return;
      replied = true;
      ws.send(encodeMessage({ t: 'error', id, code, message: message ?? code }));
    };
    Object.defineProperty(reply, 'expected', { value: id !== undefined });
    const list = RESERVED_EVENTS.has(event) ? undefined : this.handlers.get(event);
    if (!list || list.length === 0) {
      reply.error('no_handler', `No handler for "${event}"`);
      return;
    }
    for (const handler of [...list]) {
      try {
        const r = handler(data, reply, meta);
        if (r instanceof Promise) r.catch((e: unknown) => reply.error('handler_error', String(e)));
      } catch (error) {
        reply.error('handler_error', String(error));
      }
    }
  }
}

/** Creates a client and resolves once it is connected. */
export function connect<Listen extends EventsMap = DefaultEvents, Send extends EventsMap = DefaultEvents>(
  url: string | readonly string[],
  options?: ClientOptions,
): Promise<HubClient<Listen, Send>> {
  const client = new HubClient<Listen, Send>(url, options);
  return client.ready().then(() => client);
}
