// The connections to Redis, one shape for a single server and a Cluster: a
// command connection (scripts and PUBLISH, routed by key on a Cluster) and
// sharded subscriptions (a second connection on a single server; one per
// shard, managed by node-redis, on a Cluster). Commands are never queued
// while disconnected (disableOfflineQueue): a publish that cannot be stored
// fails at once instead of waiting an unknown time. Subscriptions come back
// by themselves after a reconnect (node-redis subscribes again); `onReconnect`
// says when, so that the adapter checks what it may have missed.
import { createClient, createCluster } from '@redis/client';
import type { Script } from './scripts.js';

export type Listener = (message: string, channel: string) => void;

export interface LinkOptions {
  /** A single Redis: redis://[user:password@]host:port[/db] (rediss:// for TLS). */
  url?: string;
  /** A Redis Cluster: the URLs of one or more of its nodes (the rest are discovered). */
  cluster?: readonly string[];
  /** Reconnection delay: min(attempt * 50, this) ms. */
  maxReconnectDelay: number;
  /** A command with no reply after this long fails (ms). */
  commandTimeout: number;
}

/** The parts of node-redis' client and cluster this module uses (their generic types are too rich to share). */
interface Commands {
  sendCommand(...args: unknown[]): Promise<unknown>;
  sSubscribe(channels: string, listener: Listener): Promise<void>;
  sUnsubscribe(channels: string, listener?: Listener): Promise<void>;
  connect(): Promise<unknown>;
  close?(): Promise<void>;
  destroy?(): void;
  quit?(): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  duplicate(): Commands;
  isReady?: boolean;
}

export class RedisLink {
  private readonly commands: Commands;
  private readonly subscriber: Commands;
  private readonly clustered: boolean;
  private readonly timeout: number;
  /** Errors of the connections (each reconnect attempt fails with one): reported, never thrown. */
  onError: (error: unknown) => void = () => {};
  /** A subscription connection is back after a loss. */
  onReconnect: () => void = () => {};

  constructor(options: LinkOptions) {
    const reconnectStrategy = (attempt: number): number => Math.min((attempt + 1) * 50, options.maxReconnectDelay);
    const common = { disableOfflineQueue: true, socket: { reconnectStrategy, connectTimeout: options.commandTimeout } };
    this.timeout = options.commandTimeout;
    if (options.cluster !== undefined) {
      this.clustered = true;
      const cluster = createCluster({ rootNodes: options.cluster.map((url) => ({ url })), defaults: common }) as unknown as Commands;
      this.commands = cluster;
      // The cluster keeps its own connection per shard for sharded subscriptions.
      this.subscriber = cluster;
      cluster.on('node-ready', () => this.onReconnect());
    } else {
      this.clustered = false;
      this.commands = createClient({ url: options.url, ...common }) as unknown as Commands;
      this.subscriber = this.commands.duplicate();
      this.subscriber.on('ready', () => this.onReconnect());
    }
    this.commands.on('error', (error: unknown) => this.onError(error));
    if (this.subscriber !== this.commands) this.subscriber.on('error', (error: unknown) => this.onError(error));
  }

  async connect(): Promise<void> {
    await this.commands.connect();
    if (this.subscriber !== this.commands) await this.subscriber.connect();
  }

  /** One command to the node holding `key`. */
  send(key: string, args: string[]): Promise<unknown> {
    const options = { timeout: this.timeout, rejectInFlight: true };
    return this.clustered ? this.commands.sendCommand(key, false, args, options) : this.commands.sendCommand(args, options);
  }

  /** Runs a script by its SHA1, loading it (EVAL) the first time a server does not know it. */
  async run(script: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.send(keys[0]!, ['EVALSHA', script.sha, ...tail]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.send(keys[0]!, ['EVAL', script.source, ...tail]);
    }
  }

  subscribe(channel: string, listener: Listener): Promise<void> {
    return this.subscriber.sSubscribe(channel, listener);
  }

  unsubscribe(channel: string, listener: Listener): Promise<void> {
    return this.subscriber.sUnsubscribe(channel, listener);
  }

  async close(): Promise<void> {
    const closing = [this.commands, this.subscriber].filter((c, i, all) => all.indexOf(c) === i);
    await Promise.all(closing.map((c) => (c.close !== undefined ? c.close() : c.quit!()).catch(() => c.destroy?.())));
  }
}
