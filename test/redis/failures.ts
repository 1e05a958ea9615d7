// The failure tests of the Redis adapter, run against a single Redis
// (redis-failures.test.ts, node-loss.test.ts) and a 3-master Redis Cluster
// (cluster-failures.test.ts):
// - subscription connections cut mid-stream (pub/sub loses what is published
//   meanwhile: the nodes notice the gap in the ids and read it from the
//   stream);
// - Redis flushed (a new epoch: members get 1012, resume and get a `gap`
//   with `reset`);
// - Redis killed and restarted mid-stream (publishes fail with `unavailable`
//   while it is down, nothing is delivered twice or out of order, and
//   delivery comes back by itself);
// - a hub node killed (-9) while a publisher on another node sends 1,000
//   messages: its clients, whose balancer now points at a live node,
//   reconnect there and resume with every message exactly once and in order;
//   its members leave presence (and the `leave` notices go out) within the
//   presence TTL and a sweep, since nobody refreshes them.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { Balancer, HubNode, Recorder, delay, range, startNode, until } from './helpers.js';

/** What the failure tests need of a Redis: how to reach it, and how to break it. */
export interface RedisBackend {
  /** RedisAdapter options: { url } or { cluster }. */
  options: Record<string, unknown>;
  /** Drops every pub/sub connection (CLIENT KILL TYPE pubsub, on every master). */
  cutSubscriptions(): Promise<void>;
  /** FLUSHALL (on every master). */
  flush(): Promise<void>;
  /** kill -9 (of every master). */
  kill(): Promise<void>;
  /** Started again, empty, on the same port(s). */
  start(): Promise<void>;
}

export function failureTests(backend: () => RedisBackend): void {
  const nodes: HubNode[] = [];
  const clients: Recorder[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });

  async function twoNodes(): Promise<[HubNode, HubNode]> {
    const started = await Promise.all([startNode({ ...backend().options, maxReconnectDelay: 100 }), startNode({ ...backend().options, maxReconnectDelay: 100 })]);
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
        await backend().cutSubscriptions();
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
    await backend().flush();
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
      await backend().kill();
      await until(() => failures.length >= 3, 10_000, 'publishes failing while Redis is down');
      await backend().start();
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
    // 'unavailable' while Redis is down; 'disconnected' for a publish in flight when the new epoch
    // closed the publisher's own connection (it is a member of the room: 1012, then it resumes).
    assert.ok(failures.length > 0 && failures.every((code) => code === 'unavailable' || code === 'disconnected'), `clear error code: ${[...new Set(failures)].join(', ')}`);
    assert.ok(failures.includes('unavailable'), `publishes while Redis was down failed with 'unavailable': ${[...new Set(failures)].join(', ')}`);
    // Every message acknowledged after the restart arrives; before it, Redis lost the room (nothing persisted): a reset gap says so.
    await until(() => ackedAfterRestart.every((i) => m.messages.some((x) => x.data === i)), 15_000, 'every message acknowledged after the restart arrives');
    assertOrderedOnce(m.messages);
    const data = m.messages.map((x) => x.data);
    assert.deepEqual(data, [...data].sort((a, b) => a - b), 'in publish order');
    assert.ok(m.gaps.some((g) => g.reset === true), `the lost run is announced (gaps: ${JSON.stringify(m.gaps)})`);
  });
}

const PRESENCE_TTL = 1500;
const TOTAL = 1000;

export function nodeLossTest(backend: () => RedisBackend): void {
  const nodes: HubNode[] = [];
  const clients: Recorder[] = [];
  const balancer = new Balancer();
  before(async () => {
    await balancer.listen();
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await balancer.close();
  });

  test('kill -9 of a node mid-stream: its clients resume on a live node with every message once, in order; its members leave presence in time', { timeout: 90_000 }, async () => {
    const [publisherNode, victim, survivor] = await Promise.all(range(3).map(() => startNode({ ...backend().options, presenceTtl: PRESENCE_TTL })));
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
}
