// The per-connection token bucket: over the limit, an error reply (default)
// or a disconnect (4429).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../packages/switchboard/src/hub/index.js';
import { hubClient, RawClient, startHub, type TestHub } from './helpers.js';

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

  test("onLimit 'error': excess messages are dropped with rate_limited errors", async () => {
    const t = await startHub({ rateLimit: { rate: 1, burst: 5 } });
    hubs.push(t);
    let handled = 0;
    t.hub.on('connection', (c) => c.on('work', (_d, reply) => reply(++handled)));
    const c = await RawClient.open(t.url); // hello used one token
    for (let i = 1; i <= 10; i++) c.send({ t: 'req', id: i, ev: 'work' });
    await c.next((m) => m.id === 10);
    const replies = c.received.filter((m) => m.t === 'ack' || m.t === 'error');
    assert.deepEqual(replies.filter((m) => m.t === 'ack').map((m) => m.id), [1, 2, 3, 4]);
    const limited = replies.filter((m) => m.t === 'error');
    assert.deepEqual(limited.map((m) => m.id), [5, 6, 7, 8, 9, 10]);
    assert.ok(limited.every((m) => m.code === 'rate_limited' && m.retryAfter > 0 && m.retryAfter <= 1000));
    assert.equal(handled, 4);
    assert.equal(c.closed, null);
    c.ws.close();
  });

  test('pings cost a token, except the heartbeat\'s own (one per half interval): a flood of 5,000 gets about a burst of pongs', async () => {
    const t = await startHub({ heartbeat: { interval: 60_000, timeout: 10_000 } }); // default limit: 50/s, bursts of 100
    hubs.push(t);
    const c = await RawClient.open(t.url); // hello used one token
    const pings = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ t: 'ping', ts: i })).join('\n').split('\n');
    for (const ping of pings) c.ws.send(ping);
    c.send({ t: 'req', id: 1, ev: 'after' });
    await c.next((m) => m.id === 1);
    const pongs = c.received.filter((m) => m.t === 'pong').length;
    const limited = c.received.filter((m) => m.t === 'error' && m.code === 'rate_limited').length;
    // One free (the heartbeat's), 99 from the burst, a few refilled while the flood arrives.
    assert.ok(pongs >= 100 && pongs <= 300, `pongs: ${pongs}`);
    assert.equal(pongs + limited, 5001, 'every ping answered with pong or rate_limited, and the req refused too');
    c.ws.close();
  });

  test('a heartbeat ping is answered even when the bucket is empty, and never disconnects under the disconnect policy', async () => {
    const t = await startHub({ rateLimit: { rate: 1, burst: 3, onLimit: 'disconnect' }, heartbeat: { interval: 200, timeout: 1000 } });
    hubs.push(t);
    const c = await RawClient.open(t.url); // hello used one token
    c.send({ t: 'emit', ev: 'x' });
    c.send({ t: 'emit', ev: 'x' }); // the bucket is empty now
    for (let i = 0; i < 3; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 150));
      c.send({ t: 'ping', ts: i }); // as the client's heartbeat sends them: one per interval
      await c.next((m) => m.t === 'pong' && m.ts === i);
    }
    assert.equal(c.closed, null);
    c.send({ t: 'ping', ts: 'again' }); // a second ping within half an interval costs a token: none left
    assert.equal((await c.waitClosed()).code, 4429);
  });

  test('the browser client\'s own heartbeat is never rate-limited into a disconnect (a charge on every ping would cut it off here)', async () => {
    const t = await startHub({ rateLimit: { rate: 1, burst: 3, onLimit: 'disconnect' }, heartbeat: { interval: 150, timeout: 1000 } });
    hubs.push(t);
    const client = hubClient(t.url, { reconnect: false });
    const disconnects: number[] = [];
    client.on('disconnect', (info) => disconnects.push(info.code));
    await client.ready();
    await new Promise((r) => setTimeout(r, 2000)); // about 13 pings, with 3 + 2 tokens
    assert.deepEqual(disconnects, []);
    assert.equal(client.status, 'open');
    client.close();
  });

  test('acks answering the server\'s requests are free; unasked acks and errors cost a token', async () => {
    const t = await startHub({ rateLimit: { rate: 1, burst: 3 } });
    hubs.push(t);
    const asked: Array<Promise<unknown>> = [];
    t.hub.on('connection', (c) => {
      for (let i = 0; i < 5; i++) asked.push(c.request('q', i));
    });
    const c = await RawClient.open(t.url); // hello used one token
    await c.next((m) => m.t === 'req' && m.data === 4);
    for (const r of c.received.filter((m) => m.t === 'req')) c.send({ t: 'ack', id: r.id, data: r.data });
    assert.deepEqual(await Promise.all(asked), [0, 1, 2, 3, 4], 'five answers with two tokens left');
    for (let i = 0; i < 4; i++) c.send({ t: 'ack', id: 1000 + i, data: null });
    c.send({ t: 'error', id: 2000, code: 'x' });
    await c.next((m) => m.t === 'error' && m.code === 'rate_limited');
    const limited = c.received.filter((m) => m.t === 'error' && m.code === 'rate_limited');
    assert.ok(limited.every((m) => m.id === undefined), 'a refusal of an ack never names the id (the server\'s own counter)');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.received.filter((m) => m.t === 'error' && m.code === 'rate_limited').length, 3, 'two tokens, five unasked answers');
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
