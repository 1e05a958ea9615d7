// The failure tests (./failures.ts) against a single redis-server:
// subscription connections cut mid-stream, FLUSHALL, Redis killed and
// restarted mid-stream.
import { after, before } from 'node:test';
import { redisCli, startRedis, type RedisServer } from '../helpers/redis.js';
import { failureTests } from './failures.js';

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

failureTests(() => ({
  options: { url: redis.url },
  cutSubscriptions: async () => {
    await redisCli(['-p', String(redis.port), 'CLIENT', 'KILL', 'TYPE', 'pubsub']);
  },
  flush: () => redis.flush(),
  kill: () => redis.kill(),
  start: () => redis.start(),
}));
