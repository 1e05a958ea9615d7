// The hub's Adapter on Redis: many hub processes (on one machine or many)
// share rooms, ids, history and presence (docs/redis.md).
//
// Per room, under one hash tag (one Cluster slot): `s` a hash (epoch, head,
// last time), `l` a capped stream (history), `p` and `e` the members and
// their deadlines, `c` the sharded pub/sub channel. One publish is one
// EVALSHA whatever the number of nodes and members: the script assigns the
// id, appends to the stream and publishes, so every node sees a room's
// messages in id order; each node subscribes only to rooms it has members
// in, and checks the ids it receives (RoomFeed) so that nothing lost by
// pub/sub during a reconnect goes unnoticed.
import { createHash, randomBytes } from 'node:crypto';
import { HubError, type Adapter, type AdapterSink, type ForwardedAnswer, type ForwardedRequest, type HistoryResult, type JoinAnswer, type PresenceMember, type PublishOptions, type RoomMessage, type Sender } from 'switchboard/hub';
import { RemoteMessage, encodeHeader, parseChannelMessage, parsePresenceValue, parseStreamEntry } from './codec.js';
import { RedisLink, type Listener, type SentinelOptions } from './link.js';
import { NodeBus } from './node-bus.js';
import { PresenceBatcher, historyResult, joinAnswer, type PresenceChange, type PresenceQueue } from './presence-batch.js';
import { RoomFeed, type Continuation } from './room-feed.js';
import { HISTORY, LEAVE, MEMBERS, PUBLISH, REFRESH } from './scripts.js';

export interface RedisAdapterOptions {
  /**
   * A single Redis (default redis://127.0.0.1:6379 when neither `cluster` nor `sentinel` is
   * given), or a master behind Sentinel: redis-sentinel://[user:password@]host:port[,host:port...]/name
   * (the credentials are the master's, the ports the sentinels').
   */
  url?: string;
  /** A Redis Cluster: URLs of some of its masters (the others are discovered). */
  cluster?: readonly string[];
  /** A master found and followed through Redis Sentinel: its name and URLs of some sentinels. */
  sentinel?: SentinelOptions;
  /** Prefix of every key and channel (default 'switchboard'): several hubs can share one Redis. */
  prefix?: string;
  history?: {
    /** Messages kept per room (default 1,000). */
    maxMessages?: number;
    /** Age in ms after which a message is dropped from history (default 10 minutes). */
    maxAge?: number;
  };
  /**
   * A member whose node stops refreshing it (the node died) leaves presence after this many
   * ms, and its `leave` goes out by the next sweep: at most 4/3 of it (default 20,000: a leave
   * within 27 s).
   */
  presenceTtl?: number;
  /** A room's counter and epoch are kept this long after its last publish (default 7 days); after that its ids start again in a new epoch. */
  roomTtl?: number;
  /** `toClient` waits this long for the other nodes to answer (default 5,000 ms). */
  requestTimeout?: number;
  /** A Redis command with no reply after this long fails (default 5,000 ms). */
  commandTimeout?: number;
  /** Longest wait between reconnection attempts (default 1,000 ms). */
  maxReconnectDelay?: number;
  /** Messages of one room held while a gap is filled from the stream (default 10,000); beyond it the room's members resume. */
  maxPending?: number;
  /**
   * Joins and leaves of one room from this process sent to Redis in one script (default 100,
   * at most 1,000): those that arrive while the room's previous batch is in flight go together
   * in the next one.
   */
  presenceBatch?: number;
  /** Connection and background errors (reconnect attempts, failed heartbeats): nothing is thrown for them. Default: ignored. */
  onError?: (error: unknown) => void;
}

/**
 * Leaves that failed and wait for the next heartbeat (past it, such a member stays in presence
 * while this process has other members in the room, and leaves with them).
 */
const MAX_LEAVING = 10_000;

interface RoomEntry extends PresenceQueue {
  feed: RoomFeed;
  listener: Listener;
  /** Local members (joins sent or being sent, not left), id -> member JSON. */
  members: Map<string, string>;
  /** Local members whose join Redis confirmed. */
  joined: Set<string>;
}

/** The error a publish (or a join, or a history read) fails with while Redis cannot be reached: `code` 'unavailable'. */
export const UNAVAILABLE = 'unavailable';

