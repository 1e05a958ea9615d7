// The messaging hub: rooms, presence, acks, resume, middleware and rate
// limits over switchboard.v1 (docs/protocol.md). This file is the facade;
// the rooms it delegates to: connection.ts (one connection's state machine),
// rooms.ts (join and replay), outbound.ts (the slow-consumer policy),
// actions.ts (a client's room and direct-message actions), fanout.ts
// (local delivery), operators.ts (`to(room)`, `toUser`), attach.ts (where
// connections come from). Connections reach the hub only through HubContext.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Buffer } from 'node:buffer';
import { WebSocket } from '../node/websocket.js';
import type { WebSocketServer } from '../node/server.js';
import { closeAll } from '../node/close-all.js';
import { codedError } from '../protocol/switchboard-error.js';
import { HubCloseCode, HubError, SUBPROTOCOL, checkEventName, errorMessage, type ParseOptions } from '../wire/index.js';
import { TimedAdapter, rateLimitedChannel, slowConsumerChannel, type HubStats } from './diagnostics.js';
import { InProcessAdapter, type Adapter, type AdapterSink, type HistoryResult, type PresenceMember } from './adapter.js';
import { attach, type Attachment } from './attach.js';
import { HubConnection } from './connection.js';
import type { HubContext, MemberList } from './context.js';
import { Fanout } from './fanout.js';
import { flushCounts } from './outbound.js';
import { RoomOperator, UserOperator, encodeForPublish, idsOf } from './operators.js';
import { parseOptionsOf, resolveOptions, type DefaultEvents, type EventData, type EventNames, type EventsMap, type HubOptions, type Middleware, type ResolvedOptions } from './types.js';
import { encodeMessage } from './wire.js';
import { PublishEndpoint, type PublishRequest } from './publish-api.js';
import { HttpFallback } from './http-fallback.js';

/** The events a hub emits (its EventEmitter side). */
export const HUB_EVENTS: ReadonlySet<string | symbol> = new Set(['connection', 'disconnect', 'slowConsumer', 'error', 'listening', 'newListener', 'removeListener']);

const noop = (): void => {};

/**
 * The hub. Events: 'connection' (client), 'disconnect' (client, code,
 * reason), 'slowConsumer' (client), 'error' (an adapter or handler failure;
 * without a listener it is reported with process.emitWarning), 'listening'.
 */
export class Hub<In extends EventsMap = DefaultEvents, Out extends EventsMap = DefaultEvents> extends EventEmitter {
  readonly options: ResolvedOptions;
  /** `welcome.nodes` (a copy: the list is checked once, when the hub is made). */
  private readonly nodeUrls: string[] | undefined;
  readonly adapter: Adapter;
  /** The WebSocketServer connections come from. */
  readonly wss: WebSocketServer | null;
  private readonly fanout: Fanout;
  private readonly all = new Set<HubConnection<In, Out>>();
  /** Presence removals of closed connections still on their way to the adapter (at most one per room a closed connection was in). */
  private readonly pendingLeaves = new Set<Promise<void>>();
  private readonly middleware: Array<Middleware<In, Out>> = [];
  private readonly ready: Promise<void>;
  private readonly heartbeatTimer: ReturnType<typeof setInterval>;
  private readonly attachment: Attachment;
  private readonly context: HubContext;
  private readonly publishEndpoint: PublishEndpoint | null;
  private readonly fallback: HttpFallback | null;
  private closed = false;
  /** The adapter as the hub calls it: timed on `switchboard:hub:adapter` when somebody subscribes. */
  private readonly timedAdapter: TimedAdapter;
  /** Counted for `stats()`. @internal */
  _slowConsumers = 0;
  /** @internal */ _rateLimited = 0;

