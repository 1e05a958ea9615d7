// Presence over real sockets: members right after joins, leaves and abrupt
// disconnects (TCP socket destroyed, no close frame); join/leave pushed to members.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startHub, until, type TestHub } from './helpers.js';

describe('hub: presence', { timeout: 30_000 }, () => {
  let t: TestHub;
  before(async () => {
    t = await startHub({ rateLimit: false });
    t.hub.use((client, next) => {
      client.userId = (client.handshake.auth as { user: string }).user;
      client.presenceMeta = { name: client.userId!.toUpperCase() };
      next();
    });
  });
  after(() => t.close());

  const ids = async (room: string): Promise<string[]> => (await t.hub.presence(room)).map((m) => m.user!).sort();

  test('after joins, leaves and an abrupt disconnect', async () => {
    const ann = await RawClient.open(t.url, { user: 'ann' });
    const bob = await RawClient.open(t.url, { user: 'bob' });
    const cid = await RawClient.open(t.url, { user: 'cid' });

    const a1 = await ann.call({ t: 'join', room: 'p' }, 1);
    assert.deepEqual(a1.data.members, [{ id: ann.id, user: 'ann', meta: { name: 'ANN' } }], 'the join answer lists the members, itself included');
    assert.deepEqual(await ids('p'), ['ann']);

    const b1 = await bob.call({ t: 'join', room: 'p' }, 1);
    assert.deepEqual(b1.data.members.map((m: any) => m.user).sort(), ['ann', 'bob']);
    assert.deepEqual(await ids('p'), ['ann', 'bob'], 'right after the join answer');
    const pj = await ann.next((m) => m.t === 'presence' && m.join?.user === 'bob');
    assert.deepEqual(pj, { t: 'presence', room: 'p', join: { id: bob.id, user: 'bob', meta: { name: 'BOB' } } });

    await cid.call({ t: 'join', room: 'p' }, 1);
    assert.deepEqual(await ids('p'), ['ann', 'bob', 'cid']);
    await bob.next((m) => m.t === 'presence' && m.join?.user === 'cid');

    // A leave.
    await bob.call({ t: 'leave', room: 'p' }, 2);
    assert.deepEqual(await ids('p'), ['ann', 'cid'], 'right after the leave answer');
    await ann.next((m) => m.t === 'presence' && m.leave?.user === 'bob');
    await cid.next((m) => m.t === 'presence' && m.leave?.user === 'bob');

    // An abrupt disconnect: the TCP socket is destroyed, no close frame.
    cid.destroy();
    const left = await ann.next((m) => m.t === 'presence' && m.leave?.user === 'cid');
    assert.equal(left.leave.id, cid.id);
    assert.deepEqual(await ids('p'), ['ann'], 'right after the leave notice');
    assert.equal(bob.received.filter((m) => m.t === 'presence' && m.leave?.user === 'cid').length, 0, 'bob had left: no notice');

    // Own join/leave is not pushed to oneself.
    assert.equal(ann.received.filter((m) => m.t === 'presence' && m.join?.user === 'ann').length, 0);
    ann.ws.close();
    await until(() => t.hub.clients.size === 1);
    assert.deepEqual(await ids('p'), []);
    bob.ws.close();
  });

  test('server-side join/leave: the client is told with joined/left', async () => {
    let server: any;
    t.hub.once('connection', (c) => (server = c));
    const dan = await RawClient.open(t.url, { user: 'dan' });
    await until(() => server !== undefined);
    await server.join('vip');
    const joined = await dan.next((m) => m.t === 'joined');
    assert.equal(joined.room, 'vip');
    assert.equal(joined.head, 0);
    assert.deepEqual(joined.members.map((m: any) => m.user), ['dan']);
    assert.deepEqual([...server.rooms], ['vip']);
    await server.leave('vip');
    await dan.next((m) => m.t === 'left' && m.room === 'vip');
    assert.deepEqual(await ids('vip'), []);
    dan.ws.close();
  });

  test("presence: false for a room: no notices, no member lists; hub.presence() still answers", async () => {
    const q = await startHub({ rateLimit: false, presence: (room) => room !== 'broadcast' });
    try {
      const a = await RawClient.open(q.url);
      const b = await RawClient.open(q.url);
      const ackA = await a.call({ t: 'join', room: 'broadcast' }, 1);
      assert.equal(ackA.data.members, undefined);
      await b.call({ t: 'join', room: 'broadcast' }, 1);
      await b.call({ t: 'join', room: 'small' }, 2);
      await a.call({ t: 'join', room: 'small' }, 2);
      await b.next((m) => m.t === 'presence' && m.room === 'small');
      b.destroy();
      await a.next((m) => m.t === 'presence' && m.room === 'small' && m.leave);
      assert.equal(a.received.filter((m) => m.t === 'presence' && m.room === 'broadcast').length, 0);
      assert.equal((await q.hub.presence('broadcast')).length, 1);
      a.ws.close();
    } finally {
      await q.close();
    }
  });
});