function unavailable(error: unknown): HubError {
  const failure = new HubError(UNAVAILABLE, `Redis is unreachable, nothing was stored: ${error instanceof Error ? error.message : String(error)}`);
  (failure as { cause?: unknown }).cause = error;
  return failure;
}

const positive = (value: number | undefined, fallback: number, name: string): number => {
  const result = value ?? fallback;
  if (!(result > 0)) throw new RangeError(`RedisAdapter option ${name} must be > 0`);
  return result;
};

export class RedisAdapter implements Adapter {
  /** This process's name among the nodes (random). */
  readonly node = randomBytes(9).toString('base64url');
  readonly maxMessages: number;
  readonly maxAge: number;
  readonly presenceTtl: number;
  private readonly roomTtl: number;
  private readonly maxPending: number;
  private readonly batcher: PresenceBatcher<RoomEntry>;
  private readonly prefix: string;
  private readonly link: RedisLink;
  private readonly bus: NodeBus;
  private readonly reportError: (error: unknown) => void;
  private sink: AdapterSink | null = null;
  /** Rooms with local members: their subscription and id check. */
  private readonly feeds = new Map<string, RoomEntry>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  /** `room\nid` of members whose leave failed (Redis unreachable): tried again at each heartbeat. */
  private readonly leaving = new Set<string>();

  constructor(options: RedisAdapterOptions = {}) {
    this.maxMessages = options.history?.maxMessages ?? 1000;
    this.maxAge = positive(options.history?.maxAge, 10 * 60_000, 'history.maxAge');
    if (!(this.maxMessages >= 0)) throw new RangeError('RedisAdapter option history.maxMessages must be >= 0');
    this.presenceTtl = positive(options.presenceTtl, 20_000, 'presenceTtl');
    this.roomTtl = positive(options.roomTtl, 7 * 24 * 3600_000, 'roomTtl');
    this.maxPending = positive(options.maxPending, 10_000, 'maxPending');
    const presenceBatch = Math.floor(positive(options.presenceBatch, 100, 'presenceBatch'));
    // Lua's unpack (HMGET, HSET of a batch) is bounded by its C stack (8,000 values).
    if (!(presenceBatch >= 1 && presenceBatch <= 1000)) throw new RangeError('RedisAdapter option presenceBatch must be 1 to 1,000');
    this.prefix = options.prefix ?? 'switchboard';
    if (/[{}]/.test(this.prefix)) throw new RangeError('RedisAdapter option prefix must not contain { or } (they delimit the hash tag)');
    this.reportError = options.onError ?? (() => {});
    this.link = new RedisLink({
      url: options.url ?? 'redis://127.0.0.1:6379',
      cluster: options.cluster,
      sentinel: options.cluster === undefined ? (options.sentinel ?? sentinelFromUrl(options.url)) : undefined,
      maxReconnectDelay: positive(options.maxReconnectDelay, 1000, 'maxReconnectDelay'),
      commandTimeout: positive(options.commandTimeout, 5000, 'commandTimeout'),
    });
    this.link.onError = this.reportError;
    this.batcher = new PresenceBatcher<RoomEntry>(this.link, presenceBatch, this.reportError, {
      keys: (room) => [this.key(room, 'p'), this.key(room, 'e'), this.key(room, 'c'), this.key(room, 's'), this.key(room, 'l')],
      args: () => [newEpoch(), String(this.presenceTtl), this.node, String(this.maxAge), String(this.roomTtl)],
      answered: (room, entry, reply) => {
        // Read after subscribing: what comes after this head arrives on the channel.
        if (reply.length > 1) entry.feed.positionOnce(reply[1], Number(reply[2]));
        // This node had no deadline though members here had joined (not those of this batch):
        // they were swept while it was cut off, and join again.
        if (Number(reply[0]) === 1 && entry.joined.size > 0) this.rejoin(room, entry, entry.joined);
      },
    });
    // Back after a loss: whatever pub/sub dropped meanwhile is read from the streams.
    this.link.onReconnect = () => {
      for (const { feed } of this.feeds.values()) feed.catchUp();
    };
    const requestTimeout = positive(options.requestTimeout, 5000, 'requestTimeout');
    this.bus = new NodeBus(this.link, `${this.prefix}:{~}:n`, `${this.prefix}:{~}:r:`, this.node, () => this.sink, requestTimeout, this.reportError);
  }

