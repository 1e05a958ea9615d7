// Room messages that reach a connection in the same turn of the event loop
// leave in one write (hub/outbound.ts): a member of a busy room gets a burst
// in one syscall instead of one per message, in order, and a reply sent
// after them (here an ack) does not overtake them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, openMany, startHub, type TestHub } from './helpers.js';
import { FLUSH_SLICE } from '../../packages/switchboard/src/hub/outbound.js';

let t: TestHub;
before(async () => {
  t = await startHub({ rateLimit: false });
});
after(() => t.close());

test('messages of one turn reach a member in one write, in order; a reply after them follows them', async () => {
  const members = await Promise.all([RawClient.open(t.url), RawClient.open(t.url)]);
  for (const [i, c] of members.entries()) assert.equal((await c.call({ t: 'join', room: 'burst' }, i + 1)).t, 'ack');
  const writes: number[][] = [];
  for (const c of members) {
    const ws = t.hub.clients.get(c.id)!.ws;
    const frames: number[] = [];
    writes.push(frames);
    const sendFrame = ws.sendFrame.bind(ws);
    ws.sendFrame = (frame, cb) => {
      frames.push(frame.length);
      sendFrame(frame, cb);
    };
  }

  const room = t.hub.to('burst');
  await Promise.all([room.emit('n', 0), room.emit('n', 1), room.emit('n', 2), room.emit('n', 3)]);
  for (const c of members) await c.next((m) => m.t === 'msg' && m.data === 3);
  for (const [i, c] of members.entries()) {
    assert.deepEqual(c.received.filter((m) => m.t === 'msg').map((m) => m.data), [0, 1, 2, 3], `member ${i}: every message once, in order`);
    assert.equal(writes[i]!.length, 1, `member ${i}: one write for the four messages, not ${writes[i]!.length}`);
  }

  // A message sent to the connection right after (the frames still waiting for the end of the turn) comes after them.
  const server = t.hub.clients.get(members[1]!.id)!;
  await room.emit('n', 4);
  server.send({ t: 'emit', ev: 'after', data: null });
  await members[1]!.next((m) => m.t === 'emit' && m.ev === 'after');
  const got = members[1]!.received;
  const message = got.findIndex((m) => m.t === 'msg' && m.data === 4);
  assert.ok(message >= 0 && message < got.findIndex((m) => m.t === 'emit' && m.ev === 'after'), 'the room message before the later emit');
});

test('a message that arrives while a large fan-out is being written joins the frames of the members not written yet', async () => {
  // Presence off: joins queue no notices, so the counts below are the two messages only.
  const h = await startHub({ rateLimit: false, presence: false });
  try {
    const count = FLUSH_SLICE + 40;
    const members = await openMany(h.url, count);
    await Promise.all(members.map(async (c, i) => assert.equal((await c.call({ t: 'join', room: 'big' }, i + 1)).t, 'ack')));
    const before = h.hub.stats();
    const room = h.hub.to('big');

    await room.emit('n', 0);
    // The first turn's flush runs before this callback (both wait for the same check phase).
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(h.hub.stats().coalescedWrites - before.coalescedWrites, FLUSH_SLICE, 'one turn writes one slice of the members');
    await room.emit('n', 1);

    for (const c of members) await c.next((m) => m.t === 'msg' && m.data === 1);
    for (const [i, c] of members.entries()) {
      assert.deepEqual(c.received.filter((m) => m.t === 'msg').map((m) => m.data), [0, 1], `member ${i}: both messages once, in order`);
    }
    const after = h.hub.stats();
    // The first slice got the two messages in two writes; the 40 not written yet got both in one.
    assert.equal(after.coalescedFrames - before.coalescedFrames, 2 * count);
    assert.equal(after.coalescedWrites - before.coalescedWrites, count + FLUSH_SLICE);
  } finally {
    await h.close();
  }
});
