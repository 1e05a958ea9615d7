// The core tests of the Redis adapter (./shared.ts) against a Redis Cluster
// of 3 masters and no replicas (`redis-cli --cluster create`): rooms spread
// over the shards, sharded pub/sub (SSUBSCRIBE) per shard.
import { after, before, describe } from 'node:test';
import { startRedisCluster, type RedisCluster } from '../helpers/redis.js';
import { coreTests } from './shared.js';

describe('RedisAdapter on a Redis Cluster (3 masters)', () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    await cluster?.stop();
  });
  coreTests(() => ({ cluster: cluster.urls }));
});
