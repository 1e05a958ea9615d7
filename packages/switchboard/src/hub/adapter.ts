// The hub's boundary with the outside world: where room messages get their
// ids, where history and presence live, and how a publish reaches every
// process. The in-process adapter below is the default; a Redis adapter
// implements the same interface (ids from INCR, history in a capped stream,
// fan-out over pub/sub, presence in hashes).
//
// Every room's id sequence has an epoch: a random name for one run of it,
// drawn again whenever the sequence restarts (a new process for the
// in-process adapter, a lost or flushed counter for a networked one). A
// client resumes with (epoch, last id), so that "id 4" of a sequence that
// restarted is never taken for "id 4" of the one it saw (docs/protocol.md,
// section 5).

import { randomBytes } from 'node:crypto';
import { HistoryBudget, StoredMessage, type HistoryEntry } from './history-store.js';
import { codedError } from '../protocol/switchboard-error.js';
import { HubError } from '../wire/index.js';

/** Who sent a message: a connection and its user. */
export interface Sender {
  id: string;
  user: string | null;
}

/** One room message, as stored in history and delivered to members. */
export interface RoomMessage {
  room: string;
  /** Per-room id, in publish order, never reused (1, 2, 3, ... unless the room was forgotten: see `maxRememberedHeads`). */
  mid: number;
  ev: string;
  /** The data; a message read from history may decode it from `encoded` on each read (the in-process adapter does: see StoredMessage). */
  data: unknown;
  /**
   * `data` as the hub serialised it before publishing: its JSON text, or for
   * binary data (a Buffer, typed array or ArrayBuffer) the JSON string of its
   * base64. Adapters keep it with the message and hand it back unchanged; the
   * hub frames messages from it. An adapter that stores messages outside the
   * process stores this text (and whether `data` was binary), never `data`.
   */
  encoded?: string;
  /** The publishing client (absent for messages the server published). */
  from?: Sender;
  /** Publish time, ms since the Unix epoch (for the age limit of history). */
  time: number;
  /**
   * The epoch `mid` belongs to (HistoryResult.epoch). An adapter whose ids can restart while
   * a room has members (a networked one: its counter flushed or lost) sets it on every
   * message it delivers; a member that joined in another epoch is then closed with 1012 and
   * resumes (it gets a `gap` with `reset`), rather than taking the new run's ids for ones it
   * has seen. The in-process adapter leaves it out: its ids restart only when it is closed.
   */
  epoch?: string;
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
  /**
   * The epoch of the room's id sequence that `head` and `messages` belong to:
   * a string of 1 to 64 characters (short: every join answer carries it),
   * random, and new whenever the sequence restarts, so that no two runs of
   * one room's ids ever share it. An adapter that keeps ids outside the
   * process keeps the epoch next to the counter and reads both in the same
   * atomic step as the history.
   */
  epoch: string;
  /** Messages with mid > since that are still held, oldest first (with `reset`: every held message). */
  messages: RoomMessage[];
  /**
   * Ids after `since` that are no longer held (count or age limit), when there are any.
   * `reset`: the position (`since`, `epoch`) is not one of this sequence (another epoch, or
   * `since` beyond the head): then `from` is 1, `to` is `since`, and `messages` hold every
   * message still held.
   */
  gap?: { from: number; to: number; reset?: boolean };
}

/** What `Adapter.join` answers. */
export interface JoinAnswer {
  /** As `history(room, since, epoch)` answers, read after the member was added. */
  history: HistoryResult;
  /** The room's members, oldest first (the joining one among them), at most `memberLimit`; absent when no limit was given. */
  members?: PresenceMember[];
}

/** A fresh epoch: 48 random bits as 8 base64url characters (a repeat is a 1 in 2^48 chance). */
export function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

