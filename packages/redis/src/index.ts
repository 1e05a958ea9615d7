// @switchboard/redis: the switchboard hub on Redis (docs/redis.md).
export { RedisAdapter, UNAVAILABLE, type RedisAdapterOptions } from './redis-adapter.js';
export type { SentinelOptions } from './link.js';
