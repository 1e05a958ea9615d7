// One connection's rooms: joining (presence, history, the answer), the
// replay of what it missed, and holding live messages meanwhile so that
// every message reaches it once and in order (docs/protocol.md, sections 4-5).
import type { Buffer } from 'node:buffer';
import type { HistoryResult, PresenceMember } from './adapter.js';
import type { HubConnection } from './connection.js';
import type { HubContext, MemberList } from './context.js';
import type { Outbound } from './outbound.js';

/** Live messages held for one member while its join replays history; beyond it the member is disconnected (1013). */
export const MAX_JOIN_BUFFER = 10_000;

interface Membership {
  /** Live messages held while the join replays history (null once live). */
  buffer: Array<{ frame: Buffer; mid: number; volatile: boolean; epoch: string | undefined }> | null;
  /** The epoch of the ids this member has (its join's history), once live. */
  epoch: string | undefined;
}

export interface JoinResult {
  history: HistoryResult;
  members: MemberList;
}

const noop = (): void => {};

export class Rooms {
  private readonly memberships = new Map<string, Membership>();
  /** A room's ids restarted under this member: the connection is being closed, nothing more is written. */
  private restarted = false;

  constructor(
    private readonly ctx: HubContext,
    private readonly connection: HubConnection<any, any>,
    private readonly outbound: Outbound,
    /** Whether the connection has closed (joins in flight then undo themselves). */
    private readonly isClosed: () => boolean,
    /** A replay failed: the connection is closed so that the client resumes (1011). */
    private readonly onReplayFailed: () => void,
    /** A room's ids restarted in another epoch: the connection is closed so that the client resumes and gets the reset (1012). */
    private readonly onEpochChanged: () => void,
  ) {}

  get size(): number {
    return this.memberships.size;
  }

  has(room: string): boolean {
    return this.memberships.has(room);
  }

  names(): IterableIterator<string> {
    return this.memberships.keys();
  }

  /**
   * A pre-framed room (or presence) message: held while this member's join replays, written
   * otherwise. `epoch` is the message's (RoomMessage.epoch), when the adapter names it.
   */
  deliver(room: string, frame: Buffer, mid: number, volatile: boolean, epoch?: string): void {
    if (!this.outbound.writable || this.restarted) return;
    const membership = this.memberships.get(room);
    if (membership === undefined) return;
    if (membership.buffer !== null) {
      if (membership.buffer.length >= MAX_JOIN_BUFFER) this.outbound.slowDisconnect();
      else membership.buffer.push({ frame, mid, volatile, epoch });
      return;
    }
    if (epoch !== undefined && epoch !== membership.epoch) {
      this.restart();
      return;
    }
    this.outbound.write(frame, volatile);
  }

  /**
   * The ids of a room restarted while this connection is in it: its `mid`s would be taken for
   * ones the client has seen. Resuming is where a reset is decided with the history, in one
   * step (Adapter.history), so the connection is closed and the client resumes; Centrifugo
   * likewise disconnects a client whose stream position became insufficient.
   */
  private restart(): void {
    if (this.restarted) return;
    this.restarted = true;
    this.onEpochChanged();
  }

  /**
   * Joins: becomes a local member (live messages are held), registers
   * presence, fetches history after `since` in `epoch` (or just the head
   * and epoch) and the member list (one adapter call: HubContext.joinRoom). The caller
   * answers, then `goLive` replays and releases what was held. Null when the
   * connection closed or left meanwhile.
   */
  async join(room: string, since: number | undefined, epoch: string | undefined, member: PresenceMember): Promise<JoinResult | null> {
    const membership: Membership = { buffer: [], epoch: undefined };
    this.memberships.set(room, membership);
    this.ctx.addLocal(room, this.connection);
    const adapter = this.ctx.adapter;
    try {
      const joined = await this.ctx.joinRoom(room, member, since, epoch);
      if (this.isClosed() || this.memberships.get(room) !== membership) {
        // Closed or left while the adapter was busy: undo, in case the removal overtook the addition.
        await adapter.removeMember(room, member);
        return null;
      }
      return joined;
    } catch (error) {
      // Not left half-joined (held messages piling up, never live): the client may simply join again.
      if (this.memberships.get(room) === membership) {
        this.memberships.delete(room);
        this.ctx.removeLocal(room, this.connection);
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
  goLive(room: string, history: HistoryResult, since: number | undefined, previous?: ReadonlySet<string>): void {
    const membership = this.memberships.get(room);
    if (membership === undefined || membership.buffer === null) return;
    membership.epoch = history.epoch;
    if (this.restarted) {
      // Being closed for another room's restart: the client resumes this one too.
      membership.buffer = null;
      return;
    }
    let last = history.head;
    try {
      if (since !== undefined) {
        last = history.gap?.reset ? 0 : since;
        // A reset names the new epoch: the client adopts it before the first message of the new sequence.
        if (history.gap) this.outbound.send(history.gap.reset ? { t: 'gap', room, ...history.gap, epoch: history.epoch } : { t: 'gap', room, ...history.gap });
        for (const message of history.messages) {
          if (message.mid <= last) continue;
          last = message.mid;
          if (previous !== undefined && message.except !== undefined && message.except.some((id) => previous.has(id))) continue;
          const frame = this.ctx.frameFor(message);
          if (frame !== null) this.outbound.write(frame, false);
        }
      }
    } catch (error) {
      // The replay is incomplete: the client reconnects and resumes from what it got (1011, RFC 6455 section 7.4.1).
      this.ctx.reportError(error);
      this.onReplayFailed();
    } finally {
      // Whatever happened, the member goes live: held messages are never left holding.
      const held = membership.buffer;
      membership.buffer = null;
      for (const item of held) {
        // Held from another run than the history's (older or newer: epochs do not say): resume to sort it out.
        if (item.epoch !== undefined && item.epoch !== history.epoch) {
          this.restart();
          break;
        }
        if (this.restarted) break;
        if (item.mid !== 0 && item.mid <= last) continue;
        this.outbound.write(item.frame, item.volatile);
      }
    }
  }

  /** Leaves `room`; false when not a member. */
  async leave(room: string, member: PresenceMember): Promise<boolean> {
    if (!this.memberships.delete(room)) return false;
    this.ctx.removeLocal(room, this.connection);
    await this.ctx.adapter.removeMember(room, member);
    return true;
  }

  /** The connection closed: leaves every room. */
  leaveAll(member: PresenceMember): void {
    for (const room of this.memberships.keys()) {
      this.ctx.removeLocal(room, this.connection);
      this.ctx.removeMemberLater(room, member);
    }
    this.memberships.clear();
  }
}
