// switchboard/client: the browser (and Node) client of the switchboard.v1
// hub protocol (docs/protocol.md). One ES module, no dependencies, no Node
// modules: it uses the WebSocket class you pass in, or globalThis.WebSocket.
// The protocol itself (messages, codec, codes, the request engine) is
// switchboard/wire, shared with the hub.
import {
  DEFAULT_MAX_ROOMS,
  DEFAULT_REQUEST_TIMEOUT,
  HubError,
  SwitchboardError,
  MAX_PREVIOUS_IDS,
  Requests,
  SUBPROTOCOL,
  checkEventName,
  encodeMessage,
  type ClientMessage,
  type HubErrorCode,
  type Member,
  type Sender,
  type ServerMessage,
} from '../wire/index.js';
import { Rooms, type ResumeAnswer, type Room } from './rooms.js';
import { mergeNodeUrls, type NodeUrlPolicy } from './node-urls.js';
import { rememberTransport } from './transport-memory.js';
import { DrainingTransport, detachHandlers as detach } from './upgrade.js';
import { ClientConnection } from './connection.js';
import { DEFAULT_OUTBOX_SIZE, DEFAULT_UPLINK_QUEUE_SIZE, Outbox, type Outgoing } from './outbox.js';

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
import type { ClientOptions, Data, DefaultEvents, EventsMap, LifecycleEvents, Meta, Reply, Result, WebSocketLike } from './types.js';

const DEFAULT_MAX_MEMBERS_PER_ROOM = 10_000;

/**
 * A hub client. `Listen` are the events the server (and other clients'
 * room messages) send; `Send` the events this client sends.
 */
export class HubClient<Listen extends EventsMap = DefaultEvents, Send extends EventsMap = DefaultEvents> extends ClientConnection {
  private readonly rooms: Rooms;
  private readonly requests = new Requests();
  private readonly outbox: Outbox;
  private everConnected = false;
  /** The connection ids this client has had (the most recent 17): its own messages carry one. */
  private readonly ids = new Set<string>();
  /** Transports moved away from, still waiting for answers to requests sent on them. */
  private readonly draining = new Set<DrainingTransport>();

  /**
   * `url` may be a list: the client connects to the first, and every reconnection (after a
   * connection dropped or an attempt failed) goes to the next one, round-robin, resuming its
   * rooms there. Meant for hubs that share an adapter, so that any of them can resume a room.
   */
  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    super(url, options);
    this.outbox = new Outbox(options.outboxSize ?? DEFAULT_OUTBOX_SIZE, options.uplinkQueueSize ?? DEFAULT_UPLINK_QUEUE_SIZE, this.requests);
    this.rooms = new Rooms(options.maxRooms ?? DEFAULT_MAX_ROOMS, options.maxMembersPerRoom ?? DEFAULT_MAX_MEMBERS_PER_ROOM);
    try {
      this.open();
    } catch (error) {
      this.status = 'closed';
      throw error;
    }
  }

  // ---- events ------------------------------------------------------------------

  on<K extends keyof LifecycleEvents>(event: K, handler: LifecycleEvents[K]): this;
  on<K extends keyof Listen & string>(event: K, handler: (data: Data<Listen, K>, reply: Reply<Result<Listen, K>>, meta: Meta) => unknown): this;
  on(event: string, handler: (...args: any[]) => unknown): this {
    this.handlers.add(event, handler);
    return this;
  }

  off(event: string, handler: (...args: any[]) => unknown): this {
    this.handlers.remove(event, handler);
    return this;
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
    this.outbox.fail();
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
    if (this.status === 'open' && !moving && this.outbox.length === 0 && !this.outbox.uplinkFull(this.ws)) {
      this.ws!.send(encodeMessage(message));
      return;
    }
    this.outbox.hold(message, id);
    if (this.status === 'open' && !moving) this.outbox.sendWhenIdle(this.ws!, this.stillCurrent(this.ws!));
  }

  /** Whether `ws` is still the client's open connection, not being moved away from. */
  private stillCurrent(ws: WebSocketLike): () => boolean {
    return () => this.ws === ws && this.status === 'open' && this.probe?.welcome == null;
  }

  /** Fails the requests already sent (those still in the outbox are sent after reconnecting). */
  protected failPending(code: HubErrorCode): void {
    this.requests.failAll(code, 'The connection closed before the reply', this.outbox.ids());
  }

  protected moveAbandoned(): void {
    if (this.ws) this.outbox.sendOn(this.ws, this.stillCurrent(this.ws));
  }

  protected failHeld(): void {
    for (const state of this.rooms.values()) for (const [, reject] of state.waiters.splice(0)) reject(new HubError('closed', 'Closed'));
    this.outbox.fail();
  }

  protected receive(m: ServerMessage): void {
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
    const held = this.outbox.take();
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
    this.outbox.putBack(held);
    this.outbox.sendOn(this.ws!, this.stillCurrent(this.ws!));
    if (this.options.rememberTransport !== false) rememberTransport(this.url, this.transport);
    // Only up: a list that puts a fallback before WebSocket prefers it.
    if (this.upgrade && this.transportIndex > this.transports.indexOf('websocket')) this.upgrade.arm(() => this.tryWebSocket());
    if (!moved) this.fire('connect', { id: m.id, user: this.user, reconnected });
  }

  // ---- moving back up to WebSocket (upgrade.ts) ------------------------------------

  /** Moves to the welcomed WebSocket: resume on it, the old transport kept only for the answers it owes. */
  protected move(): void {
    const probe = this.probe!;
    this.probe = null;
    const old = this.ws!;
    const previous = this.transport;
    detach(old);
    // Joins in flight on the old transport: sent again on the new one (their answers there would come with no messages).
    for (const state of this.rooms.values()) {
      if (state.last === null && state.joinId !== undefined) this.requests.settle(state.joinId, new HubError('disconnected'));
    }
    const held = this.outbox.ids();
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
    this.handlers.dispatch(event, data, id, meta, this.ws, this);
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