export interface PublishOptions {
  ev: string;
  /** JSON-serialisable (the hub checked: `encoded` is its serialisation) or binary. */
  data: unknown;
  /** `data` serialised by the hub (see RoomMessage.encoded): store this with the message. */
  encoded?: string;
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
  /** An event for every local connection but those in `except` (`hub.broadcast`). */
  deliverAll?(ev: string, data: unknown, except: readonly string[] | undefined): void;
  /** A member joined or left a room (on any process). */
  presenceChanged(room: string, change: { join?: PresenceMember; leave?: PresenceMember }): void;
  /**
   * A request for an HTTP fallback session of this process, forwarded by another node
   * (`Adapter.forward`); resolves with the answer to send back. Always resolves (an unknown
   * session is a 404 answer), within the request's `wait` ms plus a moment.
   */
  forwarded?(request: ForwardedRequest): Promise<ForwardedAnswer>;
}

/**
 * An HTTP fallback request (docs/transports.md) that reached a node which does not hold its
 * session, passed to the node that does (`Adapter.forward`). The receiving node already checked
 * the origin, the method and the body's size; the owner checks the session id.
 */
export interface ForwardedRequest {
  /** `send`: the uplink (`body` holds its messages); `close`: the client leaves; `poll`: one long poll (the owner answers once, within `wait` ms). */
  kind: 'send' | 'close' | 'poll';
  /** The full session id, as the client sent it. */
  session: string;
  /** `poll`: the sequence number of the last event the client has. */
  last?: number;
  /** `send`: the request body, unchanged. */
  body?: Uint8Array;
  /** `poll`: ms the owner may hold the poll with nothing to answer. */
  wait?: number;
}

/** The owner's answer to a ForwardedRequest: what the receiving node answers its client. */
export interface ForwardedAnswer {
  status: number;
  /** The response body (a poll: its events; an error: a JSON `{ error, message }`). */
  body?: Uint8Array;
}

/**
 * Everything is asynchronous so that a networked adapter fits, and ordered
 * per room: messages of one room reach `deliverRoom` on every process in
 * mid order, and `history` reflects every publish whose promise resolved.
 *
 * Nothing unserialisable reaches an adapter: the hub serialises every
 * message's `data` before it calls `publish` (a value JSON.stringify rejects,
 * such as a cycle, a BigInt or nesting too deep, is refused there and never
 * stored), and passes the text as `encoded`. Client messages are also
 * depth-checked before they are parsed. Room names, user ids and connection
 * ids are arbitrary strings (`__proto__` included): key maps by them with
 * `Map` or null-prototype objects.
 */