  constructor(options: HubOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.nodeUrls = options.nodeUrls === undefined ? undefined : [...options.nodeUrls];
    this.fanout = new Fanout(
      (room) => this.presenceOn(room),
      (error) => this.reportError(error),
    );
    this.adapter = options.adapter ?? new InProcessAdapter(options.history);
    this.timedAdapter = new TimedAdapter(this.adapter);
    // Fallback requests other nodes forward for this node's sessions (docs/transports.md, "No sticky sessions").
    const sink: AdapterSink =
      options.fallback === false ? this.fanout.sink : { ...this.fanout.sink, forwarded: (request) => this.fallback!.serveForwarded(request) };
    this.ready = Promise.resolve(this.adapter.attach(sink));
    this.ready.catch((e: unknown) => this.reportError(e));
    this.context = this.contextFor(parseOptionsOf(this.options));
    this.publishEndpoint =
      options.publishApi === undefined ? null : new PublishEndpoint(options.publishApi, this.options.maxMessageSize, (request) => this.publishFromApi(request));
    this.fallback =
      options.fallback === false
        ? null
        : new HttpFallback(this.options.path ?? '/hub', options.fallback ?? {}, this.options.maxMessageSize, (session, req) =>
            // The virtual connection has what the hub uses of a WebSocket (http-session.ts).
            this.handleConnection(session as unknown as WebSocket, req),
          this.adapter,
          );
    this.attachment = attach(
      this.options,
      (ws, req) => this.handleConnection(ws, req),
      () => super.emit('listening'),
      (e) => this.reportError(e),
      this.publishEndpoint === null && this.fallback === null ? undefined : (req, res) => this.handleRequest(req, res),
    );
    this.wss = this.attachment.wss;
    const beat = Math.max(50, Math.min(this.options.heartbeat.interval, this.options.heartbeat.timeout) / 2);
    this.heartbeatTimer = setInterval(() => this.checkSilence(), beat);
    this.heartbeatTimer.unref?.();
  }

