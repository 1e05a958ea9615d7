// Node loss against a single redis-server (./failures.ts): a hub node dies
// (kill -9) while a publisher on another node sends 1,000 messages; its
// clients resume on a live node with every message once, in order, and its
// members leave presence in time.
import { after, before } from 'node:test';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { nodeLossTest } from './failures.js';

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

nodeLossTest(() => ({
  options: { url: redis.url },
  cutSubscriptions: async () => {},
  flush: () => redis.flush(),
  kill: () => redis.kill(),
  start: () => redis.start(),
}));
