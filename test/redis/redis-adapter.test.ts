// The RedisAdapter across hub processes on one real redis-server (and the
// same core tests on a 3-master Redis Cluster, in cluster.test.ts through
// ./shared.ts): room messages reach members on every node once and in id
// order, presence is the same from every node, toUser / toClient /
// broadcast cross nodes.
import { after, before, describe } from 'node:test';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { coreTests } from './shared.js';

describe('RedisAdapter on a single Redis', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });
  coreTests(() => ({ url: redis.url }));
});
