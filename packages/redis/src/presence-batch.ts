// The joins and leaves of one room from this process, sent to Redis as one
// PRESENCE script per batch (scripts.ts): those queued in one turn of the
// event loop, or while the room's previous script was in flight, go
// together, in order, at most `limit` at a time; one script of a room is in
// flight at a time, so a member's join and leave never cross. A join's
// answer (its history and the member list) is cut from the batch's reply,
// which reads the history and the members once for all its joins.
import type { HistoryResult, JoinAnswer, PresenceMember, RoomMessage } from 'switchboard/hub';
import { parsePresenceValue, parseStreamEntry } from './codec.js';
import type { RedisLink } from './link.js';
import type { Continuation } from './room-feed.js';
import { PRESENCE } from './scripts.js';

/** A join or leave waiting for its room's next PRESENCE script. */
export interface PresenceChange {
  kind: 'j' | 'l';
  id: string;
  /** A join's member JSON. */
  json: string;
  since?: number;
  epoch?: string;
  /** A join that wants the member list: at most this many (the batch reads it once for all). */
  limit?: number;
  done(reply: PresenceReply | null, index: number, error?: unknown): void;
}

export type PresenceReply = [added: number, epoch: string, head: number, all: number, entries: unknown[], resets: number[], list: string[] | null];

/** A room's queue: its changes not yet sent, and whether a script of it is scheduled or in flight. */
export interface PresenceQueue {
  /** The room's subscription is in place: its scripts wait for it (their reads then position the room's feed). */
  ready: Promise<void>;
  /** Joins and leaves not yet sent, in order. */
  changes: PresenceChange[];
  /** A script of this room is scheduled or in flight (one at a time, so changes stay in order). */
  busy: boolean;
}

export interface BatchHooks<Q> {
  /** The script's KEYS for `room`: presence, deadlines, channel, state, log (one hash tag). */
  keys(room: string): string[];
  /** Its first ARGV: epoch candidate, ttl, node, maxAge, state ttl. */
  args(): string[];
  /** A batch's reply, before its changes settle. */
  answered(room: string, queue: Q, reply: PresenceReply): void;
}

export class PresenceBatcher<Q extends PresenceQueue> {
  constructor(
    private readonly link: RedisLink,
    /** Changes per script, at most. */
    private readonly limit: number,
    private readonly reportError: (error: unknown) => void,
    private readonly hooks: BatchHooks<Q>,
  ) {}

  /** Queues a change of `room`: sent with the others of this turn once the subscription is in place and no script of the room is in flight. */
  enqueue(room: string, entry: Q, change: PresenceChange): void {
    entry.changes.push(change);
    if (entry.busy) return;
    entry.busy = true;
    entry.ready.then(
      () => setImmediate(() => this.flush(room, entry)),
      (error: unknown) => {
        const failed = entry.changes.splice(0);
        entry.busy = false;
        for (let i = 0; i < failed.length; i++) failed[i]!.done(null, i, error);
      },
    );
  }

  /** Sends up to `limit` queued changes of `room` as one PRESENCE script, then the next batch, until none is left. */
  private flush(room: string, entry: Q): void {
    const batch = entry.changes.splice(0, this.limit);
    if (batch.length === 0) {
      entry.busy = false;
      return;
    }
    let list = false;
    const args = [...this.hooks.args(), ''];
    for (const change of batch) {
      if (change.limit !== undefined) list = true;
      args.push(change.kind, change.id, change.json, change.since === undefined ? '' : String(change.since), change.epoch ?? '');
    }
    args[5] = list ? '1' : '0';
    this.link
      .run(PRESENCE, this.hooks.keys(room), args)
      .then(
        (reply) => {
          const answer = reply as PresenceReply;
          this.hooks.answered(room, entry, answer);
          for (let i = 0; i < batch.length; i++) {
            try {
              batch[i]!.done(answer, i);
            } catch (error) {
              batch[i]!.done(null, i, error);
            }
          }
        },
        (error: unknown) => {
          for (let i = 0; i < batch.length; i++) batch[i]!.done(null, i, error);
        },
      )
      .catch(this.reportError)
      .finally(() => this.flush(room, entry));
  }
}

/** A history read's answer to a client at `since` (undefined: only the head and epoch), with the gap it cannot have. */
export function historyResult(found: Continuation, since: number | undefined): HistoryResult {
  const result: HistoryResult = { head: found.head, epoch: found.epoch, messages: found.messages };
  if (since === undefined) return result;
  if (found.reset) {
    result.gap = { from: 1, to: since, reset: true };
    return result;
  }
  const oldest = found.messages.length > 0 ? found.messages[0]!.mid : found.head + 1;
  if (oldest > since + 1) result.gap = { from: since + 1, to: oldest - 1 };
  return result;
}

/** What the join at `index` of a PRESENCE batch gets: its history (from the entries read once for all) and the member list. */
export function joinAnswer(room: string, reply: PresenceReply, index: number, since: number | undefined, limit: number | undefined): JoinAnswer {
  const [, epoch, rawHead, , entries, resets] = reply;
  const head = Number(rawHead);
  let messages: RoomMessage[] = [];
  const reset = resets[index] === 1;
  if (since !== undefined && entries.length > 0) {
    const parsed = parsedEntries(room, reply);
    if (reset) messages = parsed;
    else {
      // Oldest first: those after `since` are a tail.
      let first = parsed.length;
      while (first > 0 && parsed[first - 1]!.mid > since) first--;
      messages = first === 0 ? parsed : parsed.slice(first);
    }
  }
  const answer: JoinAnswer = { history: historyResult({ epoch, head, reset, messages }, since) };
  if (limit !== undefined) {
    const members = parsedMembers(reply);
    answer.members = members.length > limit ? members.slice(0, limit) : members;
  }
  return answer;
}

/** A batch's entries parsed once for all its joins, oldest first (kept on the reply). */
const parsedOf = new WeakMap<PresenceReply, { messages?: RoomMessage[]; members?: PresenceMember[] }>();

function parsedEntries(room: string, reply: PresenceReply): RoomMessage[] {
  let cache = parsedOf.get(reply);
  if (cache === undefined) parsedOf.set(reply, (cache = {}));
  if (cache.messages !== undefined) return cache.messages;
  const [, epoch, , all, entries] = reply;
  const messages: RoomMessage[] = new Array(entries.length);
  // Newest first unless every held one was read (XREVRANGE for a tail, XRANGE for all).
  for (let i = 0; i < entries.length; i++) messages[Number(all) === 1 ? i : entries.length - 1 - i] = parseStreamEntry(room, epoch, entries[i]);
  return (cache.messages = messages);
}

function parsedMembers(reply: PresenceReply): PresenceMember[] {
  let cache = parsedOf.get(reply);
  if (cache === undefined) parsedOf.set(reply, (cache = {}));
  if (cache.members !== undefined) return cache.members;
  const parsed = (reply[6] ?? []).map(parsePresenceValue).sort((a, b) => a.joined - b.joined);
  return (cache.members = parsed.map((p) => p.member));
}
