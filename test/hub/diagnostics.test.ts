// The hub's diagnostics channels (docs/observability.md) seen by a subscriber
// while raw protocol clients on 127.0.0.1 join, publish, request, leave, go
// over the rate limit and stop reading; and Hub#stats() counting the same.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { RawClient, startHub, until } from './helpers.js';

function record(t: TestContext, name: string): any[] {
  const seen: any[] = [];
  const listener = (message: unknown): void => void seen.push(message);
  diagnostics.subscribe(name, listener);
  t.after(() => diagnostics.unsubscribe(name, listener));
  return seen;
}

test('join, publish, request, adapter calls and leave are published; stats() follows rooms and members', { timeout: 30_000 }, async (t) => {
  const joins = record(t, 'switchboard:hub:join');
  const leaves = record(t, 'switchboard:hub:leave');
  const publishes = record(t, 'switchboard:hub:publish');
  const requests = record(t, 'switchboard:hub:request');
  const adapterCalls = record(t, 'switchboard:hub:adapter');
  const h = await startHub();
  t.after(() => h.close());
  h.hub.on('connection', (c) => c.on('add', (data: { a: number; b: number }, reply) => reply(data.a + data.b)));
  const alice = await RawClient.open(h.url);
  const bob = await RawClient.open(h.url);
  await alice.call({ t: 'join', room: 'lobby' }, 1);
  await bob.call({ t: 'join', room: 'lobby' }, 1);
  await bob.call({ t: 'join', room: 'side' }, 2);
  assert.deepEqual(joins.map((m) => m.room), ['lobby', 'lobby', 'side']);
  assert.equal(joins[0].connection, h.hub.clients.get(alice.id));
  assert.deepEqual(
    (({ connections, rooms, members }) => ({ connections, rooms, members }))(h.hub.stats()),
    { connections: 2, rooms: 2, members: 3 },
  );

  await alice.call({ t: 'pub', room: 'lobby', ev: 'say', data: 'hi' }, 2);
  await bob.next((m) => m.t === 'msg' && m.ev === 'say');
  assert.equal(publishes.length, 1);
  const publish = publishes[0];
  assert.equal(publish.room, 'lobby');
  assert.equal(publish.recipients, 1, 'the sender is left out');
  assert.ok(publish.size > 'hi'.length && publish.size < 200, `frame size ${publish.size}`);
  assert.ok(publish.durationMs >= 0);

  assert.equal((await alice.call({ t: 'req', ev: 'add', data: { a: 2, b: 3 } }, 3)).data, 5);
  assert.equal((await alice.call({ t: 'req', ev: 'nothing' }, 4)).code, 'no_handler');
  assert.equal((await alice.call({ t: 'pub', room: 'elsewhere', ev: 'say' }, 5)).code, 'not_member');
  const summary = requests.map((m) => [m.kind, m.event, m.error]);
  assert.deepEqual(summary, [
    ['join', 'lobby', null],
    ['join', 'lobby', null],
    ['join', 'side', null],
    ['pub', 'lobby', null],
    ['req', 'add', null],
    ['req', 'nothing', 'no_handler'],
    ['pub', 'elsewhere', 'not_member'],
  ]);
  assert.ok(requests.every((m) => m.durationMs >= 0 && (m.connection === h.hub.clients.get(alice.id) || m.connection === h.hub.clients.get(bob.id))));

  const operations = new Set(adapterCalls.map((m) => m.operation));
  for (const op of ['addMember', 'history', 'members', 'publish']) assert.ok(operations.has(op), `adapter ${op} timed; got ${[...operations]}`);
  assert.ok(adapterCalls.every((m) => m.error === null && m.durationMs >= 0));

  await bob.call({ t: 'leave', room: 'side' }, 3);
  assert.deepEqual(leaves.map((m) => m.room), ['side']);
  bob.ws.close();
  await until(() => leaves.length === 2, 5000, 'bob leaves lobby when he goes');
  assert.deepEqual(
    (({ connections, rooms, members }) => ({ connections, rooms, members }))(h.hub.stats()),
    { connections: 1, rooms: 1, members: 1 },
  );
});

test('rate-limit hits are published and counted', { timeout: 30_000 }, async (t) => {
  const limited = record(t, 'switchboard:hub:rate-limited');
  const h = await startHub({ rateLimit: { rate: 1, burst: 3 } });
  t.after(() => h.close());
  const c = await RawClient.open(h.url); // hello took one token
  for (let i = 1; i <= 6; i++) c.send({ t: 'req', id: i, ev: 'x' });
  await c.next((m) => m.id === 6);
  assert.equal(limited.length, 4);
  assert.ok(limited.every((m) => m.action === 'reject' && m.connection === h.hub.clients.get(c.id)));
  assert.equal(h.hub.stats().rateLimited, 4);
});

test('a member that stops reading is cut as a slow consumer: published and counted', { timeout: 60_000 }, async (t) => {
  const slow = record(t, 'switchboard:hub:slow-consumer');
  const h = await startHub({ rateLimit: false, maxBufferedAmount: 16 * 1024, disconnectBufferedAmount: 64 * 1024 });
  t.after(() => h.close());
  const c = await RawClient.open(h.url);
  await c.call({ t: 'join', room: 'r' }, 1);
  const server = h.hub.clients.get(c.id)!;
  c.ws.pause();
  const chunk = 'x'.repeat(16 * 1024);
  for (let i = 0; i < 20_000 && slow.length === 0; i++) {
    await h.hub.to('r').emit('fill', chunk);
    if (i % 8 === 7) await new Promise((r) => setImmediate(r));
  }
  assert.equal(slow.length, 1);
  assert.equal(slow[0].connection, server);
  assert.ok(slow[0].bufferedAmount > 64 * 1024);
  assert.equal(h.hub.stats().slowConsumers, 1);
});
