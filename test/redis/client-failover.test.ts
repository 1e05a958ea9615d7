// Node loss with no balancer: the clients are given every node's URL
// (`new HubClient([urlA, urlB])`), and the node they are on dies (kill -9)
// while a publisher on a third node sends 1,000 messages. Each client's next
// reconnection goes to the next URL of its list, a live node, and resumes
// there from its epoch and last id: every message exactly once, in order.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { HubNode, Recorder, delay, range, startNode, until } from './helpers.js';

const TOTAL = 1000;

let redis: RedisServer;
const nodes: HubNode[] = [];
const clients: Recorder[] = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.stop()));
  await redis?.stop();
});

test('kill -9 of the node a client is on: the client fails over to the next URL of its list and gets every message once, in order', { timeout: 90_000 }, async () => {
  const [publisherNode, victim, survivor] = await Promise.all(range(3).map(() => startNode({ url: redis.url })));
  nodes.push(publisherNode!, victim!, survivor!);
  const room = 'ticker';

  const victims = range(3).map((i) => new Recorder([victim!.url, survivor!.url], { auth: { user: `v${i}` } }).listen('tick'));
  clients.push(...victims);
  await Promise.all(victims.map((v) => v.client.join(room)));
  for (const v of victims) assert.equal(v.client.url, victim!.url, 'on the first URL of the list');
  const deadIds = victims.map((v) => v.client.id!);

  const publisher = new Recorder(publisherNode!.url);
  clients.push(publisher);
  await publisher.client.join(room);

  // In order (each publish waits for the previous ack), so ids follow the publisher's sequence.
  for (const i of range(TOTAL)) {
    await publisher.client.publish(room, 'tick', i);
    if (i === 300) await victim!.kill();
    if (i % 100 === 0) await delay(10);
  }

  await until(() => victims.every((v) => v.messages.length >= TOTAL), 30_000, 'every client got every message');
  for (const v of victims) {
    assert.deepEqual(
      v.messages.map((m) => m.data),
      range(TOTAL),
      'every message exactly once, in order',
    );
    assert.equal(v.client.url, survivor!.url, 'now on the second URL');
    assert.ok(v.client.id !== null && !deadIds.includes(v.client.id), 'a new connection');
    assert.ok(v.disconnects.length >= 1, 'it did lose its node');
    assert.deepEqual(v.gaps, [], 'nothing lost: no gap');
  }
  // Their new connections are members (the dead ones stay until presenceTtl: node-loss.test.ts).
  const members = new Set(((await survivor!.call('members', { room })) as { id: string }[]).map((m) => m.id));
  for (const v of victims) assert.ok(members.has(v.client.id!), 'the client is a member again, from the survivor');
});
