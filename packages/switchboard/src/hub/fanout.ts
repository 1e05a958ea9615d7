// Fan-out on this process: which local connections are in which room, which
// belong to which user, and the AdapterSink through which an adapter
// delivers. A room message is serialised and framed once and the same bytes
// are written to every member (WebSocket#sendFrame).
import { Buffer } from 'node:buffer';
import { Opcode, encodeFrame } from '../protocol/index.js';
import type { ServerMessage } from '../wire/index.js';
import type { AdapterSink, RoomMessage } from './adapter.js';
import type { HubConnection } from './connection.js';
import { encodeMessage, encodeRoomMessage } from './wire.js';
import { joinChannel, leaveChannel, publishChannel, type HubMembershipMessage, type HubPublishMessage } from './diagnostics.js';

/** Frames a server message once (unmasked text frame). */
export function frameOf(message: ServerMessage): Buffer {
  return encodeFrame(Buffer.from(encodeMessage(message)), { opcode: Opcode.Text });
}

type Connection = HubConnection<any, any>;

export class Fanout {
  /** Open connections (after middleware) by id. */
  readonly clients = new Map<string, Connection>();
  private readonly users = new Map<string, Set<Connection>>();
  private readonly localRooms = new Map<string, Set<Connection>>();
  private readonly frames = new WeakMap<RoomMessage, Buffer>();
  /** Room memberships on this process (kept as they change: `stats()` needs no pass over the rooms). */
  memberCount = 0;

  constructor(
    private readonly presenceOn: (room: string) => boolean,
    private readonly reportError: (error: unknown) => void,
  ) {}

  /** A connection passed middleware: it can be reached by id and by user. */
  register(client: Connection): void {
    this.clients.set(client.id, client);
    if (client.userId === null) return;
    let set = this.users.get(client.userId);
    if (set === undefined) this.users.set(client.userId, (set = new Set()));
    set.add(client);
  }

  unregister(client: Connection): void {
    if (this.clients.get(client.id) === client) this.clients.delete(client.id);
    if (client.userId === null) return;
    const set = this.users.get(client.userId);
    if (set === undefined) return;
    set.delete(client);
    if (set.size === 0) this.users.delete(client.userId);
  }

  connectionsOf(user: string): Connection[] {
    return [...(this.users.get(user) ?? [])];
  }

  addLocal(room: string, client: Connection): void {
    let set = this.localRooms.get(room);
    if (set === undefined) this.localRooms.set(room, (set = new Set()));
    if (set.has(client)) return;
    set.add(client);
    this.memberCount++;
    if (joinChannel.hasSubscribers) joinChannel.publish({ connection: client, room } satisfies HubMembershipMessage);
  }

  removeLocal(room: string, client: Connection): void {
    const set = this.localRooms.get(room);
    if (set === undefined || !set.delete(client)) return;
    this.memberCount--;
    if (set.size === 0) this.localRooms.delete(room);
    if (leaveChannel.hasSubscribers) leaveChannel.publish({ connection: client, room } satisfies HubMembershipMessage);
  }

  /** Rooms with a member on this process. */
  get roomCount(): number {
    return this.localRooms.size;
  }

  /**
   * The frame of a room message; null (reported) when it cannot be built.
   * Replays keep it with the message, so that a wave of resumes builds it once. Live
   * delivery (`keep` false) builds it once for all members and lets it go with the
   * writes: a frame kept for every message in history would double what history
   * holds, and long-lived frames among short-lived reads leave the allocator with
   * freed pages it does not return (the history attack kept 50-70 MiB of RSS with
   * 32 MiB of history; 15-26 MiB without).
   */
  frameFor(message: RoomMessage, keep = true): Buffer | null {
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
        this.reportError(error);
        return null;
      }
      if (keep) this.frames.set(message, frame);
    }
    return frame;
  }

  /** An `emit` to every open connection of this process, framed once; `except` are connection ids left out. */
  deliverAll(ev: string, data: unknown, except: readonly string[] | undefined): void {
    if (this.clients.size === 0) return;
    const frame = frameOf({ t: 'emit', ev, data });
    const skip = except === undefined || except.length === 0 ? null : new Set(except);
    for (const client of this.clients.values()) {
      if (skip !== null && skip.has(client.id)) continue;
      if (client.outbound.writable) client.outbound.write(frame, false);
    }
  }

  /** Where adapters deliver. */
  readonly sink: AdapterSink = {
    deliverRoom: (message, except, volatile) => {
      const members = this.localRooms.get(message.room);
      if (members === undefined) return;
      const start = publishChannel.hasSubscribers ? performance.now() : -1;
      const frame = this.frameFor(message, false);
      if (frame === null) return;
      const skip = except === undefined || except.length === 0 ? null : except.length <= 8 ? except : new Set(except);
      let recipients = 0;
      for (const client of members) {
        if (skip !== null && (Array.isArray(skip) ? (skip as readonly string[]).includes(client.id) : (skip as Set<string>).has(client.id))) continue;
        client.memberships.deliver(message.room, frame, message.mid, volatile, message.epoch);
        recipients++;
      }
      if (start >= 0 && publishChannel.hasSubscribers) {
        publishChannel.publish({ room: message.room, size: frame.length, recipients, durationMs: performance.now() - start } satisfies HubPublishMessage);
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
    deliverAll: (ev, data, except) => this.deliverAll(ev, data, except),
    presenceChanged: (room, change) => {
      const members = this.localRooms.get(room);
      if (members === undefined || !this.presenceOn(room)) return;
      const member = (change.join ?? change.leave)!;
      const frame = frameOf(change.join ? { t: 'presence', room, join: change.join } : { t: 'presence', room, leave: change.leave! });
      for (const client of members) {
        if (client.id !== member.id) client.memberships.deliver(room, frame, 0, false);
      }
    },
  };
}
