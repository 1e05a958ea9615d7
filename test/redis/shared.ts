// The core tests of the Redis adapter, run against a single Redis
// (redis-adapter.test.ts) and a Redis Cluster (cluster.test.ts).
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { HubNode, Recorder, range, startNode, until } from './helpers.js';

export function coreTests(connection: () => Record<string, unknown>): void {
  const nodes: HubNode[] = [];
  const clients: Recorder[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });
  const start = async (count: number, options: Record<string, unknown> = {}): Promise<HubNode[]> => {
    const started = await Promise.all(range(count).map(() => startNode({ ...connection(), ...options })));
    nodes.push(...started);
    return started;
  };
  const connect = (node: HubNode, user?: string): Recorder => {
    const r = new Recorder(node.url, user === undefined ? {} : { auth: { user } });
    clients.push(r);
    return r;
  };

  test('three nodes: members on every node get every room message once, in id order', { timeout: 60_000 }, async () => {
    const [a, b, c] = await start(3);
    const room = `chat-${Math.random()}`;
    const members = [connect(a!), connect(b!), connect(c!)].map((r) => r.listen('say'));
    await Promise.all(members.map((m) => m.client.join(room)));
    // Three publishers on three nodes at once: clients of a and b, and the server on c.
    const perPublisher = 150;
    const [pa, pb] = [connect(a!), connect(b!)];
    await Promise.all([pa.client.join(room), pb.client.join(room)]);
    await Promise.all([
      ...range(perPublisher).map((i) => pa.client.publish(room, 'say', { p: 'a', i })),
      ...range(perPublisher).map((i) => pb.client.publish(room, 'say', { p: 'b', i })),
      ...range(perPublisher).map((i) => c!.call('publish', { room, ev: 'say', data: { p: 'c', i } })),
    ]);
    const total = 3 * perPublisher;
    await until(() => members.every((m) => m.messages.length >= total), 20_000, 'every member got every message');
    for (const m of members) {
      assert.deepEqual(
        m.messages.map((x) => x.mid),
        range(total).map((i) => i + 1),
        'ids 1..n, each once, in order',
      );
      // Each publisher's messages in the order it sent them.
      for (const p of ['a', 'b', 'c']) assert.deepEqual(m.messages.filter((x) => x.data.p === p).map((x) => x.data.i), range(perPublisher));
    }
    // Every node delivered the same sequence.
    assert.deepEqual(members[0]!.messages, members[1]!.messages);
    assert.deepEqual(members[0]!.messages, members[2]!.messages);
  });

  test('presence is the same from every node; joins and leaves reach members on other nodes', { timeout: 60_000 }, async () => {
    const [a, b] = await start(2);
    const room = `lobby-${Math.random()}`;
    const ann = connect(a!, 'ann');
    const presence: Array<{ join?: { user: string | null }; leave?: { user: string | null } }> = [];
    ann.client.on('presence', (p) => presence.push(p));
    await ann.client.join(room);
    const bob = connect(b!, 'bob');
    await bob.client.join(room);
    const cid = connect(b!, 'cid');
    await cid.client.join(room);
    const users = async (node: HubNode): Promise<string[]> => ((await node.call('members', { room })) as { user: string }[]).map((m) => m.user);
    assert.deepEqual(await users(a!), ['ann', 'bob', 'cid'], 'oldest first');
    assert.deepEqual(await users(b!), ['ann', 'bob', 'cid']);
    await until(() => presence.filter((p) => p.join).length === 2, 5000, 'ann saw both joins');
    await cid.client.leave(room);
    await until(() => presence.some((p) => p.leave?.user === 'cid'), 5000, 'ann saw cid leave');
    assert.deepEqual(await users(a!), ['ann', 'bob']);
    assert.deepEqual(await users(b!), ['ann', 'bob']);
    bob.close();
    await until(async () => (await users(a!)).length === 1, 5000, 'bob gone when his connection closed');
  });

  test('toUser, toClient and broadcast reach connections on other nodes', { timeout: 60_000 }, async () => {
    const [a, b, c] = await start(3);
    const onA = connect(a!, 'dora').listen('note');
    const onB = connect(b!, 'dora').listen('note');
    const onC = connect(c!, 'eve').listen('note');
    await Promise.all([onA, onB, onC].map((r) => r.client.ready()));
    await c!.call('toUser', { user: 'dora', ev: 'note', data: 'to dora' });
    await until(() => onA.events.length === 1 && onB.events.length === 1, 5000, 'both of dora');
    assert.equal(onC.events.length, 0);
    // A client's direct message to a user on two other nodes.
    await onC.client.direct({ user: 'dora' }, 'note', 'from eve');
    await until(() => onA.events.length === 2 && onB.events.length === 2, 5000, 'dm to dora');
    assert.deepEqual(await a!.call('toClient', { client: onC.client.id, ev: 'note', data: 'to eve' }), true);
    await until(() => onC.events.length === 1, 5000, 'toClient');
    assert.deepEqual(await a!.call('toClient', { client: 'nobody', ev: 'note', data: 'x' }), false, 'nowhere: false');
    await b!.call('broadcast', { ev: 'note', data: 'all' });
    await until(() => [onA, onB, onC].every((r) => r.events.some((e) => e.data === 'all')), 5000, 'broadcast');
    assert.deepEqual(
      [onA, onB, onC].map((r) => r.events.map((e) => e.data)),
      [
        ['to dora', 'from eve', 'all'],
        ['to dora', 'from eve', 'all'],
        ['to eve', 'all'],
      ],
      'each once',
    );
  });
}
