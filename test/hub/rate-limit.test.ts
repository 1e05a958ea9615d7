// The per-connection token bucket: over the limit, an error reply (default)
// or a disconnect (4429).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../src/hub/index.js';
import { RawClient, startHub, type TestHub } from './helpers.js';

describe('hub: rate limit', { timeout: 30_000 }, () => {
  const hubs: TestHub[] = [];
  after(async () => {
    for (const h of hubs) await h.close();
  });

  test('token bucket arithmetic', () => {
    let now = 0;
    const b = new TokenBucket(10, 3, () => now);
    assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
    assert.equal(b.retryAfter(), 100);
    now = 100;
    assert.deepEqual([b.take(), b.take()], [true, false]);
    now = 10_000;
    assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false], 'never more than the burst');
    assert.throws(() => new TokenBucket(0, 1), RangeError);
  });

  test("onLimit 'error': excess messages are dropped with rate_limited errors; pings and acks are free", async () => {
    const t = await startHub({ rateLimit: { rate: 1, burst: 5 } });
    hubs.push(t);
    let handled = 0;
    t.hub.on('connection', (c) => c.on('work', (_d, reply) => reply(++handled)));
    const c = await RawClient.open(t.url); // hello used one token
    for (let i = 1; i <= 10; i++) c.send({ t: 'req', id: i, ev: 'work' });
    for (let i = 0; i < 5; i++) c.send({ t: 'ping', ts: i });
    await c.next((m) => m.id === 10);
    await c.next((m) => m.t === 'pong' && m.ts === 4);
    const replies = c.received.filter((m) => m.t === 'ack' || m.t === 'error');
    assert.deepEqual(replies.filter((m) => m.t === 'ack').map((m) => m.id), [1, 2, 3, 4]);
    const limited = replies.filter((m) => m.t === 'error');
    assert.deepEqual(limited.map((m) => m.id), [5, 6, 7, 8, 9, 10]);
    assert.ok(limited.every((m) => m.code === 'rate_limited' && m.retryAfter > 0 && m.retryAfter <= 1000));
    assert.equal(handled, 4);
    assert.equal(c.closed, null);
    c.ws.close();
  });

  test('bad JSON, binary frames and oversized messages cost a token too', async () => {
    const t = await startHub({ rateLimit: { rate: 1, burst: 5 }, maxMessageSize: 64 });
    hubs.push(t);
    const c = await RawClient.open(t.url); // hello used one token
    const junk: Array<string | Buffer> = ['{nope', Buffer.from('{"t":"ping"}'), 'x'.repeat(100), '{nope', Buffer.from([1]), '{nope'];
    for (const item of junk) c.ws.send(item, { binary: Buffer.isBuffer(item) });
    c.send({ t: 'ping', ts: 'end' });
    await c.next((m) => m.t === 'pong' && m.ts === 'end');
    const codes = c.received.filter((m) => m.t === 'error').map((m) => m.code);
    assert.deepEqual(codes, ['bad_json', 'bad_message', 'too_large', 'bad_json', 'rate_limited', 'rate_limited']);
    c.ws.close();
  });

  test('disconnect policy: a flood of binary frames is closed with 4429', async () => {
    const t = await startHub({ rateLimit: { rate: 1, burst: 3, onLimit: 'disconnect' } });
    hubs.push(t);
    const c = await RawClient.open(t.url);
    for (let i = 0; i < 5; i++) c.ws.send(Buffer.from([i]), { binary: true });
    assert.equal((await c.waitClosed()).code, 4429);
  });

  test("onLimit 'disconnect': closed with 4429", async () => {
    const t = await startHub({ rateLimit: { rate: 1, burst: 3, onLimit: 'disconnect' } });
    hubs.push(t);
    const c = await RawClient.open(t.url);
    for (let i = 0; i < 5; i++) c.send({ t: 'emit', ev: 'x', data: i });
    assert.equal((await c.waitClosed()).code, 4429);
  });
});