export interface Adapter {
  /** Called once by the hub before any other method. */
  attach(sink: AdapterSink): void | Promise<void>;
  /** Assigns the next id (unless volatile), stores it in history, delivers it everywhere. Resolves with the id (0 if volatile). */
  publish(room: string, message: PublishOptions): Promise<number>;
  /**
   * Held messages with mid > since, and the room's head and epoch. `since` undefined: only the
   * head and epoch. `epoch` is the epoch the client's `since` belongs to (undefined: a client
   * that sent none, trusted as before); when it is not the room's, or `since` is beyond the
   * head, the result is a reset (HistoryResult.gap). Decided in one step with the read, so
   * that a restart between the two cannot slip through.
   */
  history(room: string, since?: number, epoch?: string): Promise<HistoryResult>;
  addMember(room: string, member: PresenceMember): Promise<void>;
  /**
   * Optional: `addMember`, then `history(room, since, epoch)`, then (when `memberLimit` is given)
   * `members(room, memberLimit)`, in one call, so that a networked adapter can make them one
   * round trip, and one for several members joining a room at once. When it rejects, the member
   * was not added (as when addMember rejects). Without it the hub makes the three calls.
   */
  join?(room: string, member: PresenceMember, since: number | undefined, epoch: string | undefined, memberLimit: number | undefined): Promise<JoinAnswer>;
  removeMember(room: string, member: PresenceMember): Promise<void>;
  /** The room's members, oldest first; at most `limit` of them when it is given (a join answer lists only a few). */
  members(room: string, limit?: number): Promise<PresenceMember[]>;
  /** Delivers to every connection of the user, on every process. */
  toUser(user: string, ev: string, data: unknown, from?: Sender): Promise<void>;
  /** Delivers to one connection wherever it is; resolves false when it is nowhere. */
  toClient(client: string, ev: string, data: unknown, from?: Sender): Promise<boolean>;
  /**
   * Delivers to every connection, on every process (`hub.broadcast`). Optional: without it
   * the hub delivers to its own connections only.
   */
  toAll?(ev: string, data: unknown, except?: readonly string[]): Promise<void>;
  /**
   * This process's name among the nodes: 1 to 64 characters of `A-Z a-z 0-9 _ -`, unique among
   * the processes sharing the adapter's backend. HTTP fallback session ids end with it, so that
   * any node knows where a session lives. Optional, with `forward`.
   */
  readonly node?: string;
  /**
   * Passes an HTTP fallback request to node `node`'s `AdapterSink.forwarded` and resolves with
   * its answer (docs/transports.md, "No sticky sessions"). Settles within `timeout` ms: rejects
   * with a HubError of code `forward_timeout` then, and with code `unknown_node` at once when no
   * process of that name listens (it is gone). Optional: without it, a fallback session is
   * served only by the node that opened it (a request on another node gets 404).
   */
  forward?(node: string, request: ForwardedRequest, timeout: number): Promise<ForwardedAnswer>;
  close(): Promise<void>;
}

export interface HistoryLimits {
  /** Messages kept per room (default 1,000). */
  maxMessages?: number;
  /** Age in ms after which a message is dropped from history (default 10 minutes). */
  maxAge?: number;
  /**
   * Rooms with no members and no history left whose last id is remembered,
   * so that their ids go on from there (default 10,000). Beyond it the
   * oldest is forgotten, and from then on every room created afresh starts
   * after the highest id a forgotten room had used: ids are never reused,
   * and a client resuming such a room gets a `gap` for what it cannot have.
   */
  maxRememberedHeads?: number;
  /**
   * Bytes of history kept across all rooms (default 32 MiB): each message
   * costs twice its serialised size (its text and its frame) plus about 256
   * bytes. A store beyond it drops the oldest messages of all rooms first; a
   * client resuming from before them gets a `gap`. `Infinity` turns it off.
   */
  maxBytes?: number;
}

/** HistoryLimits.maxBytes by default: half the 64 MiB one attacker may make a process grow by, leaving the rest to connections. */
export const DEFAULT_HISTORY_BYTES = 32 * 1024 * 1024;

interface RoomState {
  head: number;
  /** Held messages, oldest first; `start` indexes the oldest still held (slots before it are emptied, so nothing dropped stays reachable). */
  log: Array<HistoryEntry | undefined>;
  start: number;
  members: Map<string, PresenceMember>;
}

/** The default adapter: one process, history in memory. */
export class InProcessAdapter implements Adapter {
  /** This process's name (random): the only node there is. */
  readonly node = randomBytes(9).toString('base64url');
  private sink: AdapterSink | null = null;
  private readonly rooms = new Map<string, RoomState>();
  /** Heads of rooms whose state was dropped (no members, history expired): ids go on from there. Oldest first, at most maxRememberedHeads. */
  private readonly heads = new Map<string, number>();
  /** The highest head among rooms forgotten entirely: a room created afresh starts after it, so ids are never reused. */
  private forgottenHead = 0;
  private sweeper: ReturnType<typeof setInterval> | null = null;
  readonly maxMessages: number;
  readonly maxAge: number;
  readonly maxRememberedHeads: number;
  readonly maxBytes: number;
  /** Every held message of every room, oldest first, and their total cost. */
  private readonly budget: HistoryBudget;
  /** Clock, replaceable in tests. */
  now: () => number = Date.now;
  /**
   * The epoch of every room's ids here: drawn when the adapter is created
   * and again when it is closed (its ids start over at 1). One for all rooms
   * is enough, since they all restart together; a room forgotten and created
   * again goes on after its old ids (`maxRememberedHeads`), in the same epoch.
   */
  private currentEpoch = newEpoch();