  /** Open connections (after middleware) by id. */
  get clients(): ReadonlyMap<string, HubConnection<In, Out>> {
    return this.fanout.clients as Map<string, HubConnection<In, Out>>;
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

  /**
   * EventEmitter's emit, for the hub's own events only. An application event
   * (`hub.emit('news', data)`, socket.io's `io.emit`) throws a TypeError
   * naming `hub.broadcast`: it would otherwise reach no client and say nothing.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (!HUB_EVENTS.has(event)) {
      throw codedError(
        new TypeError(`hub.emit(${JSON.stringify(String(event))}) emits a hub event; to send an event to every connection use hub.broadcast(event, data), to a room hub.to(room).emit(event, data)`),
        'WS_ERR_INVALID_ARGUMENT',
      );
    }
    return super.emit(event, ...args);
  }

  /**
   * Sends an event to every connection, on every process (on this process
   * only with an adapter without `toAll`); `except` leaves out connections.
   * The message is serialised and framed once; it is not kept in history.
   */
  broadcast<K extends EventNames<Out>>(event: K, data: EventData<Out, K>, options: { except?: Array<HubConnection<any, any> | string> } = {}): Promise<void> {
    checkEventName(event);
    encodeForPublish(event, data); // refuses what cannot be serialised, before anything is sent
    const except = options.except === undefined ? undefined : idsOf(options.except);
    if (this.adapter.toAll !== undefined) return this.adapter.toAll(event, data, except);
    this.fanout.deliverAll(event, data, except);
    return Promise.resolve();
  }

  /** Publishes to a room (see RoomOperator). */
  to(room: string): RoomOperator<Out> {
    return new RoomOperator(this.timedAdapter, room);
  }

  /** Every connection of a user (see UserOperator). */
  toUser(user: string): UserOperator<Out> {
    return new UserOperator(this.timedAdapter, user);
  }

  /** The members of a room, across processes. */
  presence(room: string): Promise<PresenceMember[]> {
    return this.timedAdapter.members(room);
  }

  /** Held history of a room after `since`, with its head and epoch; `epoch` as in Adapter.history. */
  history(room: string, since = 0, epoch?: string): Promise<HistoryResult> {
    return this.timedAdapter.history(room, since, epoch);
  }

  /** Connections of a user on this process. */
  connectionsOf(user: string): HubConnection<In, Out>[] {
    return this.fanout.connectionsOf(user) as HubConnection<In, Out>[];
  }

  /**
   * Answers an HTTP request for the publish endpoint (`publishApi`) or the HTTP fallback transports
   * (`fallback`, docs/transports.md) and returns true; returns false, leaving it alone, for any other
   * request. Call it first in the request handler of the server the hub is attached to.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.publishEndpoint !== null && this.publishEndpoint.handle(req, res)) return true;
    if (this.fallback === null) return false;
    if (this.closed) {
      const url = req.url ?? '';
      if (!url.startsWith(`${this.fallback.path}/`)) return false;
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('hub closed');
      return true;
    }
    return this.fallback.handle(req, res);
  }

  private async publishFromApi(request: PublishRequest): Promise<number | undefined> {
    if (request.room !== undefined) return this.to(request.room).emit(request.event, request.data as never);
    await this.toUser(request.user).emit(request.event, request.data as never);
    return undefined;
  }

  /** Takes a WebSocket connection (from any source; for `noServer` setups). */
  handleConnection(ws: WebSocket, req?: IncomingMessage): HubConnection<In, Out> {
    const client = new HubConnection<In, Out>(this.context, ws, req);
    if (this.closed) {
      ws.close(HubCloseCode.GoingAway, 'hub closed');
      return client;
    }
    this.all.add(client);
    ws.on('message', (data: Buffer, isBinary: boolean) => client.receive(data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => {
      this.all.delete(client);
      const wasOpen = client.connected;
      this.fanout.unregister(client);
      client.closed(code, reason.toString());
      if (wasOpen) super.emit('disconnect', client, code, reason.toString());
    });
    ws.on('error', noop); // the close that follows is what matters
    if (ws.protocol !== SUBPROTOCOL) {
      ws.send(encodeMessage(errorMessage('bad_message', `The subprotocol must be ${SUBPROTOCOL}`)));
      ws.close(HubCloseCode.WrongProtocol, `subprotocol ${SUBPROTOCOL} required`);
      return client;
    }
    const timer = setTimeout(() => {
      if (!client.authenticated && ws.readyState === WebSocket.OPEN) ws.close(HubCloseCode.Timeout, 'no hello');
    }, this.options.helloTimeout);
    timer.unref?.();
    ws.once('close', () => clearTimeout(timer));
    return client;
  }

  /** What connections may ask of the hub. */
  private contextFor(parseOptions: ParseOptions): HubContext {
    return {
      options: this.options,
      adapter: this.timedAdapter,
      parseOptions,
      authenticate: (client) => this.authenticate(client as HubConnection<In, Out>),
      canJoin: (client, room) => (this.options.canJoin ? this.options.canJoin(client, room) : true),
      memberList: (room) => this.memberList(room),
      joinRoom: (room, member, since, epoch) => this.joinRoom(room, member, since, epoch),
      addLocal: (room, client) => this.fanout.addLocal(room, client),
      removeLocal: (room, client) => this.fanout.removeLocal(room, client),
      removeMemberLater: (room, member) => this.removeMemberLater(room, member),
      frameFor: (message) => this.fanout.frameFor(message),
      slowConsumer: (client, bufferedAmount) => {
        this._slowConsumers++;
        if (slowConsumerChannel.hasSubscribers) slowConsumerChannel.publish({ connection: client, bufferedAmount });
        super.emit('slowConsumer', client);
      },
      rateLimited: (client, action) => {
        this._rateLimited++;
        if (rateLimitedChannel.hasSubscribers) rateLimitedChannel.publish({ connection: client, action });
      },
      reportError: (error) => this.reportError(error),
    };
  }

  /** After `hello`: middleware, then welcome. */
  private authenticate(client: HubConnection<In, Out>): void {
    this.runMiddleware(client).then(
      async () => {
        await this.ready;
        if (client.ws.readyState !== WebSocket.OPEN) return;
        this.fanout.register(client);
        client.send(this.nodeUrls === undefined ? { t: 'welcome', id: client.id, user: client.userId, hb: this.options.heartbeat } : { t: 'welcome', id: client.id, user: client.userId, hb: this.options.heartbeat, nodes: this.nodeUrls });
        client.open();
        try {
          super.emit('connection', client);
        } catch (error) {
          this.reportError(error);
        }
      },
      (error: unknown) => {
        const e = error as { code?: unknown; message?: unknown };
        const code = typeof e?.code === 'string' ? e.code : 'unauthorized';
        const message = typeof e?.message === 'string' && e.message !== '' ? e.message : 'Refused by middleware';
        client.send(errorMessage(code, message));
        if (client.ws.readyState === WebSocket.OPEN) {
          client.ws.close(code === 'unauthorized' ? HubCloseCode.Unauthorized : HubCloseCode.PolicyViolation, code === 'unauthorized' ? 'unauthorized' : code.slice(0, 100));
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
          if (result instanceof Promise) result.then(() => next(), (e: unknown) => next((e ?? new HubError('unauthorized', 'Refused by middleware')) as Error));
        } catch (error) {
          next(error as Error);
        }
      });
    }
  }

  private presenceOn(room: string): boolean {
    const p = this.options.presence;
    return p === undefined ? true : typeof p === 'function' ? p(room) : p;
  }

  /** The member list for a join answer. */
  private async memberList(room: string): Promise<MemberList> {
    if (!this.presenceOn(room)) return {};
    const limit = this.options.presenceListLimit;
    const members = await this.timedAdapter.members(room, limit + 1);
    return members.length > limit ? { members: members.slice(0, limit), more: true } : { members };
  }

  private async joinRoom(room: string, member: PresenceMember, since: number | undefined, epoch: string | undefined): Promise<{ history: HistoryResult; members: MemberList }> {
    const limit = this.presenceOn(room) ? this.options.presenceListLimit : undefined;
    const answer = await this.timedAdapter.join(room, member, since, epoch, limit === undefined ? undefined : limit + 1);
    if (limit === undefined) return { history: answer.history, members: {} };
    const members = answer.members ?? [];
    return { history: answer.history, members: members.length > limit ? { members: members.slice(0, limit), more: true } : { members } };
  }

  private reportError(error: unknown): void {
    if (this.listenerCount('error') > 0) super.emit('error', error);
    else process.emitWarning(`switchboard hub: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, 'SwitchboardWarning');
  }

  private checkSilence(): void {
    const { interval, timeout } = this.options.heartbeat;
    const limit = Date.now() - interval - timeout;
    for (const client of this.all) {
      if (client.lastSeen < limit && client.ws.readyState === WebSocket.OPEN) client.ws.close(HubCloseCode.Timeout, 'heartbeat timeout');
    }
  }

  /**
   * A snapshot of this process's part of the hub (docs/observability.md):
   * connections, rooms, memberships, bytes waiting, slow consumers cut and
   * rate-limit hits. Computed when asked, in one pass over the connections.
   */
  stats(): HubStats {
    const stats: HubStats = {
      connections: this.fanout.clients.size,
      rooms: this.fanout.roomCount,
      members: this.fanout.memberCount,
      bufferedBytes: 0,
      slowConsumers: this._slowConsumers,
      rateLimited: this._rateLimited,
      droppedVolatile: 0,
      coalescedWrites: flushCounts.writes,
      coalescedFrames: flushCounts.frames,
    };
    for (const client of this.all) {
      stats.bufferedBytes += client.ws.bufferedAmount;
      stats.droppedVolatile += client.droppedVolatile;
    }
    return stats;
  }

  /** Closes every connection (1001), detaches from the server and closes the adapter. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    this.attachment.stop();
    for (const client of this.all) client.outbound.flush();
    await closeAll([...this.all].map((client) => client.ws), HubCloseCode.GoingAway, 'hub closing', 2000);
    // The connections just closed left their rooms on the way out: let those removals reach the
    // adapter before it closes (a Redis adapter would fail them, and their members would stay
    // listed), for as long as closing the connections may take.
    if (this.pendingLeaves.size > 0) await settledWithin([...this.pendingLeaves], 2000);
    await this.attachment.close();
    await this.adapter.close();
  }

  private removeMemberLater(room: string, member: PresenceMember): void {
    const leave: Promise<void> = this.adapter
      .removeMember(room, member)
      .catch((e: unknown) => this.reportError(e))
      .finally(() => this.pendingLeaves.delete(leave));
    this.pendingLeaves.add(leave);
  }
}

/** Waits until every promise has settled or `ms` have passed, whichever comes first. */
async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([Promise.allSettled(promises), timeUp]);
  clearTimeout(timer);
}
