// What a connection may ask of its hub: the narrow interface between
// HubConnection and Hub (instead of each reaching into the other).
import type { Buffer } from 'node:buffer';
import type { ParseOptions } from '../wire/index.js';
import type { Adapter, HistoryResult, PresenceMember, RoomMessage } from './adapter.js';
import type { HubConnection } from './connection.js';
import type { ResolvedOptions } from './types.js';

/** The member list of a join answer: absent with presence off, at most `presenceListLimit` long (then `more`). */
export type MemberList = { members?: PresenceMember[]; more?: true };

export interface HubContext {
  readonly options: ResolvedOptions;
  readonly adapter: Adapter;
  /** What parseClientMessage enforces, built once. */
  readonly parseOptions: ParseOptions;
  /** After `hello`: middleware, then `welcome` (or a refusal). */
  authenticate(connection: HubConnection<any, any>): void;
  /** May this connection join this room (the `canJoin` option)? */
  canJoin(connection: HubConnection<any, any>, room: string): boolean | Promise<boolean>;
  /** The member list for a join answer. */
  memberList(room: string): Promise<MemberList>;
  /**
   * Adds `member` to `room`'s presence and reads the history after `since` (in `epoch`) and
   * the member list for its answer: one adapter call when the adapter has `join`.
   */
  joinRoom(room: string, member: PresenceMember, since: number | undefined, epoch: string | undefined): Promise<{ history: HistoryResult; members: MemberList }>;
  /** The connection is now a local member of `room` (live messages reach it), or no longer is. */
  addLocal(room: string, connection: HubConnection<any, any>): void;
  removeLocal(room: string, connection: HubConnection<any, any>): void;
  /** Removes `member` from `room`'s presence without waiting (a closed connection); the hub's close() waits for it. */
  removeMemberLater(room: string, member: PresenceMember): void;
  /** The frame of a room message (kept with it for replays); null (reported) when it cannot be built. */
  frameFor(message: RoomMessage): Buffer | null;
  /** The slow-consumer policy closes this connection (the hub emits 'slowConsumer'). */
  slowConsumer(connection: HubConnection<any, any>, bufferedAmount: number): void;
  /** A message was over the connection's rate limit: `reject`ed (answered `rate_limited`) or the connection is `disconnect`ed. */
  rateLimited(connection: HubConnection<any, any>, action: 'reject' | 'disconnect'): void;
  /** An adapter or handler failure: the hub's 'error' event, or a process warning without a listener. */
  reportError(error: unknown): void;
}