  constructor(limits: HistoryLimits = {}) {
    this.maxMessages = limits.maxMessages ?? 1000;
    this.maxAge = limits.maxAge ?? 10 * 60_000;
    this.maxRememberedHeads = limits.maxRememberedHeads ?? 10_000;
    this.maxBytes = limits.maxBytes ?? DEFAULT_HISTORY_BYTES;
    if (!(this.maxMessages >= 0) || !(this.maxAge >= 0) || !(this.maxRememberedHeads >= 0) || !(this.maxBytes >= 0)) {
      throw codedError(new RangeError('history limits must be >= 0'), 'WS_ERR_INVALID_OPTION');
    }
    this.budget = new HistoryBudget(this.maxBytes);
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
        if (state.head > 0) this.remember(name, state.head);
      }
    }
  }

  /** Keeps a dropped room's head; past the limit the oldest kept one is forgotten into `forgottenHead`. */
  private remember(name: string, head: number): void {
    if (head <= this.forgottenHead) return; // a fresh room starts after it anyway
    this.heads.set(name, head);
    while (this.heads.size > this.maxRememberedHeads) {
      const [oldest, oldestHead] = this.heads.entries().next().value as [string, number];
      this.heads.delete(oldest);
      if (oldestHead > this.forgottenHead) this.forgottenHead = oldestHead;
    }
  }

  /** The head of a room without state: its remembered one, else where fresh rooms start. */
  private headOf(name: string): number {
    return this.heads.get(name) ?? this.forgottenHead;
  }

  private room(name: string): RoomState {
    let state = this.rooms.get(name);
    if (state === undefined) {
      state = { head: this.headOf(name), log: [], start: 0, members: new Map() };
      this.heads.delete(name);
      this.rooms.set(name, state);
    }
    return state;
  }

  /** Drops what exceeds the count or age limit. */
  private trim(state: RoomState): void {
    const oldest = this.now() - this.maxAge;
    const log = state.log;
    while (state.start < log.length && (log.length - state.start > this.maxMessages || log[state.start]!.message.time < oldest)) this.dropOldest(state);
    if (state.start > 1024 && state.start * 2 > log.length) {
      state.log = log.slice(state.start);
      state.start = 0;
    }
  }

  /** Drops a room's oldest held message. */
  private dropOldest(state: RoomState): void {
    this.budget.remove(state.log[state.start]!);
    state.log[state.start++] = undefined;
  }

  /** While history is over maxBytes, drops the oldest message of all rooms (the oldest of its room too: both are in publish order). */
  private evictOverBudget(publishing: RoomState): void {
    for (let entry = this.budget.overflow(); entry !== null; entry = this.budget.overflow()) {
      const name = entry.message.room;
      const state = this.rooms.get(name)!;
      this.dropOldest(state);
      if (state !== publishing) this.forget(name, state);
    }
  }

  /** Bytes of history held across all rooms, as maxBytes counts them. */
  get heldBytes(): number {
    return this.budget.bytes;
  }

  /** Drops rooms with no members and no history left (keeping only the head), so memory follows activity. */
  private forget(name: string, state: RoomState): void {
    if (state.members.size === 0 && state.start === state.log.length) {
      this.rooms.delete(name);
      if (state.head > 0) this.remember(name, state.head);
    }
  }

  publish(room: string, message: PublishOptions): Promise<number> {
    const state = this.room(room);
    const volatile = message.volatile === true;
    const stored = new StoredMessage(room, volatile ? 0 : ++state.head, message.ev, message.data, this.now());
    if (message.encoded !== undefined) stored.encoded = message.encoded;
    if (message.from !== undefined) stored.from = message.from;
    if (message.except !== undefined && message.except.length > 0) stored.except = message.except;
    if (!volatile && this.maxMessages > 0) {
      state.log.push(this.budget.add(stored));
      this.trim(state);
      this.evictOverBudget(state);
    }
    this.sink?.deliverRoom(stored, message.except, volatile);
    // Framed for live delivery by now: history keeps the text (and the frame), not the parsed data.
    stored.releaseData();
    if (volatile) this.forget(room, state);
    return Promise.resolve(stored.mid);
  }

  /** The epoch of every room's ids (see currentEpoch). */
  get epoch(): string {
    return this.currentEpoch;
  }

  history(room: string, since?: number, epoch?: string): Promise<HistoryResult> {
    const state = this.rooms.get(room);
    const current = this.currentEpoch;
    // Another epoch's ids, or ids this room never assigned (a client that sent no epoch): the sequence restarted.
    const reset = since !== undefined && ((epoch !== undefined && epoch !== current) || since > (state?.head ?? this.headOf(room)));
    if (state === undefined) {
      const head = this.headOf(room);
      if (since === undefined || (since === head && !reset)) return Promise.resolve({ head, epoch: current, messages: [] });
      return Promise.resolve({ head, epoch: current, messages: [], gap: reset ? { from: 1, to: since, reset: true } : { from: since + 1, to: head } });
    }
    this.trim(state);
    const head = state.head;
    if (since === undefined) return Promise.resolve({ head, epoch: current, messages: [] });
    const result: HistoryResult = { head, epoch: current, messages: [] };
    let after = since;
    if (reset) {
      result.gap = { from: 1, to: since, reset: true };
      after = 0;
    }
    const log = state.log;
    const oldest = state.start < log.length ? log[state.start]!.message.mid : head + 1;
    if (!result.gap && oldest > after + 1) result.gap = { from: after + 1, to: oldest - 1 };
    // Ids are dense in the log: the first wanted one is at a computable index.
    const first = state.start + Math.max(0, after + 1 - oldest);
    for (let i = first; i < log.length; i++) result.messages.push(log[i]!.message);
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

  members(room: string, limit = Infinity): Promise<PresenceMember[]> {
    const state = this.rooms.get(room);
    if (state === undefined) return Promise.resolve([]);
    if (state.members.size <= limit) return Promise.resolve([...state.members.values()]);
    const list: PresenceMember[] = [];
    for (const member of state.members.values()) {
      if (list.length >= limit) break;
      list.push(member);
    }
    return Promise.resolve(list);
  }

  toUser(user: string, ev: string, data: unknown, from?: Sender): Promise<void> {
    this.sink?.deliverUser(user, ev, data, from);
    return Promise.resolve();
  }

  toClient(client: string, ev: string, data: unknown, from?: Sender): Promise<boolean> {
    return Promise.resolve(this.sink?.deliverClient(client, ev, data, from) ?? false);
  }

  toAll(ev: string, data: unknown, except?: readonly string[]): Promise<void> {
    this.sink?.deliverAll?.(ev, data, except);
    return Promise.resolve();
  }

  /** One process: a request can only be for this one (any other node is unknown). */
  forward(node: string, request: ForwardedRequest): Promise<ForwardedAnswer> {
    const served = node === this.node ? this.sink?.forwarded?.(request) : undefined;
    return served ?? Promise.reject(new HubError('unknown_node', `No hub node named ${node}`));
  }

  close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.rooms.clear();
    this.budget.clear();
    this.heads.clear();
    this.forgottenHead = 0;
    // Ids start over at 1 if this adapter is used again: a new run of every room's sequence.
    this.currentEpoch = newEpoch();
    this.sink = null;
    return Promise.resolve();
  }
}
