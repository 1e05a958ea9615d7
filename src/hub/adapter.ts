// The hub's boundary with the outside world: where room messages get their
// ids, where history and presence live, and how a publish reaches every
// process. The in-process adapter below is the default; a Redis adapter
// implements the same interface (ids from INCR, history in a capped stream,
// fan-out over pub/sub, presence in hashes).

/** Who sent a message: a connection and its user. */
export interface Sender {
  id: string;
  user: string | null;
}

/** One room message, as stored in history and delivered to members. */
export interface RoomMessage {
  room: string;
  /** Per-room id: 1, 2, 3, ... in publish order, never reused. */
  mid: number;
  ev: string;
  data: unknown;
  /** The publishing client (absent for messages the server published). */
  from?: Sender;
  /** Publish time, ms since the epoch (for the age limit of history). */
  time: number;
  /**
   * Connection ids the message was not delivered to (the publisher, `except`).
   * Kept with the message so that a replay to the same client after it
   * reconnected (under a new id, naming its old ones) leaves it out too.
   */
  except?: readonly string[];
}

/** A room member as presence reports it: one per connection. */
export interface PresenceMember {
  /** Connection id. */
  id: string;
  /** The user id middleware set, or null. */
  user: string | null;
  /** Whatever the application attached with `client.presenceMeta` (JSON). */
  meta?: unknown;
}

export interface HistoryResult {
  /** The newest id the room has assigned (0 when none yet). */
  head: number;
  /** Messages with mid > since that are still held, oldest first. */
  messages: RoomMessage[];
  /** Ids after `since` that are no longer held (count or age limit), when there are any. */
  gap?: { from: number; to: number; reset?: boolean };
}

export interface PublishOptions {
  ev: string;
  data: unknown;
  from?: Sender;
  /** Connection ids that must not receive it, live or in a replay after they resume. */
  except?: readonly string[];
  /** Volatile: no id, no history, dropped for slow consumers. */
  volatile?: boolean;
}

/** What an adapter delivers to; the hub implements it for its local connections. */
export interface AdapterSink {
  /** A room message (mid set) or a volatile one (mid 0), for local members of `room`. */
  deliverRoom(message: RoomMessage, except: readonly string[] | undefined, volatile: boolean): void;
  /** An event for every local connection of a user. */
  deliverUser(user: string, ev: string, data: unknown, from: Sender | undefined): void;
  /** An event for one local connection; returns whether it is here. */
  deliverClient(client: string, ev: string, data: unknown, from: Sender | undefined): boolean;
  /** A member joined or left a room (on any process). */
  presenceChanged(room: string, change: { join?: PresenceMember; leave?: PresenceMember }): void;
}

/**
 * Everything is asynchronous so that a networked adapter fits, and ordered
 * per room: messages of one room reach `deliverRoom` on every process in
 * mid order, and `history` reflects every publish whose promise resolved.
 */
export interface Adapter {
  /** Called once by the hub before any other method. */
  attach(sink: AdapterSink): void | Promise<void>;
  /** Assigns the next id (unless volatile), stores it in history, delivers it everywhere. Resolves with the id (0 if volatile). */
  publish(room: string, message: PublishOptions): Promise<number>;
  /** Held messages with mid > since. `since` undefined: only the head. */
  history(room: string, since?: number): Promise<HistoryResult>;
  addMember(room: string, member: PresenceMember): Promise<void>;
  removeMember(room: string, member: PresenceMember): Promise<void>;
  members(room: string): Promise<PresenceMember[]>;
  /** Delivers to every connection of the user, on every process. */
  toUser(user: string, ev: string, data: unknown, from?: Sender): Promise<void>;
  /** Delivers to one connection wherever it is; resolves false when it is nowhere. */
  toClient(client: string, ev: string, data: unknown, from?: Sender): Promise<boolean>;
  close(): Promise<void>;
}

export interface HistoryLimits {
  /** Messages kept per room (default 1,000). */
  maxMessages?: number;
  /** Age in ms after which a message is dropped from history (default 10 minutes). */
  maxAge?: number;
}

interface RoomState {
  head: number;
  /** Held messages, oldest first; `start` indexes the oldest still held. */
  log: RoomMessage[];
  start: number;
  members: Map<string, PresenceMember>;
}

/** The default adapter: one process, history in memory. */
export class InProcessAdapter implements Adapter {
  private sink: AdapterSink | null = null;
  private readonly rooms = new Map<string, RoomState>();
  /** Heads of rooms whose state was dropped (no members, history expired): ids go on from there. */
  private readonly heads = new Map<string, number>();
  private sweeper: ReturnType<typeof setInterval> | null = null;
  readonly maxMessages: number;
  readonly maxAge: number;
  /** Clock, replaceable in tests. */
  now: () => number = Date.now;

