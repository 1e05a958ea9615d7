// Redis Sentinel with real processes: a master, a replica and a sentinel
// (test/helpers/redis.ts). Two hub nodes find the master through the
// sentinel (one by the `sentinel` option, one by a redis-sentinel:// URL, as
// `serve --hub --redis` passes it); the master is killed (-9) and the
// sentinel promotes the replica. Publishes made while there is no master
// fail with 'unavailable' once their command timeout passes (never silently,
// never stored later), and once the sentinel has
// switched, publishes go on: a member on the other node gets every stored
// message once, in order, with no gap (the ids and epoch came over with the
// replica).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisCli } from '../helpers/redis.js';
import { delay, range, until } from './helpers.js';
import { publishThroughFailover, useRedisSentinel } from './sentinel-setup.js';

const BEFORE = 50;
const AFTER = 50;

const sentinel = useRedisSentinel();

test('Sentinel: the master dies, the replica is promoted, publishes fail with unavailable meanwhile and go on after, every stored message once, in order', { timeout: 90_000 }, async () => {
  const { setup } = sentinel;
  const ticker = await sentinel.startRoom(({ name, sentinelUrl }) => ({ url: `redis-sentinel://${new URL(sentinelUrl).host}/${name}` }));
  const { publisherNode, memberNode, member, room } = ticker;

  const stored: number[] = [];
  for (const i of range(BEFORE)) {
    await publisherNode.call('publish', { room, ev: 'tick', data: i });
    stored.push(i);
  }
  // Every acknowledged write has reached the replica (replication is asynchronous: docs/redis.md).
  assert.equal((await redisCli(['-p', String(setup.master.port), 'WAIT', '1', '5000'])).trim(), '1');
  await setup.master.kill();

  const { published, failures } = await publishThroughFailover(sentinel, ticker, BEFORE, AFTER);
  stored.push(...published);
  assert.match(setup.sentinelLog(), new RegExp(`\\+switch-master ${setup.name} \\S+ ${setup.master.port} \\S+ ${setup.replica.port}`), 'the sentinel promoted the replica');
  assert.ok(failures.length > 0, 'publishes made with no master failed');
  assert.deepEqual([...new Set(failures)], ['unavailable'], 'a publish that failed said so, with unavailable');

  await until(() => member.messages.length >= stored.length, 20_000, 'the member got every stored message');
  await delay(200); // nothing more arrives (no duplicate)
  assert.deepEqual(
    member.messages.map((m) => m.data),
    stored,
    'every stored message once, in order',
  );
  assert.deepEqual(member.gaps, [], 'no gap: the ids and epoch came over with the replica');
  assert.deepEqual(await memberNode.call('members', { room }).then((m: { id: string }[]) => m.map((x) => x.id)), [member.client.id]);
});
