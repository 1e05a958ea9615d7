// Room messages that reach a connection in the same turn of the event loop
// leave in one write (hub/outbound.ts): a member of a busy room gets a burst
// in one syscall instead of one per message, in order, and a reply sent
// after them (here an ack) does not overtake them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startHub, type TestHub } from './helpers.js';

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