  constructor(limits: HistoryLimits = {}) {
    this.maxMessages = limits.maxMessages ?? 1000;
    this.maxAge = limits.maxAge ?? 10 * 60_000;
    if (!(this.maxMessages >= 0) || !(this.maxAge >= 0)) throw new RangeError('history limits must be >= 0');
  }

  attach(sink: AdapterSink): void {
    this.sink = sink;
    // Rooms nobody touches any more still expire: their history is dropped once too old.
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(this.maxAge, 60_000)));
    this.sweeper.unref?.();
  }

  /** Trims every room's history and drops the state of rooms with no members and nothing held. */
  sweep(): void {
    for (const [name, state] of this.rooms) {
      this.trim(state);
      if (state.members.size === 0 && state.start === state.log.length) {
        this.rooms.delete(name);
        if (state.head > 0) this.heads.set(name, state.head);
      }
    }
  }

  private room(name: string): RoomState {
    let state = this.rooms.get(name);
    if (state === undefined) {
      state = { head: this.heads.get(name) ?? 0, log: [], start: 0, members: new Map() };
      this.heads.delete(name);
      this.rooms.set(name, state);
    }
    return state;
  }

  /** Drops what exceeds the count or age limit. */
  private trim(state: RoomState): void {
    const oldest = this.now() - this.maxAge;
    const log = state.log;
    while (state.start < log.length && (log.length - state.start > this.maxMessages || log[state.start]!.time < oldest)) state.start++;
    if (state.start > 1024 && state.start * 2 > log.length) {
      state.log = log.slice(state.start);
      state.start = 0;
    }
  }

  /** Drops rooms with no members and no history left, so memory follows activity. */
  private forget(name: string, state: RoomState): void {
    if (state.members.size === 0 && state.start === state.log.length && state.head === 0) this.rooms.delete(name);
  }

  publish(room: string, message: PublishOptions): Promise<number> {
    const state = this.room(room);
    const volatile = message.volatile === true;
    const stored: RoomMessage = { room, mid: volatile ? 0 : ++state.head, ev: message.ev, data: message.data, time: this.now() };
    if (message.from !== undefined) stored.from = message.from;
    if (message.except !== undefined && message.except.length > 0) stored.except = message.except;
    if (!volatile && this.maxMessages > 0) {
      state.log.push(stored);
      this.trim(state);
    }
    this.sink?.deliverRoom(stored, message.except, volatile);
    if (volatile) this.forget(room, state);
    return Promise.resolve(stored.mid);
  }

  history(room: string, since?: number): Promise<HistoryResult> {
    const state = this.rooms.get(room);
    if (state === undefined) {
      const head = this.heads.get(room) ?? 0;
      if (since === undefined || since === head) return Promise.resolve({ head, messages: [] });
      return Promise.resolve({ head, messages: [], gap: since > head ? { from: 1, to: since, reset: true } : { from: since + 1, to: head } });
    }
    this.trim(state);
    const head = state.head;
    if (since === undefined) return Promise.resolve({ head, messages: [] });
    const result: HistoryResult = { head, messages: [] };
    let after = since;
    if (since > head) {
      // The client saw ids this room never assigned: the sequence restarted (a server restart with in-memory history).
      result.gap = { from: 1, to: since, reset: true };
      after = 0;
    }
    const log = state.log;
    const oldest = state.start < log.length ? log[state.start]!.mid : head + 1;
    if (!result.gap && oldest > after + 1) result.gap = { from: after + 1, to: oldest - 1 };
    // Ids are dense in the log: the first wanted one is at a computable index.
    const first = state.start + Math.max(0, after + 1 - oldest);
    result.messages = log.slice(first);
    return Promise.resolve(result);
  }

  addMember(room: string, member: PresenceMember): Promise<void> {
    const state = this.room(room);
    state.members.set(member.id, member);
    this.sink?.presenceChanged(room, { join: member });
    return Promise.resolve();
  }

  removeMember(room: string, member: PresenceMember): Promise<void> {
    const state = this.rooms.get(room);
    if (state !== undefined && state.members.delete(member.id)) {
      this.sink?.presenceChanged(room, { leave: member });
      this.forget(room, state);
    }
    return Promise.resolve();
  }

  members(room: string): Promise<PresenceMember[]> {
    const state = this.rooms.get(room);
    return Promise.resolve(state ? [...state.members.values()] : []);
  }

  toUser(user: string, ev: string, data: unknown, from?: Sender): Promise<void> {
    this.sink?.deliverUser(user, ev, data, from);
    return Promise.resolve();
  }

  toClient(client: string, ev: string, data: unknown, from?: Sender): Promise<boolean> {
    return Promise.resolve(this.sink?.deliverClient(client, ev, data, from) ?? false);
  }

  close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.rooms.clear();
    this.heads.clear();
    this.sink = null;
    return Promise.resolve();
  }
}
