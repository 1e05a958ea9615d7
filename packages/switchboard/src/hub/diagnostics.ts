// The hub's diagnostics channels (node:diagnostics_channel), beside the
// connection-level ones of node/diagnostics.ts; names and payloads are
// documented in docs/observability.md. Every call site checks
// `hasSubscribers` first: with nobody listening, nothing is built.
import { channel } from 'node:diagnostics_channel';
import type { Adapter, AdapterSink, HistoryResult, JoinAnswer, PresenceMember, PublishOptions, Sender } from './adapter.js';

export const HUB_CHANNELS = {
  join: 'switchboard:hub:join',
  leave: 'switchboard:hub:leave',
  publish: 'switchboard:hub:publish',
  request: 'switchboard:hub:request',
  slowConsumer: 'switchboard:hub:slow-consumer',
  rateLimited: 'switchboard:hub:rate-limited',
  adapter: 'switchboard:hub:adapter',
} as const;

export const joinChannel = channel(HUB_CHANNELS.join);
export const leaveChannel = channel(HUB_CHANNELS.leave);
export const publishChannel = channel(HUB_CHANNELS.publish);
export const requestChannel = channel(HUB_CHANNELS.request);
export const slowConsumerChannel = channel(HUB_CHANNELS.slowConsumer);
export const rateLimitedChannel = channel(HUB_CHANNELS.rateLimited);
export const adapterChannel = channel(HUB_CHANNELS.adapter);

/** `switchboard:hub:join` and `switchboard:hub:leave`: a connection of this process entered or left a room. */
export interface HubMembershipMessage {
  /** The `HubConnection`. */
  connection: object;
  room: string;
}

/** `switchboard:hub:publish`: a room message delivered to this process's members. */
export interface HubPublishMessage {
  room: string;
  /** Bytes of the frame written to each member. */
  size: number;
  /** Members of this process it was written to. */
  recipients: number;
  /** Milliseconds the local fan-out took (framing and writing to every member). */
  durationMs: number;
}

/** `switchboard:hub:request`: a client's request answered: a `req` to your handlers, or a hub action (`join`, `leave`, `resume`, `pub`, `dm`). */
export interface HubRequestMessage {
  connection: object;
  /** `req` for a request to your handlers, else the action (`join`, `leave`, `resume`, `pub`, `dm`). */
  kind: string;
  /** The event name of a `req` (chosen by the client: do not use it as a metric label unchecked), the room of an action, or null. */
  event: string | null;
  /** Milliseconds from arrival to answer. */
  durationMs: number;
  /** The error code answered (`no_handler`, `forbidden`, ...), or null when it succeeded. */
  error: string | null;
}

/** `switchboard:hub:slow-consumer`: the slow-consumer policy closed a connection (1013). */
export interface HubSlowConsumerMessage {
  connection: object;
  bufferedAmount: number;
}

/** `switchboard:hub:rate-limited`: a message over the connection's rate limit. */
export interface HubRateLimitedMessage {
  connection: object;
  /** `reject` (answered `rate_limited`) or `disconnect` (closed with 4029). */
  action: 'reject' | 'disconnect';
}

/** `switchboard:hub:adapter`: one call to the adapter. */
export interface HubAdapterMessage {
  /** The Adapter method: `publish`, `history`, `members`, `addMember`, `join`, `removeMember`, `toUser`, `toClient`, `toAll`. */
  operation: string;
  durationMs: number;
  /** What it threw or rejected with, or null. */
  error: unknown;
}

/** What `Hub#stats()` returns: a snapshot of this process's part of the hub. */
export interface HubStats {
  /** Connections open (after middleware) on this process. */
  connections: number;
  /** Rooms with at least one member on this process. */
  rooms: number;
  /** Room memberships on this process (a connection in three rooms counts three). */
  members: number;
  /** Bytes waiting to be sent, summed over the connections. */
  bufferedBytes: number;
  /** Connections closed by the slow-consumer policy, and messages over the rate limit, since the hub started. */
  slowConsumers: number;
  rateLimited: number;
  /** Volatile messages dropped for slow connections, summed over the open ones. */
  droppedVolatile: number;
  /**
   * Writes of queued frames (room messages, presence, broadcasts) made by the connections of this
   * process since it started, and the frames they carried: `coalescedFrames / coalescedWrites` is
   * how many messages a member got per syscall (docs/performance.md, "Hub fan-out").
   */
  coalescedWrites: number;
  coalescedFrames: number;
}

function timed<T>(operation: string, call: () => Promise<T>): Promise<T> {
  const start = performance.now();
  return call().then(
    (value) => {
      adapterChannel.publish({ operation, durationMs: performance.now() - start, error: null } satisfies HubAdapterMessage);
      return value;
    },
    (error: unknown) => {
      adapterChannel.publish({ operation, durationMs: performance.now() - start, error } satisfies HubAdapterMessage);
      throw error;
    },
  );
}

/**
 * The adapter as the hub calls it: each call is timed on
 * `switchboard:hub:adapter` when somebody subscribes, and goes straight
 * through otherwise.
 */
export class TimedAdapter implements Adapter {
  constructor(private readonly inner: Adapter) {}
  attach(sink: AdapterSink): void | Promise<void> {
    return this.inner.attach(sink);
  }
  publish(room: string, message: PublishOptions): Promise<number> {
    return adapterChannel.hasSubscribers ? timed('publish', () => this.inner.publish(room, message)) : this.inner.publish(room, message);
  }
  history(room: string, since?: number, epoch?: string): Promise<HistoryResult> {
    return adapterChannel.hasSubscribers ? timed('history', () => this.inner.history(room, since, epoch)) : this.inner.history(room, since, epoch);
  }
  addMember(room: string, member: PresenceMember): Promise<void> {
    return adapterChannel.hasSubscribers ? timed('addMember', () => this.inner.addMember(room, member)) : this.inner.addMember(room, member);
  }
  /** The adapter's `join` when it has one (timed as `join`), else its three calls (each timed). */
  async join(room: string, member: PresenceMember, since: number | undefined, epoch: string | undefined, memberLimit: number | undefined): Promise<JoinAnswer> {
    const inner = this.inner;
    if (inner.join !== undefined) {
      return adapterChannel.hasSubscribers ? timed('join', () => inner.join!(room, member, since, epoch, memberLimit)) : inner.join(room, member, since, epoch, memberLimit);
    }
    await this.addMember(room, member);
    const history = await this.history(room, since, epoch);
    return memberLimit === undefined ? { history } : { history, members: await this.members(room, memberLimit) };
  }
  removeMember(room: string, member: PresenceMember): Promise<void> {
    return adapterChannel.hasSubscribers ? timed('removeMember', () => this.inner.removeMember(room, member)) : this.inner.removeMember(room, member);
  }
  members(room: string, limit?: number): Promise<PresenceMember[]> {
    return adapterChannel.hasSubscribers ? timed('members', () => this.inner.members(room, limit)) : this.inner.members(room, limit);
  }
  toUser(user: string, ev: string, data: unknown, from?: Sender): Promise<void> {
    return adapterChannel.hasSubscribers ? timed('toUser', () => this.inner.toUser(user, ev, data, from)) : this.inner.toUser(user, ev, data, from);
  }
  toClient(client: string, ev: string, data: unknown, from?: Sender): Promise<boolean> {
    return adapterChannel.hasSubscribers ? timed('toClient', () => this.inner.toClient(client, ev, data, from)) : this.inner.toClient(client, ev, data, from);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
