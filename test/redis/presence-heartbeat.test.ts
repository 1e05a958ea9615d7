// The presence heartbeat costs the same whatever a process's number of
// members in a room: one script per (process, room) and presenceTtl / 3, of
// a constant number of Redis calls (one deadline per process, not one per
// member). Counted with INFO commandstats, which counts the calls made
// inside scripts too, as calls per script run while the room is idle.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { redisCli, startRedis, type RedisServer } from '../helpers/redis.js';
import { HubNode, Recorder, startNode, until } from './helpers.js';

let redis: RedisServer;
let node: HubNode;
const clients: Recorder[] = [];
before(async () => {
  redis = await startRedis();
  node = await startNode({ url: redis.url, presenceTtl: 900 });
});
after(async () => {
  for (const c of clients) c.close();
  await node?.stop();
  await redis?.stop();
});

async function commandStats(): Promise<Map<string, number>> {
  const stats = new Map<string, number>();
  for (const line of (await redisCli(['-p', String(redis.port), 'INFO', 'commandstats'])).split('\n')) {
    // A script's first EVALSHA fails (NOSCRIPT) and is sent again as EVAL: runs are the calls that did not fail.
    const match = /^cmdstat_([^:]+):calls=(\d+),.*failed_calls=(\d+)/.exec(line.trim());
    if (match) stats.set(match[1]!, Number(match[2]) - Number(match[3]));
  }
  return stats;
}

/** Calls per heartbeat script, by command, over at least three heartbeats of the idle room. */
async function callsPerHeartbeat(): Promise<Record<string, number>> {
  await redisCli(['-p', String(redis.port), 'CONFIG', 'RESETSTAT']);
  const scripts = (stats: Map<string, number>): number => (stats.get('evalsha') ?? 0) + (stats.get('eval') ?? 0);
  let stats = new Map<string, number>();
  await until(async () => scripts((stats = await commandStats())) >= 3, 15_000, 'three heartbeats');
  const runs = scripts(stats);
  const perRun: Record<string, number> = {};
  for (const [command, calls] of stats) {
    if (command === 'evalsha' || command === 'eval' || command.startsWith('info') || command.startsWith('config')) continue;
    perRun[command] = calls / runs;
  }
  return perRun;
}

test('the presence heartbeat sends the same Redis calls for 1 and for 200 local members of a room', { timeout: 120_000 }, async () => {
  const room = 'crowd';
  const join = async (): Promise<void> => {
    const member = new Recorder(node.url);
    clients.push(member);
    await member.client.join(room);
  };
  await join();
  const one = await callsPerHeartbeat();
  for (let i = 0; i < 199; i++) await join();
  assert.equal((await node.call<unknown[]>('members', { room })).length, 200);
  const many = await callsPerHeartbeat();
  assert.deepEqual(many, one, `calls per heartbeat with 200 members ${JSON.stringify(many)}, with 1 ${JSON.stringify(one)}`);
  assert.equal(one.zadd, 1, 'one deadline per process');
});