  /**
   * The key (or channel) `kind` of `room`: `prefix:{room}kind`, the room being the hash tag, so
   * that all of a room's keys share a Cluster slot. A name with a `}` would end the tag early
   * (or leave it empty): its tag is a digest of it instead, the name following it.
   */
  private key(room: string, kind: 's' | 'l' | 'p' | 'e' | 'c'): string {
    if (!room.includes('}') && room !== '') return `${this.prefix}:{${room}}${kind}`;
    return `${this.prefix}:{#${createHash('sha1').update(room).digest('base64url')}}${room}${kind}`;
  }

  async attach(sink: AdapterSink): Promise<void> {
    this.sink = sink;
    await this.link.connect();
    await this.bus.start();
    this.heartbeat = setInterval(() => this.beat(), Math.max(50, Math.floor(this.presenceTtl / 3)));
    this.heartbeat.unref();
  }

  async publish(room: string, message: PublishOptions): Promise<number> {
    const header = encodeHeader(message.ev, message.from, message.except, message.data instanceof ArrayBuffer || ArrayBuffer.isView(message.data));
    const data = message.encoded ?? '';
    if (message.volatile === true) {
      // No id, no history: relayed as it is, and dropped (here too) when Redis is down, as volatile messages may be.
      const channel = this.key(room, 'c');
      await this.link.send(channel, ['SPUBLISH', channel, `0 - ${Date.now()} ${header}\n${data}`]).catch(this.reportError);
      return 0;
    }
    let reply: unknown;
    try {
      reply = await this.link.run(PUBLISH, [this.key(room, 's'), this.key(room, 'l'), this.key(room, 'c')], [newEpoch(), String(this.maxMessages), String(this.maxAge), String(this.roomTtl), header, data]);
    } catch (error) {
      throw unavailable(error);
    }
    return Number((reply as [number, string])[0]);
  }

  /** The history script's answer: messages after `since` (all held ones on a reset), oldest first. */
  private async readHistory(room: string, since: number | undefined, epoch: string | undefined): Promise<Continuation> {
    const reply = (await this.link.run(HISTORY, [this.key(room, 's'), this.key(room, 'l')], [newEpoch(), since === undefined ? '' : String(since), epoch ?? '', String(this.maxAge), String(this.roomTtl)])) as [string, number, number, unknown[]];
    const [current, head, reset, entries] = reply;
    const messages: RoomMessage[] = new Array(entries.length);
    // Newest first unless reset (XREVRANGE for the tail, XRANGE for all).
    for (let i = 0; i < entries.length; i++) messages[reset === 1 ? i : entries.length - 1 - i] = parseStreamEntry(room, current, entries[i]);
    return { epoch: current, head: Number(head), reset: reset === 1, messages };
  }

  async history(room: string, since?: number, epoch?: string): Promise<HistoryResult> {
    let found: Continuation;
    try {
      found = await this.readHistory(room, since, epoch);
    } catch (error) {
      throw unavailable(error);
    }
    return historyResult(found, since);
  }

  /** Subscribes to `room` (once for all its local members); the first presence script's read positions the feed. */
  private acquire(room: string): RoomEntry {
    let entry = this.feeds.get(room);
    if (entry === undefined) {
      const feed = new RoomFeed(room, {
        readAfter: (r, since, epoch) => this.readHistory(r, since, epoch),
        deliver: (message) => this.sink?.deliverRoom(message, message.except, message.mid === 0),
        forceResume: (r, epoch) => this.forceResume(r, epoch),
        reportError: this.reportError,
        maxPending: this.maxPending,
      });
      const listener: Listener = (payload) => this.onChannelMessage(feed, payload);
      const ready = this.link.subscribe(this.key(room, 'c'), listener);
      entry = { feed, listener, ready, members: new Map(), joined: new Set(), changes: [], busy: false };
      this.feeds.set(room, entry);
    }
    entry.feed.refs++;
    return entry;
  }

  private release(room: string): void {
    const entry = this.feeds.get(room);
    if (entry === undefined || --entry.feed.refs > 0) return;
    this.feeds.delete(room);
    entry.ready
      .catch(() => {})
      .then(() => this.link.unsubscribe(this.key(room, 'c'), entry.listener))
      .catch(this.reportError);
  }

