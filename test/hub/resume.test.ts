// Resume without loss: a client dropped mid-burst gets every message, in
// order, exactly once; a gap notice when history no longer reaches back.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessAdapter } from '../../packages/switchboard/src/hub/index.js';
import { RawClient, delay, dropClient, hubClient, startHub, until, type TestHub } from './helpers.js';

describe('hub: resume', { timeout: 60_000 }, () => {
  const hubs: TestHub[] = [];
  after(async () => {
    for (const h of hubs) await h.close();
  });

  test('dropped (socket destroyed) during a burst of 1,000 room messages: after reconnecting, all of them, in order, once', async () => {
    const t = await startHub({ rateLimit: false, history: { maxMessages: 2000 } });
    hubs.push(t);
    const client = hubClient(t.url, { reconnect: { initialDelay: 20, maxDelay: 200 } });
    const got: number[] = [];
    let dropped = false;
    let atReconnect = -1;
    const disconnects: number[] = [];
    client.on('disconnect', (info) => disconnects.push(info.code));
    client.on('connect', (info) => {
      if (info.reconnected) atReconnect = got.length;
    });
    client.on('n', (n: number) => {
      got.push(n);
      if (got.length === 300 && !dropped) {
        dropped = true;
        dropClient(client);
      }
    });
    await client.ready();
    await client.join('burst');
    // Another member that stays connected, as the reference.
    const steady = hubClient(t.url);
    const steadyGot: number[] = [];
    steady.on('n', (n: number) => steadyGot.push(n));
    await steady.ready();
    await steady.join('burst');

    for (let i = 0; i < 1000; i++) {
      await t.hub.to('burst').emit('n', i);
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    await until(() => got.length >= 1000 && steadyGot.length >= 1000, 15_000, `1,000 messages (have ${got.length})`);
    await delay(100); // duplicates would arrive by now
    const expected = Array.from({ length: 1000 }, (_, i) => i);
    assert.ok(dropped);
    assert.deepEqual(disconnects, [1006], 'one abrupt disconnect');
    assert.ok(atReconnect >= 300 && atReconnect < 1000, `the burst went on while it was away (had ${atReconnect} at reconnection)`);
    assert.equal(got.length, 1000, 'exactly once');
    assert.deepEqual(got, expected, 'in order');
    assert.deepEqual(steadyGot, expected);
    assert.equal(client.lastSeen('burst'), 1000);
    client.close();
    steady.close();
  });

  test('gap notice when history no longer reaches back, then what is held', async () => {
    const t = await startHub({ rateLimit: false, history: { maxMessages: 10 } });
    hubs.push(t);
    const client = hubClient(t.url, { reconnect: { initialDelay: 300, jitter: 0 } });
    const got: number[] = [];
    const gaps: unknown[] = [];
    client.on('n', (n: number) => got.push(n));
    client.on('gap', (g) => gaps.push(g));
    await client.ready();
    await client.join('small');
    for (let i = 1; i <= 5; i++) await t.hub.to('small').emit('n', i);
    await until(() => got.length === 5);
    dropClient(client);
    await until(() => t.hub.clients.size === 0);
    for (let i = 6; i <= 55; i++) await t.hub.to('small').emit('n', i);
    await until(() => got.length === 15, 5000, `replay (have ${got.length})`);
    await delay(50);
    assert.deepEqual(gaps, [{ room: 'small', from: 6, to: 45, reset: undefined }]);
    assert.deepEqual(got, [1, 2, 3, 4, 5, ...Array.from({ length: 10 }, (_, i) => 46 + i)]);
    client.close();
  });

  test('the raw protocol: join with since, resume, and a reset after the ids restarted', async () => {
    const t = await startHub({ rateLimit: false });
    hubs.push(t);
    for (let i = 1; i <= 5; i++) await t.hub.to('r').emit('n', i);
    const c = await RawClient.open(t.url);
    const ack = await c.call({ t: 'join', room: 'r', since: 2 }, 1);
    assert.equal(ack.data.head, 5);
    await c.next((m) => m.t === 'msg' && m.mid === 5);
    assert.deepEqual(c.received.filter((m) => m.t === 'msg').map((m) => m.data), [3, 4, 5]);
    assert.ok(c.received.indexOf(ack) < c.received.findIndex((m) => m.t === 'msg'), 'the answer comes before the replay');
    const d = await RawClient.open(t.url);
    const r = await d.call({ t: 'resume', rooms: { r: 4, other: 0 } }, 1);
    const epoch = ack.data.epoch;
    assert.deepEqual(r.data, { rooms: { r: { head: 5, epoch, members: [{ id: c.id, user: null }, { id: d.id, user: null }] }, other: { head: 0, epoch, members: [{ id: d.id, user: null }] } } });
    assert.deepEqual(d.received.filter((m) => m.t === 'msg').map((m) => m.mid), [5]);
    // A last id beyond the head: the sequence restarted (in-memory history after a restart).
    const e = await RawClient.open(t.url);
    await e.call({ t: 'join', room: 'r', since: 99 }, 1);
    const gap = await e.next((m) => m.t === 'gap');
    assert.deepEqual(gap, { t: 'gap', room: 'r', from: 1, to: 99, reset: true, epoch });
    await e.next((m) => m.mid === 5);
    assert.deepEqual(e.received.filter((m) => m.t === 'msg').map((m) => m.mid), [1, 2, 3, 4, 5]);
    for (const x of [c, d, e]) x.ws.close();
  });

  test('a resume naming earlier connection ids leaves out what was kept from them (own messages, except)', async () => {
    const t = await startHub({ rateLimit: false });
    hubs.push(t);
    const a = await RawClient.open(t.url);
    const b = await RawClient.open(t.url);
    await a.call({ t: 'join', room: 'x' }, 1);
    await b.call({ t: 'join', room: 'x' }, 1);
    const aClient = t.hub.clients.get(a.id)!;
    await t.hub.to('x').emit('n', 1); // mid 1: to everyone
    await a.call({ t: 'pub', room: 'x', ev: 'n', data: 2 }, 2); // mid 2: a's own
    await t.hub.to('x').except(aClient).emit('n', 3); // mid 3: everyone but a
    await t.hub.to('x').emit('n', 4); // mid 4: to everyone
    await b.next((m) => m.t === 'msg' && m.mid === 4);
    a.ws.close();

    // a comes back under a new id and names the old one.
    const a2 = await RawClient.open(t.url);
    const r = await a2.call({ t: 'resume', rooms: { x: 0 }, was: [a.id] }, 1);
    assert.equal(r.t, 'ack');
    await a2.next((m) => m.t === 'msg' && m.mid === 4);
    assert.deepEqual(a2.received.filter((m) => m.t === 'msg').map((m) => m.data), [1, 4]);
    // Without the old id, the replay has everything held (as before).
    const c = await RawClient.open(t.url);
    await c.call({ t: 'resume', rooms: { x: 0 } }, 1);
    await c.next((m) => m.t === 'msg' && m.mid === 4);
    assert.deepEqual(c.received.filter((m) => m.t === 'msg').map((m) => m.data), [1, 2, 3, 4]);
    // b was excluded from nothing: naming its id changes nothing for a newcomer.
    const d = await RawClient.open(t.url);
    await d.call({ t: 'resume', rooms: { x: 0 }, was: [b.id] }, 1);
    await d.next((m) => m.t === 'msg' && m.mid === 4);
    assert.deepEqual(d.received.filter((m) => m.t === 'msg').map((m) => m.data), [1, 2, 3, 4]);
    // A malformed list is refused with bad_message.
    const e = await RawClient.open(t.url);
    const bad = await e.call({ t: 'resume', rooms: { x: 0 }, was: 'nope' }, 1);
    assert.equal(bad.t, 'error');
    assert.equal(bad.code, 'bad_message');
    for (const x of [a2, b, c, d, e]) x.ws.close();
  });

  test('the client library names its earlier ids: a message excluded from it is not replayed after it reconnects', async () => {
    const t = await startHub({ rateLimit: false });
    hubs.push(t);
    const client = hubClient(t.url, { reconnect: { initialDelay: 300, jitter: 0 } });
    const got: number[] = [];
    client.on('n', (n: number) => got.push(n));
    await client.ready();
    await client.join('y');
    const first = t.hub.clients.get(client.id!)!;
    await t.hub.to('y').emit('n', 1);
    await until(() => got.length === 1);
    dropClient(client);
    await until(() => t.hub.clients.size === 0);
    // While it is away: one message excluded from its old connection, one for everyone.
    await t.hub.to('y').except(first).emit('n', 2);
    await t.hub.to('y').emit('n', 3);
    await until(() => got.length === 2, 5000, `the replay (have ${got.length})`);
    await delay(100);
    assert.deepEqual(got, [1, 3]);
    client.close();
  });

  test('messages evicted by history.maxBytes (another room filled it): a resume from before them gets a gap, then what is held and live', async () => {
    // Room for 2 messages of about 10 KB, across all rooms.
    const t = await startHub({ rateLimit: false, history: { maxBytes: 2 * (256 + 2 * 10_010 + 20) } });
    hubs.push(t);
    const publisher = await RawClient.open(t.url);
    for (const room of ['old', 'new']) assert.equal((await publisher.call({ t: 'join', room }, 1)).t, 'ack');
    const text = 'p'.repeat(10_000);
    assert.equal((await publisher.call({ t: 'pub', room: 'old', ev: 'e', data: `${text}1` }, 2)).data.mid, 1);
    assert.equal((await publisher.call({ t: 'pub', room: 'old', ev: 'e', data: `${text}2` }, 3)).data.mid, 2);
    // Seen up to 1; 2 is held until two messages of room "new" take the whole budget.
    const before = await RawClient.open(t.url);
    assert.deepEqual((await before.call({ t: 'resume', rooms: { old: 1 } }, 1)).t, 'ack');
    assert.equal((await before.next((m) => m.t === 'msg')).mid, 2);
    before.ws.close();
    for (let i = 0; i < 2; i++) await publisher.call({ t: 'pub', room: 'new', ev: 'e', data: text }, 4 + i);
    const resumer = await RawClient.open(t.url);
    const ack = await resumer.call({ t: 'resume', rooms: { old: 1, new: 0 } }, 1);
    assert.equal(ack.data.rooms.old.head, 2);
    const gap = await resumer.next((m) => m.t === 'gap');
    assert.deepEqual(gap, { t: 'gap', room: 'old', from: 2, to: 2 });
    assert.deepEqual(resumer.received.filter((m) => m.t === 'msg').map((m) => `${m.room}${m.mid}`), ['new1', 'new2']);
    const live = await publisher.call({ t: 'pub', room: 'old', ev: 'e', data: 'live' }, 9);
    assert.equal((await resumer.next((m) => m.t === 'msg' && m.room === 'old')).mid, live.data.mid);
    publisher.ws.close();
    resumer.ws.close();
  });

  test('history on join (since 0) with the client library', async () => {
    const t = await startHub({ rateLimit: false });
    hubs.push(t);
    for (let i = 1; i <= 3; i++) await t.hub.to('h').emit('n', i);
    const client = hubClient(t.url);
    const got: number[] = [];
    client.on('n', (n: number) => got.push(n));
    await client.ready();
    const joined = await client.join('h', { history: true });
    assert.equal(joined.head, 3);
    await t.hub.to('h').emit('n', 4);
    await until(() => got.length === 4);
    assert.deepEqual(got, [1, 2, 3, 4]);
    client.close();
  });
});

describe('InProcessAdapter history limits', () => {
  test('count limit, age limit, ranges', async () => {
    const a = new InProcessAdapter({ maxMessages: 3, maxAge: 1000 });
    let now = 0;
    a.now = () => now;
    a.attach({ deliverRoom() {}, deliverUser() {}, deliverClient: () => false, presenceChanged() {} });
    for (let i = 1; i <= 5; i++) {
      now = i * 100;
      await a.publish('x', { ev: 'e', data: i });
    }
    let h = await a.history('x', 0);
    assert.equal(h.head, 5);
    assert.deepEqual(h.messages.map((m) => m.mid), [3, 4, 5]);
    assert.deepEqual(h.gap, { from: 1, to: 2 });
    h = await a.history('x', 3);
    assert.deepEqual(h.messages.map((m) => m.mid), [4, 5]);
    assert.equal(h.gap, undefined);
    assert.deepEqual((await a.history('x', 5)).messages, []);
    const epoch = a.epoch;
    assert.deepEqual(await a.history('x'), { head: 5, epoch, messages: [] });
    now = 1350; // messages 3 (t=300) and older are past 1000 ms
    h = await a.history('x', 2);
    assert.deepEqual(h.messages.map((m) => m.mid), [4, 5]);
    assert.deepEqual(h.gap, { from: 3, to: 3 });
    now = 5000;
    h = await a.history('x', 4);
    assert.deepEqual(h.messages, []);
    assert.deepEqual(h.gap, { from: 5, to: 5 });
    assert.equal((await a.publish('x', { ev: 'e', data: 6 })), 6, 'ids go on after everything expired');
    assert.equal(await a.publish('x', { ev: 'typing', data: 0, volatile: true }), 0);
    assert.deepEqual((await a.history('x', 5)).messages.map((m) => m.mid), [6]);
    // A room nobody touches: the sweep drops its expired history and state, and ids go on after.
    now = 10_000;
    a.sweep();
    assert.deepEqual(await a.history('x', 4), { head: 6, epoch, messages: [], gap: { from: 5, to: 6 } });
    assert.deepEqual(await a.history('x', 6), { head: 6, epoch, messages: [] });
    assert.equal(await a.publish('x', { ev: 'e', data: 7 }), 7);
    await a.close();
  });
});
