// The failure tests (./failures.ts) against a Redis Cluster of 3 masters:
// subscription connections cut on every shard mid-stream, FLUSHALL on every
// master, every master killed and restarted empty mid-stream (each keeps its
// nodes.conf, so the cluster comes back with the same slots), and a hub node
// killed (-9) mid-stream.
import { after, before, describe } from 'node:test';
import { redisCli, startRedisCluster, type RedisCluster } from '../helpers/redis.js';
import { failureTests, nodeLossTest, type RedisBackend } from './failures.js';

describe('failures on a Redis Cluster (3 masters)', () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    await cluster?.stop();
  });
  const backend = (): RedisBackend => ({
    options: { cluster: cluster.urls },
    cutSubscriptions: async () => {
      await Promise.all(cluster.nodes.map((n) => redisCli(['-p', String(n.port), 'CLIENT', 'KILL', 'TYPE', 'pubsub'])));
    },
    flush: () => cluster.flush(),
    kill: () => cluster.kill(),
    start: () => cluster.start(),
  });
  failureTests(backend);
  nodeLossTest(backend);
});
