// Joins and leaves of one room that a process makes in the same turn go to
// Redis as one script (RedisAdapter.join / removeMember, the PRESENCE
// script): each joining member still gets its own history and the member
// list, every other member one join (and one leave) notice per member, and
// the batch limit (presenceBatch) splits a larger wave. The adapters run in
// this process, against a real redis-server, so that "the same turn" is
// exact; scripts are counted with INFO commandstats.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { AdapterSink, PresenceMember, RoomMessage } from 'switchboard/hub';
import { RedisAdapter, type RedisAdapterOptions } from '../../packages/redis/src/index.js';
import { redisCli, startRedis, type RedisServer } from '../helpers/redis.js';
import { Recorder, startNode, until } from './helpers.js';

let redis: RedisServer;
const adapters: RedisAdapter[] = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const adapter of adapters) await adapter.close().catch(() => {});
  await redis?.stop();
});

/** An adapter and what reached its sink: presence changes by room, in order. */
async function node(options: RedisAdapterOptions = {}): Promise<{ adapter: RedisAdapter; changes: Map<string, string[]> }> {
  const changes = new Map<string, string[]>();
  const sink: AdapterSink = {
    deliverRoom(_message: RoomMessage) {},
    deliverUser() {},
    deliverClient: () => false,
    presenceChanged(room, change) {
      const list = changes.get(room) ?? [];
      changes.set(room, list);
      list.push(change.join ? `join ${change.join.id}` : `leave ${change.leave!.id}`);
    },
  };
  const adapter = new RedisAdapter({ url: redis.url, ...options });
  adapters.push(adapter);
  await adapter.attach(sink);
  return { adapter, changes };
}

/** Scripts run (EVALSHA and EVAL that did not fail) since the server started. */
async function scripts(): Promise<number> {
  let runs = 0;
  for (const line of (await redisCli(['-p', String(redis.port), 'INFO', 'commandstats'])).split('\n')) {
    const match = /^cmdstat_(evalsha|eval):calls=(\d+),.*failed_calls=(\d+)/.exec(line.trim());
    if (match) runs += Number(match[2]) - Number(match[3]);
  }
  return runs;
}

const member = (id: string): PresenceMember => ({ id, user: `user-${id}` });
const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

test('50 joins of a room in one turn: one script, each member its list, every other member one notice per join', { timeout: 60_000 }, async () => {
  const a = await node();
  const b = await node();
  const room = 'wave';
  const first = await b.adapter.join!(room, member('b0'), undefined, undefined, 100);
  assert.deepEqual(first.members?.map((m) => m.id), ['b0']);

  const joining = ids('a', 50);
  const before = await scripts();
  const answers = await Promise.all(joining.map((id) => a.adapter.join!(room, member(id), undefined, undefined, 100)));
  assert.equal((await scripts()) - before, 1, 'one script for the 50 joins');
  for (const answer of answers) {
    assert.equal(answer.history.epoch, first.history.epoch);
    assert.equal(answer.history.head, 0);
    // Added together: every one of them is in each one's list, after the member who was there.
    assert.equal(answer.members![0]!.id, 'b0');
    assert.deepEqual(new Set(answer.members!.map((m) => m.id)), new Set(['b0', ...joining]));
    assert.equal(answer.members![1]!.user, `user-${answer.members![1]!.id}`);
  }
  // A list limit applies to each answer.
  const limited = await a.adapter.join!(room, member('a-late'), undefined, undefined, 3);
  assert.equal(limited.members!.length, 3);

  const joined = [...joining, 'a-late'].map((id) => `join ${id}`);
  await until(() => (b.changes.get(room)?.length ?? 0) >= joined.length + 1, 10_000, 'join notices on node b');
  await until(() => (a.changes.get(room)?.length ?? 0) >= joined.length, 10_000, 'join notices on node a');
  // Exactly one notice per join, in join order, on the other node and on the joining one.
  assert.deepEqual(b.changes.get(room), ['join b0', ...joined]);
  assert.deepEqual(a.changes.get(room), joined);

  const leaving = [...joining, 'a-late'];
  const beforeLeaves = await scripts();
  await Promise.all(leaving.map((id) => a.adapter.removeMember(room, member(id))));
  assert.equal((await scripts()) - beforeLeaves, 1, 'one script for the 51 leaves');
  await until(() => b.changes.get(room)!.length >= 1 + 2 * leaving.length, 10_000, 'leave notices on node b');
  assert.deepEqual(b.changes.get(room)!.slice(1 + leaving.length), leaving.map((id) => `leave ${id}`));
  assert.deepEqual((await b.adapter.members(room)).map((m) => m.id), ['b0']);
});

test('a join and the leave of the same member in one turn: in order, the member is gone', { timeout: 60_000 }, async () => {
  const a = await node();
  const b = await node();
  const room = 'flicker';
  await b.adapter.join!(room, member('b0'), undefined, undefined, 10);
  const before = await scripts();
  const joining = a.adapter.join!(room, member('x'), undefined, undefined, 10);
  const leaving = a.adapter.removeMember(room, member('x'));
  const answer = await joining;
  await leaving;
  assert.equal((await scripts()) - before, 1, 'one script');
  assert.deepEqual(new Set(answer.members!.map((m) => m.id)), new Set(['b0']), 'read after both changes');
  await until(() => (b.changes.get(room)?.length ?? 0) >= 3, 10_000, 'notices');
  assert.deepEqual(b.changes.get(room), ['join b0', 'join x', 'leave x']);
  assert.deepEqual((await b.adapter.members(room)).map((m) => m.id), ['b0']);
});

