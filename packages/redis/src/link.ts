// The connections to Redis, one shape for a single server and a Cluster: a
// command connection (scripts and PUBLISH, routed by key on a Cluster) and
// sharded subscriptions (a second connection on a single server; one per
// shard, managed by node-redis, on a Cluster). Commands are never queued
// while disconnected (disableOfflineQueue): a publish that cannot be stored
// fails at once instead of waiting an unknown time. Subscriptions come back
// by themselves after a reconnect (node-redis subscribes again); `onReconnect`
// says when, so that the adapter checks what it may have missed.
import { createClient, createCluster, createSentinel } from '@redis/client';
import { HISTORY, LEAVE, MEMBERS, PRESENCE, PUBLISH, REFRESH, type Script } from './scripts.js';

const SCRIPTS: readonly Script[] = [PUBLISH, HISTORY, PRESENCE, LEAVE, REFRESH, MEMBERS];

export interface SentinelOptions {
  /** The master's name in the sentinels' configuration (`sentinel monitor NAME ...`). */
  name: string;
  /** redis://[user:password@]host:port of one or more sentinels (the rest are discovered); credentials here are the sentinels'. */
  sentinels: readonly string[];
  /** Credentials of the master and replicas, if they need them. */
  username?: string;
  password?: string;
}

export type Listener = (message: string, channel: string) => void;

export interface LinkOptions {
  /** A single Redis: redis://[user:password@]host:port[/db] (rediss:// for TLS). */
  url?: string;
  /** A Redis Cluster: the URLs of one or more of its nodes (the rest are discovered). */
  cluster?: readonly string[];
  /** Redis Sentinel: the master's name and the URLs of one or more sentinels. */
  sentinel?: SentinelOptions;
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
  private readonly kind: 'single' | 'cluster' | 'sentinel';
  private readonly timeout: number;
  /** Errors of the connections (each reconnect attempt fails with one): reported, never thrown. */
  onError: (error: unknown) => void = () => {};
  /** A subscription connection is back after a loss. */
  onReconnect: () => void = () => {};
  /**
   * The scripts loaded (SCRIPT LOAD) on a single Redis or Sentinel master, once connected and
   * again after every reconnection. Scripts wait for it, in call order, so that EVALSHA is not
   * refused with NOSCRIPT on a server that forgot them: the EVAL retry of a refused publish could
   * otherwise run after later publishes of the same room and take a later id (out of order).
   * On a Cluster each master learns them by the EVAL retry.
   */
  private scriptsLoaded: Promise<void> = Promise.resolve();

  constructor(options: LinkOptions) {
    const reconnectStrategy = (attempt: number): number => Math.min((attempt + 1) * 50, options.maxReconnectDelay);
    const common = { disableOfflineQueue: true, socket: { reconnectStrategy, connectTimeout: options.commandTimeout } };
    this.timeout = options.commandTimeout;
    if (options.cluster !== undefined) {
      this.kind = 'cluster';
      const cluster = createCluster({ rootNodes: options.cluster.map((url) => ({ url })), defaults: common }) as unknown as Commands;
      this.commands = cluster;
      // The cluster keeps its own connection per shard for sharded subscriptions.
      this.subscriber = cluster;
      cluster.on('node-ready', () => this.onReconnect());
    } else if (options.sentinel !== undefined) {
      this.kind = 'sentinel';
      const { name, sentinels, username, password } = options.sentinel;
      const first = sentinels[0] === undefined ? undefined : new URL(sentinels[0]);
      const sentinel = createSentinel({
        name,
        sentinelRootNodes: sentinels.map(sentinelNode),
        nodeClientOptions: { ...common, username, password },
        sentinelClientOptions: { socket: common.socket, username: decode(first?.username), password: decode(first?.password) },
        commandOptions: { timeout: options.commandTimeout },
      }) as unknown as Commands;
      // One object for both: the sentinel client keeps a subscriber connection of its own, on the master.
      this.commands = sentinel;
      this.subscriber = sentinel;
      // 'ready' again after a failover, once commands and subscriptions are on the new master.
      sentinel.on('ready', () => {
        this.scriptsLoaded = this.loadScripts();
        this.onReconnect();
      });
    } else {
      this.kind = 'single';
      this.commands = createClient({ url: options.url, ...common }) as unknown as Commands;
      this.subscriber = this.commands.duplicate();
      this.subscriber.on('ready', () => this.onReconnect());
      this.commands.on('ready', () => {
        this.scriptsLoaded = this.loadScripts();
      });
    }
    this.commands.on('error', (error: unknown) => this.onError(error));
    if (this.subscriber !== this.commands) this.subscriber.on('error', (error: unknown) => this.onError(error));
  }

  async connect(): Promise<void> {
    await this.commands.connect();
    if (this.subscriber !== this.commands) await this.subscriber.connect();
    this.scriptsLoaded = this.loadScripts();
    await this.scriptsLoaded;
  }

  private loadScripts(): Promise<void> {
    if (this.kind === 'cluster') return Promise.resolve();
    // A failure (Redis gone again) leaves the EVAL retry in run() to load them.
    return Promise.all(SCRIPTS.map((script) => this.send('', ['SCRIPT', 'LOAD', script.source]))).then(
      () => {},
      () => {},
    );
  }

  /** One command to the node holding `key`. */
  send(key: string, args: string[]): Promise<unknown> {
    const options = { timeout: this.timeout, rejectInFlight: true };
    if (this.kind === 'cluster') return this.commands.sendCommand(key, false, args, options);
    if (this.kind === 'sentinel') {
      // The sentinel client holds a command while it looks for a master (a failover takes
      // seconds, a lost quorum forever): the wait is bounded here too, and the abort keeps a
      // command that was given up from being sent once a master is found.
      const abortSignal = AbortSignal.timeout(this.timeout);
      const sent = this.commands.sendCommand(false, args, { ...options, abortSignal });
      const gaveUp = new Promise<never>((_, reject) => abortSignal.addEventListener('abort', () => reject(new Error(`no Redis master within ${this.timeout} ms`)), { once: true }));
      sent.catch(() => {});
      gaveUp.catch(() => {});
      return Promise.race([sent, gaveUp]);
    }
    return this.commands.sendCommand(args, options);
  }

  /** Runs a script by its SHA1, loading it (EVAL) the first time a server does not know it. */
  async run(script: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    await this.scriptsLoaded;
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

/** A sentinel's address from its URL (redis://host:port; the port defaults to 26379, the sentinels' own). */
function sentinelNode(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port === '' ? 26379 : Number(parsed.port) };
}

const decode = (part: string | undefined): string | undefined => (part ? decodeURIComponent(part) : undefined);
