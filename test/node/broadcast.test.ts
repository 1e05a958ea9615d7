// broadcast(): one frame built per message and written to many connections,
// with a per-connection send for those that cannot take the shared bytes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Blob, Buffer } from 'node:buffer';
import { WebSocket, broadcast } from '../../packages/switchboard/src/index.js';
import { Inbox, RawClient, clientFrame, connectPair, startServer, waitFor } from './helpers.js';

const TEXT = 0x1;
const BINARY = 0x2;

describe('broadcast', () => {
  test('every open connection gets the message with its type; except is left out; the count is returned', async (t) => {
    const server = await startServer(t);
    const pairs = [];
    for (let i = 0; i < 3; i++) pairs.push(await connectPair(t, server));
    const inboxes = pairs.map(([client]) => new Inbox(client));
    const peers = pairs.map(([, ws]) => ws);

    assert.equal(broadcast(peers, 'héllo'), 3);
    assert.equal(broadcast(peers, Buffer.from([1, 2, 3])), 3);
    assert.equal(broadcast(peers, 'as binary', { binary: true, except: peers[1] }), 2);

    const first = await inboxes[0]!.next(3);
    assert.equal(String(first[0]!.data), 'héllo');
    assert.equal(first[0]!.isBinary, false);
    assert.deepEqual([...(first[1]!.data as Buffer)], [1, 2, 3]);
    assert.equal(first[1]!.isBinary, true);
    assert.equal(String(first[2]!.data), 'as binary');
    assert.equal(first[2]!.isBinary, true);
    await inboxes[2]!.next(3);
    await inboxes[1]!.next(2);
    // Give a wrongly sent third message time to arrive before checking it did not.
    await broadcastAndWait(peers, inboxes, 'marker');
    assert.deepEqual(
      inboxes[1]!.messages.map((m) => String(m.data)),
      ['héllo', '\u0001\u0002\u0003', 'marker'],
    );
  });

  test('the same bytes reach every raw client: one unmasked frame with FIN, 0 to 70,000 bytes', async (t) => {
    const server = await startServer(t);
    const raws: RawClient[] = [];
    const peers: WebSocket[] = [];
    for (let i = 0; i < 2; i++) {
      const connection = server.nextConnection();
      raws.push(await RawClient.open(t, server.port));
      peers.push((await connection)[0]);
    }
    for (const size of [0, 125, 126, 65535, 65536, 70_000]) {
      const payload = Buffer.alloc(size, size & 0xff);
      assert.equal(broadcast(peers, payload), 2);
      for (const raw of raws) {
        const frame = await raw.readFrame();
        assert.equal(frame.opcode, BINARY);
        assert.equal(frame.fin, true);
        assert.ok(frame.payload.equals(payload), `payload of ${size} bytes intact`);
      }
    }
  });

  test('closed connections are skipped and not counted', async (t) => {
    const server = await startServer(t);
    const [clientA, a] = await connectPair(t, server);
    const [, b] = await connectPair(t, server);
    const inbox = new Inbox(clientA);
    b.terminate();
    await waitFor(() => b.readyState === WebSocket.CLOSED);
    assert.equal(broadcast([a, b], 'still here'), 1);
    assert.equal(String((await inbox.next(1))[0]!.data), 'still here');
  });

  test('a connection with permessage-deflate gets its own (compressed) send; the others the shared frame', async (t) => {
    const server = await startServer(t, { perMessageDeflate: { threshold: 0 } });
    const [plainClient, plain] = await connectPair(t, server, undefined, { perMessageDeflate: false });
    const [deflateClient, deflated] = await connectPair(t, server, undefined, { perMessageDeflate: true });
    assert.equal(plain.extensions, '');
    assert.match(deflated.extensions, /permessage-deflate/);
    const plainInbox = new Inbox(plainClient);
    const deflateInbox = new Inbox(deflateClient);
    const text = 'a compressible message '.repeat(200);
    assert.equal(broadcast([plain, deflated], text), 2);
    assert.equal(String((await plainInbox.next(1))[0]!.data), text);
    assert.equal(String((await deflateInbox.next(1))[0]!.data), text);
  });

  test('order is kept behind a send still being prepared (a Blob being read)', async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const inbox = new Inbox(client);
    ws.send(new Blob(['first']));
    assert.equal(broadcast([ws], 'second'), 1);
    ws.send('third');
    const messages = await inbox.next(3);
    assert.deepEqual(
      messages.map((m) => String(m.data)),
      ['first', 'second', 'third'],
    );
  });

  test('frames written from a message handler join that chunk\'s batch in order', async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    ws.on('message', (data: Buffer) => {
      ws.send(`reply to ${data}`);
      broadcast([ws], `broadcast of ${data}`);
    });
    raw.write(Buffer.concat([clientFrame(TEXT, 'a'), clientFrame(TEXT, 'b')]));
    const texts = [];
    for (let i = 0; i < 4; i++) texts.push((await raw.readFrame()).payload.toString());
    assert.deepEqual(texts, ['reply to a', 'broadcast of a', 'reply to b', 'broadcast of b']);
  });

  test('a Blob is refused with a TypeError', async (t) => {
    const server = await startServer(t);
    const [, ws] = await connectPair(t, server);
    assert.throws(() => broadcast([ws], new Blob(['x']) as never), TypeError);
  });
});

async function broadcastAndWait(peers: WebSocket[], inboxes: Inbox[], text: string): Promise<void> {
  const before = inboxes.map((inbox) => inbox.messages.length);
  broadcast(peers, text);
  await Promise.all(inboxes.map((inbox, i) => inbox.next(before[i]! + 1)));
}
