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
import { after, before, test } from 'node:test';
import { redisCli, startRedisSentinel, type RedisSentinelSetup } from '../helpers/redis.js';
import { HubNode, Recorder, delay, range, startNode, until } from './helpers.js';

const BEFORE = 50;
const AFTER = 50;

let setup: RedisSentinelSetup;
const nodes: HubNode[] = [];
const clients: Recorder[] = [];
before(async () => {
  setup = await startRedisSentinel();
});
after(async () => {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await setup?.stop();
});

test('Sentinel: the master dies, the replica is promoted, publishes fail with unavailable meanwhile and go on after, every stored message once, in order', { timeout: 90_000 }, async () => {
  const sentinelHost = new URL(setup.sentinelUrl).host;
  const [publisherNode, memberNode] = await Promise.all([
    // A short command timeout: a publish waiting for a master gives up well before the sentinel (down after 1 s) has a new one.
    startNode({ sentinel: { name: setup.name, sentinels: [setup.sentinelUrl] }, commandTimeout: 300 }),
    startNode({ url: `redis-sentinel://${sentinelHost}/${setup.name}` }),
  ]);
  nodes.push(publisherNode!, memberNode!);
  const room = 'ticker';
  const member = new Recorder(memberNode!.url).listen('tick');
  clients.push(member);
  await member.client.join(room);

  const stored: number[] = [];
  for (const i of range(BEFORE)) {
    await publisherNode!.call('publish', { room, ev: 'tick', data: i });
    stored.push(i);
  }
  // Every acknowledged write has reached the replica (replication is asynchronous: docs/redis.md).
  assert.equal((await redisCli(['-p', String(setup.master.port), 'WAIT', '1', '5000'])).trim(), '1');
  await setup.master.kill();

  const failures: Array<string | undefined> = [];
  const deadline = Date.now() + 45_000;
  for (let i = BEFORE; stored.length < BEFORE + AFTER; i++) {
    assert.ok(Date.now() < deadline, `publishes did not go on after the failover; sentinel log:\n${setup.sentinelLog()}`);
    try {
      await publisherNode!.call('publish', { room, ev: 'tick', data: i });
      stored.push(i);
    } catch (error) {
      failures.push((error as { code?: string }).code);
      await delay(50);
    }
  }
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
  assert.deepEqual(await memberNode!.call('members', { room }).then((m: { id: string }[]) => m.map((x) => x.id)), [member.client.id]);
});