  private onChannelMessage(feed: RoomFeed, payload: string): void {
    const kind = payload.charCodeAt(0);
    if ((kind === 0x6a || kind === 0x6c) && payload.charCodeAt(1) === 0x20) {
      // 'j ' or 'l ': a presence change.
      let member: PresenceMember;
      try {
        member = JSON.parse(payload.slice(2)) as PresenceMember;
      } catch (error) {
        this.reportError(error);
        return;
      }
      this.sink?.presenceChanged(feed.room, kind === 0x6a ? { join: member } : { leave: member });
      return;
    }
    try {
      const message = parseChannelMessage(feed.room, payload);
      if (message !== null) feed.receive(message);
    } catch (error) {
      this.reportError(error);
    }
  }

  /**
   * Makes every local member of `room` resume: a message of no epoch they are in closes them
   * with 1012 (docs/protocol.md, section 5), and their resume gets the `gap` the hub announces.
   */
  private forceResume(room: string, epoch: string): void {
    const marker = new RemoteMessage(room, Number.MAX_SAFE_INTEGER, `${epoch}~lost`, Date.now(), '{"e":"lost"}', '');
    this.sink?.deliverRoom(marker, undefined, false);
  }

  async addMember(room: string, member: PresenceMember): Promise<void> {
    await this.join(room, member, undefined, undefined, undefined);
  }

  /** Adds the member, reads the history and the member list: one script for the joins and leaves of a room that come together. */
  async join(room: string, member: PresenceMember, since: number | undefined, epoch: string | undefined, memberLimit: number | undefined): Promise<JoinAnswer> {
    const entry = this.acquire(room);
    const json = JSON.stringify(member);
    entry.members.set(member.id, json);
    try {
      return await new Promise<JoinAnswer>((resolve, reject) => {
        const change: PresenceChange = {
          kind: 'j',
          id: member.id,
          json,
          done: (reply, index, error) => {
            if (reply === null) {
              reject(error);
              return;
            }
            if (entry.members.get(member.id) === json) entry.joined.add(member.id);
            resolve(joinAnswer(room, reply, index, since, memberLimit));
          },
        };
        if (since !== undefined) change.since = since;
        if (epoch !== undefined) change.epoch = epoch;
        if (memberLimit !== undefined) change.limit = memberLimit;
        this.batcher.enqueue(room, entry, change);
      });
    } catch (error) {
      entry.joined.delete(member.id);
      // Unless a removeMember took it (and releases it) meanwhile.
      if (entry.members.get(member.id) === json) {
        entry.members.delete(member.id);
        this.release(room);
      }
      throw unavailable(error);
    }
  }

  /** Joins again (and announces) this node's members of `room` that were swept while it was cut off from Redis. */
  private rejoin(room: string, entry: RoomEntry, only: ReadonlySet<string>): void {
    for (const [id, json] of entry.members) {
      if (!only.has(id)) continue;
      this.batcher.enqueue(room, entry, { kind: 'j', id, json, done: (_, __, error) => error !== undefined && this.reportError(error) });
    }
  }

  async removeMember(room: string, member: PresenceMember): Promise<void> {
    const entry = this.feeds.get(room);
    if (entry === undefined || !entry.members.delete(member.id)) return;
    entry.joined.delete(member.id);
    try {
      await new Promise<void>((resolve, reject) => {
        this.batcher.enqueue(room, entry, { kind: 'l', id: member.id, json: '', done: (reply, _, error) => (reply === null ? reject(error) : resolve()) });
      });
    } catch (error) {
      // This node's deadline is refreshed for its other members: the leave is tried again at each heartbeat.
      if (this.leaving.size < MAX_LEAVING) this.leaving.add(`${room}\n${member.id}`);
      throw unavailable(error);
    } finally {
      this.release(room);
    }
  }

  async members(room: string, limit = Infinity): Promise<PresenceMember[]> {
    let values: string[];
    try {
      values = (await this.link.run(MEMBERS, [this.key(room, 'p'), this.key(room, 'e'), this.key(room, 'c')], [])) as string[];
    } catch (error) {
      throw unavailable(error);
    }
    const parsed = values.map(parsePresenceValue).sort((a, b) => a.joined - b.joined);
    return parsed.slice(0, Math.min(limit, parsed.length)).map((p) => p.member);
  }

