// Room broadcast over real sockets: every member exactly once, the excluded
// sender not at all, the same framed bytes for every member, and per-room ids.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { RawClient, delay, openMany, startHub, until, type TestHub } from './helpers.js';

describe('hub: room broadcast', { timeout: 60_000 }, () => {
  let t: TestHub;
  before(async () => {
    t = await startHub({ rateLimit: false });
  });
  after(() => t.close());

  test('reaches every member exactly once, not the excluded sender, not non-members', async () => {
    const members = await openMany(t.url, 20);
    const outsider = await RawClient.open(t.url);
    for (const [i, c] of members.entries()) {
      const ack = await c.call({ t: 'join', room: 'lobby' }, i + 1);
      assert.equal(ack.t, 'ack');
    }
    const sender = members[0]!;
    const serverSender = t.hub.clients.get(sender.id)!;
    for (let n = 0; n < 50; n++) await t.hub.to('lobby').except(serverSender).emit('tick', { n });
    // A client publishing directly is excluded from its own message.
    const pub = await members[1]!.call({ t: 'pub', room: 'lobby', ev: 'say', data: 'hello' }, 1000);
    assert.equal(pub.t, 'ack');
    assert.equal(pub.data.mid, 51);

    for (const [i, c] of members.entries()) {
      await c.next((m) => m.t === 'msg' && m.mid === 51 || (i === 1 && m.t === 'ack' && m.id === 1000));
    }
    await delay(100); // anything duplicated would have arrived by now
    for (const [i, c] of members.entries()) {
      const msgs = c.received.filter((m) => m.t === 'msg');
      const ticks = msgs.filter((m) => m.ev === 'tick').map((m) => m.data.n);
      const says = msgs.filter((m) => m.ev === 'say');
      if (i === 0) assert.deepEqual(ticks, [], 'the excluded sender gets none of its broadcasts');
      else assert.deepEqual(ticks, Array.from({ length: 50 }, (_, n) => n), `member ${i}: every tick once, in order`);
      if (i === 1) assert.deepEqual(says, [], 'a publishing client does not get its own message');
      else {
        assert.equal(says.length, 1, `member ${i} gets the published message once`);
        assert.deepEqual(says[0].from, { id: members[1]!.id, user: null });
      }
      const mids = msgs.map((m) => m.mid);
      assert.deepEqual(mids, [...mids].sort((a, b) => a - b), 'ids increase');
    }
    assert.equal(outsider.received.filter((m) => m.t === 'msg').length, 0, 'a non-member gets nothing');
    for (const c of [...members, outsider]) c.ws.close();
  });

  test('a broadcast is serialised and framed once: every member is written the same Buffer', async () => {
    const members = await openMany(t.url, 10);
    for (const [i, c] of members.entries()) await c.call({ t: 'join', room: 'frames' }, i + 1);
    const frames: Buffer[] = [];
    const original = WebSocket.prototype.sendFrame;
    WebSocket.prototype.sendFrame = function (this: WebSocket, frame: Buffer, cb?: (e?: Error | null) => void) {
      frames.push(frame);
      return original.call(this, frame, cb);
    };
    try {
      await t.hub.to('frames').emit('big', { text: 'x'.repeat(10_000) });
      // Written at the end of the turn (hub/outbound.ts), before the members can have it.
      for (const c of members) {
        const m = await c.next((x) => x.t === 'msg' && x.ev === 'big');
        assert.equal(m.data.text.length, 10_000);
      }
    } finally {
      WebSocket.prototype.sendFrame = original;
    }
    assert.equal(frames.length, 10);
    assert.ok(frames.every((f) => f === frames[0]), 'one Buffer object for all members');
    for (const c of members) c.ws.close();
  });

  test('ids are per room and monotonic; volatile messages carry none', async () => {
    const a = await RawClient.open(t.url);
    await a.call({ t: 'join', room: 'ids-1' }, 1);
    await a.call({ t: 'join', room: 'ids-2' }, 2);
    assert.equal(await t.hub.to('ids-1').emit('e', 1), 1);
    assert.equal(await t.hub.to('ids-2').emit('e', 1), 1);
    assert.equal(await t.hub.to('ids-1').emit('e', 2), 2);
    assert.equal(await t.hub.to('ids-1').volatile.emit('typing', true), 0);
    await a.next((m) => m.ev === 'typing');
    const got = a.received.filter((m) => m.t === 'msg').map((m) => [m.room, m.mid ?? null, m.ev]);
    assert.deepEqual(got, [
      ['ids-1', 1, 'e'],
      ['ids-2', 1, 'e'],
      ['ids-1', 2, 'e'],
      ['ids-1', null, 'typing'],
    ]);
    a.ws.close();
  });

  test('binary data travels base64-encoded with bin: 1, both ways', async () => {
    const a = await RawClient.open(t.url);
    const b = await RawClient.open(t.url);
    await a.call({ t: 'join', room: 'bin' }, 1);
    await b.call({ t: 'join', room: 'bin' }, 1);
    await t.hub.to('bin').emit('blob', Buffer.from([0, 1, 2, 255]));
    const m = await a.next((x) => x.ev === 'blob');
    assert.equal(m.bin, 1);
    assert.equal(m.data, 'AAEC/w==');
    await b.call({ t: 'pub', room: 'bin', ev: 'up', data: 'AAEC/w==', bin: 1 }, 2);
    const stored = (await t.hub.history('bin', 0)).messages.find((x) => x.ev === 'up')!;
    assert.ok(Buffer.isBuffer(stored.data));
    assert.deepEqual([...(stored.data as Buffer)], [0, 1, 2, 255]);
    const relayed = await a.next((x) => x.ev === 'up');
    assert.equal(relayed.data, 'AAEC/w==');
    a.ws.close();
    b.ws.close();
  });

  test('toUser reaches every connection of that user; dm to a connection', async () => {
    const tu = await startHub({
      rateLimit: false,
    });
    tu.hub.use((client, next) => {
      client.userId = (client.handshake.auth as { user?: string })?.user ?? null;
      next();
    });
    try {
      const phone = await RawClient.open(tu.url, { user: 'ann' });
      const laptop = await RawClient.open(tu.url, { user: 'ann' });
      const bob = await RawClient.open(tu.url, { user: 'bob' });
      assert.equal(phone.received[0].user, 'ann');
      await tu.hub.toUser('ann').emit('notice', 'hi ann');
      await phone.next((m) => m.t === 'emit' && m.ev === 'notice' && m.data === 'hi ann');
      await laptop.next((m) => m.t === 'emit' && m.ev === 'notice' && m.data === 'hi ann');
      // Direct messages from a client: to a user (all devices) and to one connection.
      await bob.call({ t: 'dm', to: { user: 'ann' }, ev: 'psst', data: 1 }, 1);
      const d1 = await phone.next((m) => m.ev === 'psst');
      await laptop.next((m) => m.ev === 'psst');
      assert.deepEqual(d1.from, { id: bob.id, user: 'bob' });
      const r = await bob.call({ t: 'dm', to: { client: laptop.id }, ev: 'only-laptop', data: 2 }, 2);
      assert.deepEqual(r.data, { delivered: true });
      await laptop.next((m) => m.ev === 'only-laptop');
      const nobody = await bob.call({ t: 'dm', to: { client: 'nope' }, ev: 'x', data: 0 }, 3);
      assert.deepEqual(nobody.data, { delivered: false });
      await delay(50);
      assert.equal(phone.received.filter((m) => m.ev === 'only-laptop').length, 0);
      assert.equal(bob.received.filter((m) => m.ev === 'notice').length, 0);
      assert.equal(tu.hub.connectionsOf('ann').length, 2);
      phone.ws.close();
      await until(() => tu.hub.connectionsOf('ann').length === 1);
      laptop.ws.close();
      bob.ws.close();
    } finally {
      await tu.close();
    }
  });
});
