// Real redis-server processes for the tests (never a mock): a standalone
// server or a 3-master Cluster (`redis-cli --cluster create`), each on free
// 127.0.0.1 ports, in a temp directory, persisting nothing (--save ''
// --appendonly no), stopped by the test. /usr/bin/redis-server and
// redis-cli (7.0 or later: sharded pub/sub) come from scripts/system-deps.mjs.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Child } from './process.js';

const HOST = '127.0.0.1';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, HOST, () => srv.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (+10,000) is free too. */
async function freeRedisPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair for redis-server');
}

/** Runs redis-cli with `args`; its stdout. */
export function redisCli(args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs }, (error, stdout, stderr) => (error ? reject(new Error(`redis-cli ${args.join(' ')}: ${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}

export class RedisServer {
  child: Child | null = null;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'redis-'));

  constructor(
    readonly port: number,
    private readonly clustered: boolean,
    private readonly extraArgs: readonly string[] = [],
  ) {}

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', this.dir, '--logfile', '', '--daemonize', 'no'];
    if (this.clustered) args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000');
    args.push(...this.extraArgs);
    this.child = new Child('redis-server', args);
    await this.child.waitForLine(/Ready to accept connections/, 10_000);
  }

  /** kill -9: every connection drops at once, nothing is saved. */
  async kill(): Promise<void> {
    await this.child?.stop('SIGKILL');
    this.child = null;
  }

  /** Killed and started again on the same port, empty (nothing was persisted). */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async flush(): Promise<void> {
    await redisCli(['-p', String(this.port), 'FLUSHALL']);
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A standalone redis-server, started. */
export async function startRedis(): Promise<RedisServer> {
  const server = new RedisServer(await freeRedisPort(), false);
  await server.start();
  return server;
}

export interface RedisCluster {
  nodes: RedisServer[];
  urls: string[];
  /** FLUSHALL on every master. */
  flush(): Promise<void>;
  /** kill -9 of every master (each keeps its nodes.conf, so that it comes back as the same node). */
  kill(): Promise<void>;
  /** Every master started again, empty, on its port; resolves once the cluster state is ok on each. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A Redis Cluster of 3 masters and no replicas, every slot assigned and the state ok on every node. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const node = new RedisServer(await freeRedisPort(), true);
      nodes.push(node);
      await node.start();
    }
    await redisCli(['--cluster', 'create', ...nodes.map((n) => `${HOST}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    await clusterOk(nodes);
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    flush: async () => {
      await Promise.all(nodes.map((n) => n.flush()));
    },
    kill: async () => {
      await Promise.all(nodes.map((n) => n.kill()));
    },
    start: async () => {
      await Promise.all(nodes.map((n) => n.start()));
      await clusterOk(nodes);
    },
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

export interface RedisSentinelSetup {
  /** The master's name in the sentinel's configuration. */
  name: string;
  master: RedisServer;
  replica: RedisServer;
  /** The sentinel's URL (redis://127.0.0.1:port). */
  sentinelUrl: string;
  /** The sentinel's log so far. */
  sentinelLog(): string;
  stop(): Promise<void>;
}

/**
 * One master, one replica in sync with it, and one sentinel (`redis-server
 * sentinel.conf --sentinel`, quorum 1, master down after 1 s) that knows
 * both: kill the master and the sentinel promotes the replica.
 */
export async function startRedisSentinel(): Promise<RedisSentinelSetup> {
  const name = 'sbmaster';
  const master = new RedisServer(await freeRedisPort(), false);
  let replica: RedisServer | undefined;
  let sentinel: Child | undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redis-sentinel-'));
  const stop = async (): Promise<void> => {
    await sentinel?.stop('SIGKILL');
    await Promise.all([master.stop(), replica?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await master.start();
    replica = new RedisServer(await freeRedisPort(), false, ['--replicaof', HOST, String(master.port)]);
    await replica.start();
    await replica.child!.waitForLine(/MASTER <-> REPLICA sync: Finished with success/, 10_000);
    const port = await freeRedisPort();
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        `bind ${HOST}`,
        `dir ${dir}`,
        `sentinel monitor ${name} ${HOST} ${master.port} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 10000`,
        '',
      ].join('\n'),
    );
    sentinel = new Child('redis-server', [conf, '--sentinel']);
    // It knows the replica (from the master's INFO) before it could promote it.
    await sentinel.waitForLine(new RegExp(`\\+slave slave ${HOST}:${replica.port} `), 20_000);
    const log = sentinel;
    return { name, master, replica, sentinelUrl: `redis://${HOST}:${port}`, sentinelLog: () => log.stdout, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits (at most 20 s) until every node says cluster_state:ok. */
async function clusterOk(nodes: readonly RedisServer[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (const node of nodes) {
    while (!(await redisCli(['-p', String(node.port), 'CLUSTER', 'INFO'])).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error(`cluster state not ok on ${node.port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