  /**
   * Every presenceTtl / 3: per room with local members, one script (of a constant number of
   * calls, whatever the number of members) sweeps the members of nodes that stopped refreshing,
   * pushes this node's deadline, and reads the head, so that a message pub/sub lost is noticed
   * even in a room that went quiet.
   */
  private beat(): void {
    for (const pending of this.leaving) {
      const newline = pending.lastIndexOf('\n');
      const room = pending.slice(0, newline);
      this.link.run(LEAVE, [this.key(room, 'p'), this.key(room, 'e'), this.key(room, 'c')], [pending.slice(newline + 1)]).then(() => this.leaving.delete(pending), this.reportError);
    }
    for (const [room, entry] of this.feeds) {
      if (entry.members.size === 0) continue;
      this.link
        .run(REFRESH, [this.key(room, 'p'), this.key(room, 'e'), this.key(room, 'c'), this.key(room, 's')], [String(this.presenceTtl), this.node])
        .then((reply) => {
          const [, missing, head, epoch] = reply as [number, number, number, string | null];
          entry.feed.checkHead(Number(head), epoch ?? null);
          // Swept while this node was cut off from Redis (announced as gone): its members join again.
          if (Number(missing) === 1) this.rejoin(room, entry, entry.joined);
        })
        .catch(this.reportError);
    }
  }

  toUser(user: string, ev: string, data: unknown, from?: Sender): Promise<void> {
    this.sink?.deliverUser(user, ev, data, from);
    return this.bus.toUser(user, ev, data, from).catch((error: unknown) => {
      throw unavailable(error);
    });
  }

  async toClient(client: string, ev: string, data: unknown, from?: Sender): Promise<boolean> {
    if (this.sink?.deliverClient(client, ev, data, from) === true) return true;
    try {
      return await this.bus.toClient(client, ev, data, from);
    } catch (error) {
      throw unavailable(error);
    }
  }

  toAll(ev: string, data: unknown, except?: readonly string[]): Promise<void> {
    this.sink?.deliverAll?.(ev, data, except);
    return this.bus.toAll(ev, data, except).catch((error: unknown) => {
      throw unavailable(error);
    });
  }

  /** An HTTP fallback request for a session of node `node`, sent on that node's own channel (NodeBus.forward). */
  async forward(node: string, request: ForwardedRequest, timeout: number): Promise<ForwardedAnswer> {
    try {
      return await this.bus.forward(node, request, timeout);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'unknown_node' || code === 'forward_timeout') throw error;
      throw unavailable(error);
    }
  }

  async close(): Promise<void> {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
    // Members still here leave now rather than when their deadline passes.
    const leaving: Promise<unknown>[] = [];
    for (const [room, entry] of this.feeds) {
      for (const id of entry.members.keys()) leaving.push(this.link.run(LEAVE, [this.key(room, 'p'), this.key(room, 'e'), this.key(room, 'c')], [id]).catch(this.reportError));
    }
    await Promise.all(leaving);
    this.feeds.clear();
    await this.bus.stop();
    this.sink = null;
    await this.link.close();
  }
}

/** A candidate epoch for a room whose counter is missing (the script keeps it only then): 48 random bits. */
function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/**
 * The sentinel options of a redis-sentinel:// URL (what `switchboard serve --redis` passes on):
 * redis-sentinel://[user:password@]host:port[,host:port...]/name; undefined for another scheme.
 */
export function sentinelFromUrl(url: string | undefined): SentinelOptions | undefined {
  if (url === undefined || !url.startsWith('redis-sentinel://')) return undefined;
  const match = /^redis-sentinel:\/\/(?:([^@/]*)@)?([^@/]+)\/([^/?#]+)\/?$/.exec(url);
  if (match === null) throw new RangeError(`A Sentinel URL is redis-sentinel://[user:password@]host:port[,host:port...]/master-name, not ${url}`);
  const [, credentials, hosts, name] = match;
  const colon = credentials?.indexOf(':') ?? -1;
  const username = credentials === undefined ? undefined : decodeURIComponent(colon < 0 ? credentials : credentials.slice(0, colon));
  const password = credentials === undefined || colon < 0 ? undefined : decodeURIComponent(credentials.slice(colon + 1));
  return {
    name: decodeURIComponent(name!),
    sentinels: hosts!.split(',').map((host) => `redis://${host}`),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
}
