// Redis misbehaving under the adapter: subscription connections cut
// mid-stream (pub/sub loses what is published meanwhile: the nodes notice
// the gap in the ids and read it from the stream), Redis flushed (a new
// epoch: members get 1012, resume and get a `gap` with `reset`), and Redis
// killed and restarted mid-stream (publishes fail with `unavailable` while
// it is down, nothing is delivered twice or out of order, and delivery comes
// back by itself).
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { redisCli, startRedis, type RedisServer } from '../helpers/redis.js';
import { HubNode, Recorder, delay, range, startNode, until } from './helpers.js';

let redis: RedisServer;
const nodes: HubNode[] = [];
const clients: Recorder[] = [];
before(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});
after(async () => {
  await redis?.stop();
});

async function twoNodes(): Promise<[HubNode, HubNode]> {
  const started = await Promise.all([startNode({ url: redis.url, maxReconnectDelay: 100 }), startNode({ url: redis.url, maxReconnectDelay: 100 })]);
  nodes.push(...started);
  return started as [HubNode, HubNode];
}

function member(node: HubNode): Recorder {
  const r = new Recorder(node.url).listen('n');
  clients.push(r);
  return r;
}

/** Checks that within each epoch's run the ids go 1, 2, 3... or follow on, never twice, never backwards. */
function assertOrderedOnce(received: { data: number }[]): void {
  const seen = new Set<number>();
  for (const m of received) {
    assert.ok(!seen.has(m.data), `payload ${m.data} delivered twice`);
    seen.add(m.data);
  }
}

test('subscription connections cut mid-stream: every message still arrives once, in order, from the stream', { timeout: 60_000 }, async () => {
  const [publisher, subscriber] = await twoNodes();
  const room = `cut-${Math.random()}`;
  const members = [member(subscriber), member(subscriber)];
  await Promise.all(members.map((m) => m.client.join(room)));
  const total = 1000;
  const cutting = (async () => {
    for (let i = 0; i < 6; i++) {
      await delay(60);
      // Drops every subscriber connection: messages published until node-redis resubscribes are lost to pub/sub.
      await redisCli(['-p', String(redis.port), 'CLIENT', 'KILL', 'TYPE', 'pubsub']);
    }
  })();
  for (const i of range(total)) {
    await publisher.call('publish', { room, ev: 'n', data: i });
  }
  await cutting;
  await until(() => members.every((m) => m.messages.length >= total), 20_000, 'every message arrived');
  for (const m of members) {
    assert.deepEqual(
      m.messages.map((x) => x.data),
      range(total),
    );
    assert.deepEqual(m.gaps, [], 'no gap: the node filled it');
    assert.deepEqual(m.disconnects, [], 'members stayed connected');
  }
});

test('Redis flushed: the room gets a new epoch, members resume and get a gap with reset, then the new run', { timeout: 60_000 }, async () => {
  const [publisher, subscriber] = await twoNodes();
  const room = `flush-${Math.random()}`;
  const m = member(subscriber);
  await m.client.join(room);
  for (const i of range(20)) await publisher.call('publish', { room, ev: 'n', data: i });
  await until(() => m.messages.length === 20, 10_000, 'first run');
  const before = (await subscriber.call('history', { room, since: 0 })) as { epoch: string };
  await redis.flush();
  for (const i of range(20)) await publisher.call('publish', { room, ev: 'n', data: 100 + i });
  await until(() => m.messages.length === 40, 10_000, 'second run');
  assert.deepEqual(
    m.messages.map((x) => x.mid),
    [...range(20), ...range(20)].map((i) => i + 1),
    'ids start again at 1',
  );
  assert.deepEqual(
    m.messages.map((x) => x.data),
    [...range(20), ...range(20).map((i) => 100 + i)],
  );
  assert.deepEqual(m.gaps, [{ room, from: 1, to: 20, reset: true }], 'announced');
  assert.ok(m.disconnects.includes(1012), 'closed with 1012 (service restart) to resume');
  const afterFlush = (await subscriber.call('history', { room, since: 0 })) as { epoch: string };
  assert.notEqual(afterFlush.epoch, before.epoch, 'a new epoch');
});

test('Redis killed and restarted mid-stream: publishes fail with `unavailable` meanwhile, delivery comes back, nothing twice or out of order', { timeout: 60_000 }, async () => {
  const [publisherNode, subscriber] = await twoNodes();
  const room = `restart-${Math.random()}`;
  const m = member(subscriber);
  await m.client.join(room);
  const publisher = new Recorder(publisherNode.url);
  clients.push(publisher);
  await publisher.client.join(room);
  const acked: number[] = [];
  const failures: string[] = [];
  let next = 0;
  let restarted = false;
  const restarting = (async () => {
    await until(() => acked.length >= 100, 10_000, 'first messages');
    await redis.kill();
    await until(() => failures.length >= 3, 10_000, 'publishes failing while Redis is down');
    await redis.start();
    restarted = true;
  })();
  // The publisher keeps sending; a message that failed is not retried (its payload is skipped).
  const ackedAfterRestart: number[] = [];
  while (ackedAfterRestart.length < 100) {
    const i = next++;
    const sentAfterRestart = restarted;
    try {
      await publisher.client.publish(room, 'n', i);
      acked.push(i);
      if (sentAfterRestart) ackedAfterRestart.push(i);
    } catch (error) {
      failures.push((error as { code: string }).code);
      await delay(20);
    }
  }
  await restarting;
  assert.ok(failures.every((code) => code === 'unavailable'), `clear error code: ${[...new Set(failures)].join(', ')}`);
  // Every message acknowledged after the restart arrives; before it, Redis lost the room (nothing persisted): a reset gap says so.
  await until(() => ackedAfterRestart.every((i) => m.messages.some((x) => x.data === i)), 15_000, 'every message acknowledged after the restart arrives');
  assertOrderedOnce(m.messages);
  const data = m.messages.map((x) => x.data);
  assert.deepEqual(data, [...data].sort((a, b) => a - b), 'in publish order');
  assert.ok(m.gaps.some((g) => g.reset === true), `the lost run is announced (gaps: ${JSON.stringify(m.gaps)})`);
});
