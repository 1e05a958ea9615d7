// A hub node dies (kill -9) while a publisher on another node sends 1,000
// messages: the dead node's clients, whose balancer now points at a live
// node, reconnect there and resume, getting every message exactly once and
// in order; the dead node's members leave presence (and the `leave` notices
// go out) within the presence TTL and a sweep, since nobody refreshes them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { Balancer, HubNode, Recorder, delay, range, startNode, until } from './helpers.js';

const PRESENCE_TTL = 1500;
const TOTAL = 1000;

let redis: RedisServer;
const nodes: HubNode[] = [];
const clients: Recorder[] = [];
const balancer = new Balancer();
before(async () => {
  redis = await startRedis();
  await balancer.listen();
});
after(async () => {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await balancer.close();
  await redis?.stop();
});

test('kill -9 of a node mid-stream: its clients resume on a live node with every message once, in order; its members leave presence in time', { timeout: 90_000 }, async () => {
  const [publisherNode, victim, survivor] = await Promise.all(range(3).map(() => startNode({ url: redis.url, presenceTtl: PRESENCE_TTL })));
  nodes.push(publisherNode!, victim!, survivor!);
  const room = 'ticker';
  balancer.target = victim!.port;

  const watcher = new Recorder(survivor!.url, { auth: { user: 'watcher' } });
  clients.push(watcher);
  const leaves: string[] = [];
  watcher.client.on('presence', (p) => p.leave && leaves.push(p.leave.id));
  await watcher.client.join(room);

  const victims = range(3).map((i) => new Recorder(balancer.url, { auth: { user: `v${i}` } }).listen('tick'));
  clients.push(...victims);
  await Promise.all(victims.map((v) => v.client.join(room)));
  const deadIds = victims.map((v) => v.client.id!);

  const publisher = new Recorder(publisherNode!.url);
  clients.push(publisher);
  await publisher.client.join(room);

  // The publisher sends in order (each waits for the previous ack), so ids follow its sequence.
  let killedAt = 0;
  const sending = (async () => {
    for (const i of range(TOTAL)) {
      await publisher.client.publish(room, 'tick', i);
      if (i === 300) {
        // Mid-stream: the node dies and the balancer sends reconnections to a live node.
        balancer.target = survivor!.port;
        await victim!.kill();
        killedAt = Date.now();
      }
      if (i % 100 === 0) await delay(10);
    }
  })();
  await sending;

  await until(() => victims.every((v) => v.messages.length >= TOTAL), 30_000, 'every victim got every message');
  for (const v of victims) {
    assert.deepEqual(
      v.messages.map((m) => m.data),
      range(TOTAL),
      'every message exactly once, in order',
    );
    assert.ok(v.client.id !== null && !deadIds.includes(v.client.id), 'reconnected (a new connection id)');
    assert.equal(v.gaps.length, 0, 'nothing lost: no gap');
  }

  // The dead node's connections leave presence once their deadline passes (TTL + one sweep), and the leaves are announced.
  const bound = (PRESENCE_TTL * 4) / 3;
  await until(() => deadIds.every((id) => leaves.includes(id)), bound + 5000, 'leave notices for the dead node\'s members');
  const members = (await survivor!.call('members', { room })) as { id: string; user: string }[];
  assert.deepEqual(
    members.filter((m) => deadIds.includes(m.id)),
    [],
    'none of the dead connections is in presence',
  );
  assert.deepEqual(members.map((m) => m.user).sort(), [null, 'v0', 'v1', 'v2', 'watcher'], 'the resumed clients and the others are');
  assert.equal(new Set(leaves).size, leaves.length, 'each leave announced once');
  assert.ok(killedAt > 0);
});