test('joins resuming from different positions in one script each get their own history and gap', { timeout: 60_000 }, async () => {
  const a = await node();
  const room = 'resume';
  const { history } = await a.adapter.join!(room, member('publisher'), undefined, undefined, undefined);
  for (let i = 1; i <= 5; i++) await a.adapter.publish(room, { ev: 'n', data: i, encoded: String(i) });
  const before = await scripts();
  const [fromTwo, fromFour, atHead, fresh, otherEpoch, beyond] = await Promise.all([
    a.adapter.join!(room, member('r2'), 2, history.epoch, undefined),
    a.adapter.join!(room, member('r4'), 4, history.epoch, undefined),
    a.adapter.join!(room, member('r5'), 5, history.epoch, undefined),
    a.adapter.join!(room, member('new'), undefined, undefined, undefined),
    a.adapter.join!(room, member('old'), 3, 'elsewhere', undefined),
    a.adapter.join!(room, member('ahead'), 9, history.epoch, undefined),
  ]);
  assert.equal((await scripts()) - before, 1, 'one script for the six joins');
  const mids = (answer: typeof fromTwo): number[] => answer.history.messages.map((m) => m.mid);
  assert.deepEqual(mids(fromTwo), [3, 4, 5]);
  assert.equal(fromTwo.history.gap, undefined);
  assert.deepEqual(mids(fromFour), [5]);
  assert.deepEqual(mids(atHead), []);
  assert.deepEqual(mids(fresh), []);
  assert.equal(fresh.members, undefined, 'no list asked for');
  assert.deepEqual(mids(otherEpoch), [1, 2, 3, 4, 5]);
  assert.deepEqual(otherEpoch.history.gap, { from: 1, to: 3, reset: true });
  assert.deepEqual(mids(beyond), [1, 2, 3, 4, 5]);
  assert.deepEqual(beyond.history.gap, { from: 1, to: 9, reset: true });
  for (const answer of [fromTwo, fromFour, atHead, fresh, otherEpoch, beyond]) {
    assert.equal(answer.history.head, 5);
    assert.equal(answer.history.epoch, history.epoch);
  }
  assert.deepEqual(fromTwo.history.messages.map((m) => m.encoded), ['3', '4', '5']);
});

test('presenceBatch splits a wave: 50 joins with a batch of 10 are 5 scripts, each member listed', { timeout: 60_000 }, async () => {
  const a = await node({ presenceBatch: 10 });
  const room = 'split';
  const joining = ids('s', 50);
  const before = await scripts();
  const answers = await Promise.all(joining.map((id) => a.adapter.join!(room, member(id), undefined, undefined, 100)));
  assert.equal((await scripts()) - before, 5);
  // The first batch lists its 10; the last one all 50.
  assert.deepEqual(new Set(answers[0]!.members!.map((m) => m.id)), new Set(joining.slice(0, 10)));
  assert.deepEqual(new Set(answers[49]!.members!.map((m) => m.id)), new Set(joining));
  assert.equal((await a.adapter.members(room)).length, 50);
  assert.throws(() => new RedisAdapter({ url: redis.url, presenceBatch: 1001 }), RangeError);
});

test('through the hub: 40 clients on 2 nodes join one room at once, and every client ends with the same 40 members; 20 leave, 20 remain', { timeout: 120_000 }, async () => {
  const nodes = [await startNode({ url: redis.url }), await startNode({ url: redis.url })];
  const clients = Array.from({ length: 40 }, (_, i) => new Recorder(nodes[i % 2]!.url));
  try {
    await Promise.all(clients.map((c) => c.client.ready()));
    const room = 'hub-wave';
    const answers = await Promise.all(clients.map((c) => c.client.join(room)));
    const everyone = clients.map((c) => c.client.id!);
    answers.forEach((answer, i) => assert.ok(answer.members.some((m) => m.id === everyone[i]), 'a join answer lists the joining client'));
    const view = (c: Recorder): string[] => c.client.members(room).map((m) => m.id).sort();
    await until(() => clients.every((c) => view(c).length === 40), 20_000, 'every client sees 40 members');
    for (const c of clients) assert.deepEqual(view(c), [...everyone].sort());
    assert.equal((await nodes[0]!.call<unknown[]>('members', { room })).length, 40);
    await Promise.all(clients.slice(20).map((c) => c.client.leave(room)));
    const staying = everyone.slice(0, 20).sort();
    await until(() => clients.slice(0, 20).every((c) => view(c).length === 20), 20_000, 'every staying client sees 20 members');
    for (const c of clients.slice(0, 20)) assert.deepEqual(view(c), staying);
    assert.deepEqual((await nodes[1]!.call<Array<{ id: string }>>('members', { room })).map((m) => m.id).sort(), staying);
  } finally {
    for (const c of clients) c.close();
    for (const n of nodes) await n.stop();
  }
});
