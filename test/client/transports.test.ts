// switchboard/client over the HTTP fallback transports, in Node, through a
// real proxy that blocks WebSockets: the client finds a transport that works
// and the application code does not change (rooms, requests with acks,
// presence, a burst with no loss or duplicate).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HubClient, HubError } from '../../packages/switchboard/src/client/index.js';
import { until, type TestHub } from '../hub/helpers.js';
import { FallbackFixture, hubUrlBehind } from './helpers/fallback.js';

const fixture = new FallbackFixture();
const proxyTo = fixture.proxyTo.bind(fixture);
const client = fixture.client.bind(fixture);

async function hubWithFallback(): Promise<TestHub> {
  const t = await fixture.hub();
  t.hub.on('connection', (client) => client.on('add', (d: { a: number; b: number }, reply) => reply(d.a + d.b)));
  return t;
}

/** `count` messages published to a room at once, checked at `receiver` in order with no loss or duplicate. */
async function burst(t: TestHub, receiver: HubClient, count: number): Promise<void> {
  const got: number[] = [];
  receiver.on('n', (n: number) => got.push(n));
  await receiver.join('burst');
  for (let i = 0; i < count; i++) void t.hub.to('burst').emit('n', i);
  await until(() => got.length >= count, 20_000, `${got.length}/${count} arrived`);
  await new Promise((r) => setTimeout(r, 100)); // a duplicate would come now
  assert.deepEqual(got, Array.from({ length: count }, (_, i) => i));
}

describe('client transports', { timeout: 90_000 }, () => {
  after(() => fixture.close());

  test('a proxy refusing WebSocket upgrades: the client moves to SSE and chats with a WebSocket client', async () => {
    const t = await hubWithFallback();
    const proxy = await proxyTo(t, { upgrade: 'refuse' });
    const started = performance.now();
    const fallback = client(hubUrlBehind(proxy));
    await fallback.ready();
    const took = performance.now() - started;
    assert.equal(fallback.transport, 'sse');
    assert.equal(proxy.upgrades, 1);
    console.log(`# refused upgrade -> SSE connected in ${took.toFixed(0)} ms`);
    const ws = client(t.url, { transports: ['websocket'] });
    await ws.ready();
    await ws.join('chat');
    const presence = new Promise<string>((resolve) => ws.on('presence', (p) => p.join && resolve(p.join.id)));
    await fallback.join('chat');
    assert.equal(await presence, fallback.id);
    const heard = new Promise<unknown>((resolve) => ws.on('said', (d) => resolve(d)));
    await fallback.publish('chat', 'said', 'hello from sse');
    assert.equal(await heard, 'hello from sse');
    const back = new Promise<unknown>((resolve) => fallback.on('said', (d) => resolve(d)));
    await ws.publish('chat', 'said', 'hello from ws');
    assert.equal(await back, 'hello from ws');
    assert.equal(await fallback.request('add', { a: 20, b: 22 }), 42);
    await burst(t, fallback, 1000);
  });

  test('an uplink POST answered 503 (a busy node) is sent again after Retry-After: the session stays, nothing lost or doubled', async () => {
    const t = await hubWithFallback();
    const proxy = await proxyTo(t, { upgrade: 'refuse' });
    const fallback = client(hubUrlBehind(proxy), { upgrade: false, rememberTransport: false });
    const ws = client(t.url, { transports: ['websocket'] });
    await Promise.all([fallback.ready(), ws.ready()]);
    assert.equal(fallback.transport, 'sse');
    await Promise.all([fallback.join('busy'), ws.join('busy')]);
    const got: number[] = [];
    ws.on('n', (n: number) => got.push(n));
    let disconnects = 0;
    fallback.on('disconnect', () => disconnects++);
    const idBefore = fallback.id;
    proxy.busySends = 2;
    for (let i = 0; i < 5; i++) void fallback.publish('busy', 'n', i);
    await until(() => got.length >= 5, 20_000, `${got.length}/5 arrived`);
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would come now
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    assert.equal(proxy.refusedSends, 2);
    assert.equal(disconnects, 0);
    assert.equal(fallback.id, idBefore);
  });

  test('a busy uplink holds at most uplinkQueueSize messages, then the outbox (outboxSize): its oldest are dropped with outbox_full', async () => {
    const t = await hubWithFallback();
    const proxy = await proxyTo(t, { upgrade: 'refuse' });
    const fallback = client(hubUrlBehind(proxy), { uplinkQueueSize: 5, outboxSize: 3, upgrade: false });
    await fallback.ready();
    assert.equal(fallback.transport, 'sse');
    proxy.busySends = 2;
    const answers = Array.from({ length: 12 }, (_, i) => fallback.request('add', { a: i, b: 0 }).then((n) => n, (e: HubError) => e.code));
    // 0 is in the POST answered 503 (sent again after Retry-After), 1-5 wait in the uplink, 6-11 in the outbox, cut to its newest 3.
    assert.deepEqual(await Promise.all(answers), [0, 1, 2, 3, 4, 5, 'outbox_full', 'outbox_full', 'outbox_full', 9, 10, 11]);
    assert.equal(proxy.refusedSends, 2);
  });

  test('a proxy that also buffers streamed responses: SSE never delivers, the client moves to polling', async () => {
    const t = await hubWithFallback();
    const proxy = await proxyTo(t, { upgrade: 'refuse', buffer: true });
    const started = performance.now();
    const fallback = client(hubUrlBehind(proxy), { transportTimeout: 1000 });
    await fallback.ready();
    console.log(`# refused upgrade + buffered stream -> polling connected in ${(performance.now() - started).toFixed(0)} ms (transportTimeout 1000)`);
    assert.equal(fallback.transport, 'polling');
    assert.equal(await fallback.request('add', { a: 1, b: 2 }), 3);
    await burst(t, fallback, 1000);
  });

  test('a proxy that swallows upgrades: the WebSocket attempt times out and SSE takes over', async () => {
    const t = await hubWithFallback();
    const proxy = await proxyTo(t, { upgrade: 'hang' });
    const started = performance.now();
    const fallback = client(hubUrlBehind(proxy), { transportTimeout: 500 });
    await fallback.ready();
    console.log(`# swallowed upgrade -> SSE connected in ${(performance.now() - started).toFixed(0)} ms (transportTimeout 500)`);
    assert.equal(fallback.transport, 'sse');
    assert.equal(await fallback.request('add', { a: 2, b: 2 }), 4);
  });

  test('the outbox and resume work the same over a fallback: the hub dropping the session loses no room message', async () => {
    const t = await hubWithFallback();
    const fallback = client(t.url, { transports: ['polling'], reconnect: { initialDelay: 50, maxDelay: 100 } });
    await fallback.ready();
    await fallback.join('r');
    const got: number[] = [];
    fallback.on('n', (n: number) => got.push(n));
    const server = [...t.hub.clients.values()][0]!;
    server.disconnect(1012, 'restart');
    await t.hub.to('r').emit('n', 1);
    fallback.emit('while-away', 1); // held in the outbox
    await until(() => got.length === 1, 10_000, 'the message published while away');
    assert.deepEqual(got, [1]);
    assert.equal(fallback.transport, 'polling');
  });
});
