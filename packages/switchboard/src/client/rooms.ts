// The rooms a HubClient keeps state for: the last message id seen and its
// epoch (what a resume starts after, docs/protocol.md section 5), the members,
// and the joins waiting for an answer. Bounded: `maxRooms` rooms, `maxMembers`
// members a room. Sending and events stay in HubClient.
import type { Member, ServerMessage } from '../wire/index.js';

export interface Room {
  /** Highest message id seen (null until the join is answered). */
  last: number | null;
  /** The epoch `last` belongs to (section 5), sent back with it on resume; null from a server that names none. */
  epoch: string | null;
  /** Ask for the held history on the first join. */
  history: boolean;
  /** The id of the join request in flight (a move to another transport sends it again). */
  joinId?: number;
  members: Map<string, Member>;
  waiters: Array<[(v: { head: number; members: Member[] }) => void, (e: Error) => void]>;
}

export type ResumeAnswer = { rooms: Record<string, { epoch?: string; members?: Member[]; error?: string }> };

export class Rooms extends Map<string, Room> {
  constructor(
    readonly maxRooms: number,
    readonly maxMembers: number,
  ) {
    super();
  }

  /** A room's fresh state, kept; undefined past maxRooms. */
  create(room: string, history: boolean): Room | undefined {
    if (this.size >= this.maxRooms) return undefined;
    const state: Room = { last: null, epoch: null, history, members: new Map(), waiters: [] };
    this.set(room, state);
    return state;
  }

  /** A join answered (or the server's `joined`): ids count from `head` (or from 0 to get the history), the waiters resolve. */
  joined(state: Room, head: number, epoch: string | undefined, members: Member[] = [], atHead: boolean): void {
    if (state.last === null) {
      state.last = atHead ? head : 0;
      state.epoch = epoch ?? null;
    }
    state.members = this.memberMap(members);
    for (const [resolve] of state.waiters.splice(0)) resolve({ head, members });
  }

  /** At most maxMembers of `members`, by id. */
  memberMap(members: Member[]): Map<string, Member> {
    const map = new Map<string, Member>();
    for (const member of members) {
      if (map.size >= this.maxMembers) break;
      map.set(member.id, member);
    }
    return map;
  }

  /** A room message counted as seen; false for a room this client is not in, or an id seen already. */
  accept(m: Extract<ServerMessage, { t: 'msg' }>): boolean {
    const state = this.get(m.room);
    if (!state) return false;
    if (typeof m.mid === 'number') {
      if (state.last !== null && m.mid <= state.last) return false;
      state.last = m.mid;
    }
    return true;
  }

  /** A `gap`: with `reset`, what follows is numbered afresh, in the epoch the reset names. */
  gap(m: Extract<ServerMessage, { t: 'gap' }>): void {
    const state = this.get(m.room);
    if (state && m.reset) {
      state.last = 0;
      state.epoch = m.epoch ?? null;
    }
  }

  /** A `presence` change applied; the room's state, or undefined for a room this client is not in. */
  presence(m: Extract<ServerMessage, { t: 'presence' }>): Room | undefined {
    const state = this.get(m.room);
    if (!state) return undefined;
    if (m.join && (state.members.size < this.maxMembers || state.members.has(m.join.id))) state.members.set(m.join.id, m.join);
    if (m.leave) state.members.delete(m.leave.id);
    return state;
  }

  /** What to resume (rooms with a last id, and their epochs); null when none. Rooms not joined yet are passed to `join`. */
  resumeRequest(join: (room: string, state: Room) => void): { rooms: Record<string, number>; epochs: Record<string, string> } | null {
    // Null prototype: a room may be called "__proto__".
    const rooms: Record<string, number> = Object.create(null);
    const epochs: Record<string, string> = Object.create(null);
    let resuming = false;
    for (const [room, state] of this) {
      if (state.last === null) join(room, state);
      else {
        rooms[room] = state.last;
        if (state.epoch !== null) epochs[room] = state.epoch;
        resuming = true;
      }
    }
    return resuming ? { rooms, epochs } : null;
  }

  /** The answer to a resume: members, and the rooms that could not be rejoined (passed to `failed`). */
  resumed(answer: ResumeAnswer, failed: (room: string, error: string) => void): void {
    for (const [room, result] of Object.entries(answer.rooms)) {
      const state = this.get(room);
      if (state && result.members) state.members = this.memberMap(result.members);
      else if (state && result.error) failed(room, result.error);
      // Only an epoch it did not know: a different one comes with a reset (gap), or, for a room the server had
      // already put it in, stays unadopted so that the next resume is told of the difference.
      if (state && state.epoch === null && typeof result.epoch === 'string') state.epoch = result.epoch;
    }
  }
}
