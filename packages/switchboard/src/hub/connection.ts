// One client connection, server side: the message state machine (hello →
// middleware → open → closed), the rate limit, handlers and requests. Room
// membership lives in rooms.ts, writing under the slow-consumer policy in
// outbound.ts, the client's room and direct-message actions in actions.ts.
import type { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from '../node/websocket.js';
import { HubCloseCode, HubError, RESERVED_EVENTS, Requests, WireError, checkEventName, errorMessage, type ClientMessage, type ServerMessage } from '../wire/index.js';
import { runAction } from './actions.js';
import type { PresenceMember, Sender } from './adapter.js';
import type { HubContext } from './context.js';
import { EarlyBuffer } from './limits.js';
import { Outbound } from './outbound.js';
import { TokenBucket } from './rate-limit.js';
import { Rooms } from './rooms.js';
import type { DefaultEvents, EventData, EventNames, EventResult, EventsMap, Handshake, Reply } from './types.js';
import { parseClientMessage } from './wire.js';
import { requestChannel, type HubRequestMessage } from './diagnostics.js';

const enum State {
  Hello,
  Auth,
  Open,
  Closed,
}

type Handler = (data: unknown, reply: Reply) => unknown;

const noop = (): void => {};

/**
 * One client connection, server side. `In` are the events the client sends,
 * `Out` those the server sends.
 */
export class HubConnection<In extends EventsMap = DefaultEvents, Out extends EventsMap = DefaultEvents> {
  readonly id = randomBytes(9).toString('base64url');
  /** Set by middleware; `hub.toUser(id)` reaches every connection with it. */
  userId: string | null = null;
  /** Application state. */
  data: Record<string, unknown> = {};
  /** JSON shown with this member in presence (set before joining). */
  presenceMeta: unknown = undefined;
  readonly handshake: Handshake;
  /** When this connection last sent anything (Date.now()): the heartbeat closes silent ones. */
  lastSeen = Date.now();
  private state = State.Hello;
  private readonly handlers = new Map<string, Handler[]>();
  private readonly disconnectHandlers: Array<(code: number, reason: string) => void> = [];
  private readonly requests = new Requests();
  private readonly bucket: TokenBucket | null;
  /** When the last ping that cost no token arrived (Date.now()). */
  private lastFreePing = -Infinity;
  private readonly early: EarlyBuffer;
  /** Client messages that change state (join, pub, ...) run one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  /** Closed by the hub for a rate-limit violation: what still arrives is ignored. */
  private closing = false;
  /** @internal Writing to the socket under the slow-consumer policy. */
  readonly outbound: Outbound;
  /** @internal The rooms this connection is in. */
  readonly memberships: Rooms;

  constructor(
    private readonly ctx: HubContext,
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
    const limit = ctx.options.rateLimit;
    this.bucket = limit === false ? null : new TokenBucket(limit.rate ?? 50, limit.burst ?? 100);
    this.early = new EarlyBuffer(ctx.options);
    this.outbound = new Outbound(ws, ctx.options, (bufferedAmount) => ctx.slowConsumer(this, bufferedAmount));
    this.memberships = new Rooms(
      ctx,
      this,
      this.outbound,
      () => this.state === State.Closed,
      () => {
        this.outbound.flush();
        if (ws.readyState === WebSocket.OPEN) ws.close(HubCloseCode.InternalError, 'replay failed');
      },
      () => {
        this.outbound.flush();
        if (ws.readyState === WebSocket.OPEN) ws.close(HubCloseCode.ServiceRestart, 'room ids restarted');
      },
    );
  }

  /** Rooms this connection is in. */
  get rooms(): ReadonlySet<string> {
    return new Set(this.memberships.names());
  }

  get connected(): boolean {
    return this.state === State.Open;
  }

  /** Volatile messages dropped because the connection was slow. */
  get droppedVolatile(): number {
    return this.outbound.droppedVolatile;
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
    if (this.state !== State.Open) return Promise.reject(new HubError('disconnected', 'The connection is not open'));
    const id = this.requests.nextId();
    const timeout = options.timeout ?? this.ctx.options.requestTimeout;
    const answer = this.requests.wait<EventResult<Out, K>>(id, timeout, `No reply to request "${event}" within ${timeout} ms`);
    this.send({ t: 'req', id, ev: event, data });
    return answer;
  }

  /** Joins a room (the client is told with `joined`). */
  join(room: string): Promise<void> {
    return this.serial(async () => {
      if (this.memberships.has(room)) return;
      const result = await this.memberships.join(room, undefined, undefined, this.member());
      if (result === null) return;
      this.send({ t: 'joined', room, head: result.history.head, epoch: result.history.epoch, ...result.members });
      this.memberships.goLive(room, result.history, undefined);
    });
  }

  /** Leaves a room (the client is told with `left`). */
  leave(room: string): Promise<void> {
    return this.serial(async () => {
      if (await this.memberships.leave(room, this.member())) this.send({ t: 'left', room });
    });
  }

  /** Closes the connection (1000 by default). */
  disconnect(code = 1000, reason = ''): void {
    this.outbound.flush();
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
  }

  /** @internal Sends one message to this connection, subject to the slow-consumer policy. */
  send(message: ServerMessage): void {
    this.outbound.send(message);
  }

  /** @internal This connection as a room member (presence). */
  member(): PresenceMember {
    const member: PresenceMember = { id: this.id, user: this.userId };
    if (this.presenceMeta !== undefined) member.meta = this.presenceMeta;
    return member;
  }

  /** @internal This connection as the sender of a message. */
  sender(): Sender {
    return { id: this.id, user: this.userId };
  }

  /** Runs client-triggered state changes one after another. */
  private serial(task: () => Promise<void>): Promise<void> {
    const run = this.chain.then(task);
    this.chain = run.catch(noop);
    return run;
  }

  // ---- the state machine, driven by the hub ----------------------------------------

  /** @internal A frame arrived. */
  receive(data: Buffer, isBinary: boolean): void {
    this.lastSeen = Date.now();
    if (this.state === State.Closed || this.closing) return;
    const options = this.ctx.options;
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
      message = parseClientMessage(text, this.ctx.parseOptions);
    } catch (error) {
      const e = error as WireError;
      if (!this.overRateLimit(e.ref)) this.send(errorMessage(e.code ?? 'bad_message', e.message, e.ref));
      return;
    }
    const id = 'id' in message ? message.id : undefined;
    if (message.t === 'ping') {
      // The heartbeat's own ping (one per half interval) is free, so that a client near its limit is never
      // cut off for keeping its connection alive; any more pings cost a token like every other message.
      const now = this.lastSeen;
      if (now - this.lastFreePing >= options.heartbeat.interval / 2) this.lastFreePing = now;
      else if (this.overRateLimit(undefined)) return;
      this.send({ t: 'pong', ts: message.ts });
      return;
    }
    if (message.t === 'ack' || message.t === 'error') {
      // An answer to a request of the server's is free (the server chose to ask); anything else costs a token.
      // Never answered with an error naming its id: that id is the server's own request counter.
      if (!(id !== undefined && this.requests.has(id)) && this.overRateLimit(undefined)) return;
    } else if (this.overRateLimit(id)) return;
    if (this.state === State.Hello) {
      if (message.t !== 'hello') {
        this.send(errorMessage('hello_required', 'The first message must be "hello"', id));
        return;
      }
      this.state = State.Auth;
      this.handshake.auth = message.auth;
      this.ctx.authenticate(this);
      return;
    }
    if (this.state === State.Auth) {
      // Held as text, parsed again once open: a parsed message can take many times the memory of its text.
      if (!this.early.push(text, data.length)) this.send(errorMessage('rate_limited', 'Too many messages before the hello was answered', id));
      return;
    }
    this.dispatch(message);
  }

  /** Takes a token; when there is none, applies the rate-limit policy and returns true. */
  private overRateLimit(ref: number | undefined): boolean {
    if (this.bucket === null || this.bucket.take()) return false;
    const limit = this.ctx.options.rateLimit;
    if (limit !== false && limit.onLimit === 'disconnect') {
      this.ctx.rateLimited(this, 'disconnect');
      this.closing = true;
      this.outbound.flush();
      this.ws.close(HubCloseCode.RateLimited, 'rate limit exceeded');
      return true;
    }
    this.ctx.rateLimited(this, 'reject');
    this.send({ ...errorMessage('rate_limited', 'Too many messages', ref), retryAfter: this.bucket.retryAfter() });
    return true;
  }

  /** @internal Whether the connection is past `hello` and middleware (or closed). */
  get authenticated(): boolean {
    return this.state >= State.Open;
  }

  /** @internal Middleware passed: open, and run what arrived meanwhile. */
  open(): void {
    this.state = State.Open;
    for (const text of this.early.drain()) {
      let message: ClientMessage;
      try {
        message = parseClientMessage(text, this.ctx.parseOptions); // it parsed on arrival, with the same limits
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
      case 'error':
        // An error about something we sent (no id), or a late reply after a timeout: nothing waits for it.
        this.requests.answer(message);
        return;
      case 'ping':
        return; // answered on arrival
      default: {
        // Timed from arrival, so that the wait behind this connection's earlier actions counts too.
        const start = requestChannel.hasSubscribers ? performance.now() : -1;
        this.serial(() => (this.state === State.Open ? runAction(this.ctx, this, message) : Promise.resolve())).then(
          () => {
            if (start >= 0 && requestChannel.hasSubscribers) this.publishRequest(message.t, roomOf(message), start, null);
          },
          (error: unknown) => {
            const id = 'id' in message ? message.id : undefined;
            const known = error instanceof WireError || error instanceof HubError;
            if (start >= 0 && requestChannel.hasSubscribers) this.publishRequest(message.t, roomOf(message), start, known ? error.code : 'internal');
            if (known) this.send(errorMessage(error.code, error.message, id));
            else {
              this.send(errorMessage('internal', 'Internal error', id));
              this.ctx.reportError(error);
            }
          },
        );
      }
    }
  }

  private publishRequest(kind: string, event: string | null, start: number, error: string | null): void {
    requestChannel.publish({ connection: this, kind, event, durationMs: performance.now() - start, error } satisfies HubRequestMessage);
  }

  /** Calls the handlers of an event; for a request, the first reply wins. */
  private runHandlers(event: string, data: unknown, id: number | undefined): void {
    const handlers = this.handlers.get(event);
    const start = id !== undefined && requestChannel.hasSubscribers ? performance.now() : -1;
    if (handlers === undefined || handlers.length === 0) {
      if (id !== undefined) this.send(errorMessage('no_handler', `No handler for "${event}"`, id));
      if (start >= 0) this.publishRequest('req', event, start, 'no_handler');
      return;
    }
    let replied = false;
    const reply = ((result: unknown) => {
      if (replied || id === undefined) return;
      replied = true;
      this.send({ t: 'ack', id, data: result });
      if (start >= 0 && requestChannel.hasSubscribers) this.publishRequest('req', event, start, null);
    }) as Reply;
    reply.error = (code: string, message?: string) => {
      if (replied || id === undefined) return;
      replied = true;
      this.send(errorMessage(code, message ?? code, id));
      if (start >= 0 && requestChannel.hasSubscribers) this.publishRequest('req', event, start, code);
    };
    Object.defineProperty(reply, 'expected', { value: id !== undefined });
    const failed = (error: unknown): void => {
      this.ctx.reportError(error);
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
  closed(code: number, reason: string): void {
    if (this.state === State.Closed) return;
    const wasOpen = this.state === State.Open;
    this.state = State.Closed;
    this.outbound.end();
    this.requests.failAll('disconnected', 'The connection closed before the reply');
    this.memberships.leaveAll(this.member());
    if (!wasOpen) return;
    for (const handler of [...this.disconnectHandlers]) {
      try {
        handler(code, reason);
      } catch (error) {
        this.ctx.reportError(error);
      }
    }
  }
}

/** The room an action is about (`join`, `leave`, `pub`), for `switchboard:hub:request`; null for the others. */
function roomOf(message: ClientMessage): string | null {
  return 'room' in message && typeof message.room === 'string' ? message.room : null;
}
