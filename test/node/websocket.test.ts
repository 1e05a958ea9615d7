// The server-side WebSocket as ws users rely on it: sending every data type,
// fragments, ping/pong, the closing handshake, terminate, flow control,
// binaryType, and what happens when the peer breaks the protocol or a user
// handler throws.
import assert from 'node:assert/strict';
import { Blob, Buffer } from 'node:buffer';
import { describe, it, type TestContext } from 'node:test';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import {
  Inbox,
  RawClient,
  WsClient,
  clientFrame,
  closeFrame,
  closed,
  connectPair,
  delay,
  once,
  parseClose,
  startServer,
  unmaskedFrame,
  upgradeRequest,
  waitFor,
  withTimeout,
  type TestServer,
} from './helpers.js';

const T = { timeout: 15_000 };

async function pair(t: TestContext, options: Parameters<typeof startServer>[1] = {}): Promise<{ server: TestServer; client: WsClient; ws: WebSocket; inbox: Inbox }> {
  const server = await startServer(t, options);
  const [client, ws] = await connectPair(t, server);
  return { server, client, ws, inbox: new Inbox(client) };
}

function text(m: { data: unknown }): string {
  return (m.data as Buffer).toString();
}

/** Fails the test if anything reaches the process as an uncaught exception while `fn` runs. */
async function noUncaught(fn: () => Promise<void>): Promise<void> {
  const uncaught: unknown[] = [];
  const monitor = (error: unknown) => uncaught.push(error);
  process.on('uncaughtExceptionMonitor', monitor);
  try {
    await fn();
    await delay(50);
  } finally {
    process.removeListener('uncaughtExceptionMonitor', monitor);
  }
  assert.deepEqual(uncaught, []);
}

describe('server-side send', () => {
  it('sends string, Buffer, ArrayBuffer, Uint8Array and DataView (views keep their offset)', T, async (t) => {
    const { ws, inbox } = await pair(t);
    const backing = Buffer.from('..uint8..dataview..');
    ws.send('text');
    ws.send(Buffer.from('buffer'));
    ws.send(new Uint8Array([0x61, 0x62, 0x63]).buffer);
    ws.send(new Uint8Array(backing.buffer, backing.byteOffset + 2, 5));
    ws.send(new DataView(backing.buffer, backing.byteOffset + 9, 8));
    const got = await inbox.next(5);
    assert.deepEqual(
      got.map((m) => [text(m), m.isBinary]),
      [
        ['text', false],
        ['buffer', true],
        ['abc', true],
        ['uint8', true],
        ['dataview', true],
      ],
    );
  });

  it('sends a Blob, and a string sent after it arrives after it', T, async (t) => {
    const { ws, inbox } = await pair(t);
    ws.send(new Blob(['blob-data']));
    ws.send('after');
    const got = await inbox.next(2);
    assert.deepEqual(
      got.map((m) => [text(m), m.isBinary]),
      [
        ['blob-data', true],
        ['after', false],
      ],
    );
  });

  it('keeps order across several Blobs in a row and calls every callback', T, async (t) => {
    const { ws, inbox } = await pair(t);
    const callbacks: string[] = [];
    ws.send(new Blob(['one']), () => callbacks.push('one'));
    ws.send(new Blob(['two']), () => callbacks.push('two'));
    ws.send('three', () => callbacks.push('three'));
    ws.send(new Blob(['four']), () => callbacks.push('four'));
    const got = await inbox.next(4);
    assert.deepEqual(got.map(text), ['one', 'two', 'three', 'four']);
    await waitFor(() => callbacks.length === 4, 2000, 'send callbacks');
    assert.deepEqual(callbacks, ['one', 'two', 'three', 'four']);
    assert.equal(ws.bufferedAmount, 0);
  });

  it('{ binary: false } sends a Buffer as text; { binary: true } a string as binary', T, async (t) => {
    const { ws, inbox } = await pair(t);
    ws.send(Buffer.from('as text'), { binary: false });
    ws.send('as binary', { binary: true });
    const got = await inbox.next(2);
    assert.deepEqual(
      got.map((m) => [text(m), m.isBinary]),
      [
        ['as text', false],
        ['as binary', true],
      ],
    );
  });

  it('fin: false then fin: true arrives as one message', T, async (t) => {
    const { ws, inbox } = await pair(t);
    ws.send('Hel', { fin: false });
    ws.send('lo, ', { fin: false });
    ws.send('world', { fin: true });
    ws.send(Buffer.from([1, 2]), { fin: false });
    ws.send(Buffer.from([3]), { fin: true });
    const got = await inbox.next(2);
    await delay(50);
    assert.equal(inbox.messages.length, 2);
    assert.equal(text(got[0]!), 'Hello, world');
    assert.equal(got[0]!.isBinary, false);
    assert.deepEqual([...(got[1]!.data as Buffer)], [1, 2, 3]);
    assert.equal(got[1]!.isBinary, true);
  });

  it('calls the send callback without error, and with an error after close', T, async (t) => {
    const { ws, client } = await pair(t);
    const first = await withTimeout(new Promise<unknown>((resolve) => ws.send('x', (err) => resolve(err))), 2000, 'send callback');
    assert.ok(first === undefined || first === null, `unexpected error ${String(first)}`);
    const gone = once(ws, 'close');
    client.terminate();
    await gone;
    const second = await withTimeout(new Promise<unknown>((resolve) => ws.send('y', (err) => resolve(err))), 2000, 'send callback after close');
    assert.ok(second instanceof Error);
  });

  it('bufferedAmount grows while the peer does not read, and drains when it does', T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    raw.socket.pause();
    assert.equal(ws.bufferedAmount, 0);
    // The same 4 MiB buffer, sent again and again (large payloads are not copied),
    // until the kernel's buffers are full and the rest waits in user space.
    const chunk = Buffer.alloc(4 * 1024 * 1024, 7);
    const target = 16 * 1024 * 1024;
    for (let i = 0; i < 64 && ws.bufferedAmount <= target; i++) {
      ws.send(chunk);
      await delay(5);
    }
    const stuck = ws.bufferedAmount;
    assert.ok(stuck > target, `bufferedAmount is only ${stuck}`);
    await delay(50);
    assert.ok(ws.bufferedAmount >= stuck - chunk.length, 'bufferedAmount drained while the peer was not reading');
    raw.discard = true;
    raw.socket.resume();
    await waitFor(() => ws.bufferedAmount === 0, 10_000, 'bufferedAmount to drain');
  });
});

describe('ping and pong', () => {
  it('answers a client ping automatically and emits ping with the payload', T, async (t) => {
    const { ws, client } = await pair(t);
    const serverPing = once<[Buffer]>(ws, 'ping');
    const pong = once<[Buffer]>(client, 'pong');
    client.ping('are you there');
    assert.equal((await serverPing)[0].toString(), 'are you there');
    assert.equal((await pong)[0].toString(), 'are you there');
  });

  it('autoPong: false leaves answering to the user', T, async (t) => {
    const { ws, client } = await pair(t, { autoPong: false });
    let pongs = 0;
    client.on('pong', () => pongs++);
    const serverPing = once<[Buffer]>(ws, 'ping');
    client.ping('p');
    await serverPing;
    await delay(100);
    assert.equal(pongs, 0);
    const pong = once<[Buffer]>(client, 'pong');
    ws.pong('by hand');
    assert.equal((await pong)[0].toString(), 'by hand');
  });

  it('ping(payload) reaches the client; its pong is emitted with the payload', T, async (t) => {
    const { ws, client } = await pair(t);
    const clientPing = once<[Buffer]>(client, 'ping');
    const serverPong = once<[Buffer]>(ws, 'pong');
    let called = false;
    ws.ping(Buffer.from('beat'), undefined, () => (called = true));
    assert.equal((await clientPing)[0].toString(), 'beat');
    assert.equal((await serverPong)[0].toString(), 'beat');
    assert.ok(called);
  });

  it('a ping payload over 125 bytes throws RangeError; 125 is fine', T, async (t) => {
    const { ws, client } = await pair(t);
    assert.throws(() => ws.ping(Buffer.alloc(126)), RangeError);
    assert.throws(() => ws.pong('x'.repeat(126)), RangeError);
    const clientPing = once<[Buffer]>(client, 'ping');
    ws.ping(Buffer.alloc(125, 1));
    assert.equal((await clientPing)[0].length, 125);
  });
});

describe('closing', () => {
  it('close(code, reason) reaches the client; both sides report them', T, async (t) => {
    const { ws, client } = await pair(t);
    const clientClose = closed(client);
    const serverClose = once<[number, Buffer]>(ws, 'close');
    ws.close(4000, 'done here');
    assert.equal(ws.readyState, WebSocket.CLOSING);
    assert.deepEqual(await clientClose, [4000, 'done here']);
    const [code, reason] = await serverClose;
    assert.equal(code, 4000);
    assert.equal(reason.toString(), 'done here');
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });

  it('a close started by the client is answered with its code and reason; the server reports them', T, async (t) => {
    const { ws, client } = await pair(t);
    const clientClose = closed(client);
    const serverClose = once<[number, Buffer]>(ws, 'close');
    client.close(1000, 'client leaves');
    const [code, reason] = await serverClose;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'client leaves');
    // The answer echoes code and reason, as ws does.
    assert.deepEqual(await clientClose, [1000, 'client leaves']);
  });

  it('close with an invalid code throws TypeError; a reason over 123 bytes throws RangeError', T, async (t) => {
    const { ws } = await pair(t);
    for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000]) {
      assert.throws(() => ws.close(code), TypeError, `code ${code}`);
    }
    assert.throws(() => ws.close(1000, 'x'.repeat(124)), RangeError);
    assert.throws(() => ws.close(1000, 'é'.repeat(62)), RangeError); // 124 bytes
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close(1000, 'x'.repeat(123));
    assert.equal(ws.readyState, WebSocket.CLOSING);
  });

  it('closeTimeout: a peer that never answers the close frame is cut off', T, async (t) => {
    const server = await startServer(t, { closeTimeout: 200 });
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const serverClose = once<[number, Buffer]>(ws, 'close');
    const start = Date.now();
    ws.close(1000, 'bye');
    const frame = await raw.readFrame();
    assert.deepEqual(parseClose(frame), { code: 1000, reason: 'bye' });
    await raw.waitClosed(3000);
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 150, `destroyed after ${elapsed} ms`);
    const [code] = await serverClose;
    assert.equal(code, 1006);
  });

  it('a raw peer that answers the close frame gets a clean close, and the server ends TCP', T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const serverClose = once<[number, Buffer]>(ws, 'close');
    ws.close(1001);
    assert.equal(parseClose(await raw.readFrame()).code, 1001);
    raw.write(closeFrame(1001));
    await raw.waitClosed(2000);
    assert.equal((await serverClose)[0], 1001);
  });

  it('terminate() drops the connection at once (1006 on both sides)', T, async (t) => {
    const { ws, client } = await pair(t);
    const clientClose = closed(client);
    const serverClose = once<[number, Buffer]>(ws, 'close');
    ws.terminate();
    assert.equal((await clientClose)[0], 1006);
    assert.equal((await serverClose)[0], 1006);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    ws.terminate(); // no-op
    ws.close(); // no-op once closed
  });
});

describe('state and properties', () => {
  it('readyState constants on the class and on instances', T, async (t) => {
    assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
    const { ws } = await pair(t);
    assert.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
    assert.equal(ws.readyState, ws.OPEN);
  });

  it('protocol is the negotiated subprotocol', T, async (t) => {
    const server = await startServer(t);
    const [, ws] = await connectPair(t, server, ['v2.chat', 'v1.chat']);
    assert.equal(ws.protocol, 'v2.chat');
    assert.equal(ws.extensions, '');
  });

  it("binaryType 'nodebuffer' (default), 'arraybuffer', 'fragments', 'blob'", T, async (t) => {
    const { ws, client } = await pair(t);
    const serverInbox = new Inbox(ws);
    assert.equal(ws.binaryType, 'nodebuffer');
    const expectNext = async (n: number) => (await serverInbox.next(n))[n - 1]!;

    client.send(Buffer.from([1, 2, 3]));
    const asBuffer = await expectNext(1);
    assert.ok(Buffer.isBuffer(asBuffer.data));

    ws.binaryType = 'arraybuffer';
    client.send(Buffer.from([4, 5, 6]));
    const asArrayBuffer = await expectNext(2);
    assert.ok(asArrayBuffer.data instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(asArrayBuffer.data as ArrayBuffer)], [4, 5, 6]);

    ws.binaryType = 'fragments';
    client.send(Buffer.from([7, 8]));
    const asFragments = await expectNext(3);
    assert.ok(Array.isArray(asFragments.data));
    assert.deepEqual([...Buffer.concat(asFragments.data as Buffer[])], [7, 8]);
    // ws delivers text as one Buffer whatever the binaryType.
    client.send('text stays a Buffer');
    const textMessage = await expectNext(4);
    assert.ok(Buffer.isBuffer(textMessage.data), 'text under binaryType fragments must be a Buffer, as in ws');
    assert.equal(textMessage.isBinary, false);

    ws.binaryType = 'blob';
    client.send(Buffer.from([9, 10]));
    const asBlob = await expectNext(5);
    assert.ok(asBlob.data instanceof Blob);
    assert.deepEqual([...new Uint8Array(await (asBlob.data as Blob).arrayBuffer())], [9, 10]);

    ws.binaryType = 'nonsense' as 'blob';
    assert.equal(ws.binaryType, 'blob');
  });

  it('pause() holds messages back; resume() delivers them in order', T, async (t) => {
    const { ws, client } = await pair(t);
    const serverInbox = new Inbox(ws);
    assert.equal(ws.isPaused, false);
    ws.pause();
    assert.equal(ws.isPaused, true);
    client.send('a');
    client.send('b');
    client.send('c');
    await delay(200);
    assert.equal(serverInbox.messages.length, 0);
    ws.resume();
    assert.equal(ws.isPaused, false);
    const got = await serverInbox.next(3);
    assert.deepEqual(got.map(text), ['a', 'b', 'c']);
  });
});

describe('frames from a raw client', () => {
  it('frames sent in the same packet as the handshake reach a message listener added on connection', T, async (t) => {
    const server = await startServer(t);
    const received: string[] = [];
    server.wss.on('connection', (ws: WebSocket) => ws.on('message', (data) => received.push(String(data))));
    const raw = await RawClient.connect(t, server.port);
    raw.write(Buffer.concat([Buffer.from(upgradeRequest('/')), clientFrame(0x1, 'early'), clientFrame(0x1, 'bird')]));
    const head = await raw.readHead();
    assert.equal(head.status, 101);
    await waitFor(() => received.length === 2, 3000, 'the two early messages');
    assert.deepEqual(received, ['early', 'bird']);
  });

  it('a fragmented message with a ping in between, fed one byte at a time', T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const inbox = new Inbox(ws);
    const bytes = Buffer.concat([clientFrame(0x1, 'frag', false), clientFrame(0x9, 'p'), clientFrame(0x0, 'mented', true)]);
    for (const byte of bytes) {
      raw.socket.write(Buffer.from([byte]));
      await delay(1);
    }
    const [message] = await inbox.next(1);
    assert.equal(text(message!), 'fragmented');
    assert.equal(message!.isBinary, false);
    const pong = await raw.readFrame();
    assert.equal(pong.opcode, 0xa);
    assert.equal(pong.masked, false);
    assert.equal(pong.payload.toString(), 'p');
  });

  it('a close frame without a status code: the server reports 1005 and answers with an empty close frame', T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const serverClose = once<[number, Buffer]>(ws, 'close');
    raw.write(closeFrame());
    const answer = await raw.readFrame();
    assert.equal(answer.opcode, 0x8);
    assert.equal(answer.payload.length, 0);
    await raw.waitClosed(2000);
    const [code, reason] = await serverClose;
    assert.equal(code, 1005);
    assert.equal(reason.length, 0);
  });

  it('a close frame with code and reason is answered with the same code and reason, then TCP is ended', T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const serverClose = once<[number, Buffer]>(ws, 'close');
    raw.write(closeFrame(4002, 'raw bye'));
    const answer = await raw.readFrame();
    assert.equal(answer.masked, false);
    assert.deepEqual(parseClose(answer), { code: 4002, reason: 'raw bye' });
    await raw.waitClosed(2000);
    const [code, reason] = await serverClose;
    assert.equal(code, 4002);
    assert.equal(reason.toString(), 'raw bye');
  });

  it('a close frame with a reserved code (1005 on the wire) fails the connection with 1002', T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const errors: Array<Error & { code?: string }> = [];
    ws.on('error', (e: Error) => errors.push(e));
    raw.write(clientFrame(0x8, Buffer.from([0x03, 0xed])));
    assert.equal(parseClose(await raw.readFrameOf(0x8)).code, 1002);
    await raw.waitClosed(2000);
    assert.equal(errors[0]?.code, 'WS_ERR_INVALID_CLOSE_CODE');
  });
});

describe('protocol errors from a client', () => {
  const cases = [
    { name: 'an unmasked frame', frame: () => unmaskedFrame(0x1, 'hello'), closeCode: 1002, code: 'WS_ERR_EXPECTED_MASK' },
    { name: 'a reserved opcode (0x3)', frame: () => clientFrame(0x3, 'x'), closeCode: 1002, code: 'WS_ERR_INVALID_OPCODE' },
    { name: 'a reserved control opcode (0xB)', frame: () => clientFrame(0xb), closeCode: 1002, code: 'WS_ERR_INVALID_OPCODE' },
    { name: 'invalid UTF-8 in a text frame', frame: () => clientFrame(0x1, Buffer.from([0x68, 0xc3, 0x28])), closeCode: 1007, code: 'WS_ERR_INVALID_UTF8' },
    {
      name: 'invalid UTF-8 split across fragments',
      frame: () => Buffer.concat([clientFrame(0x1, Buffer.from([0xe2, 0x82]), false), clientFrame(0x0, Buffer.from([0x41]), true)]),
      closeCode: 1007,
      code: 'WS_ERR_INVALID_UTF8',
    },
  ];

  for (const c of cases) {
    it(`${c.name}: close ${c.closeCode} to the client, error ${c.code} and close on the server, other connections unaffected`, T, async (t) => {
      const server = await startServer(t);
      server.wss.on('connection', (ws: WebSocket) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary as boolean })));
      const [bystander] = await connectPair(t, server);
      const bystanderInbox = new Inbox(bystander);

      const connection = server.nextConnection();
      const raw = await RawClient.open(t, server.port);
      const [ws] = await connection;
      const errors: Array<Error & { code?: string }> = [];
      ws.on('error', (e: Error) => errors.push(e));
      const serverClose = once<[number, Buffer]>(ws, 'close');

      raw.write(c.frame());
      const frame = await raw.readFrameOf(0x8);
      assert.equal(parseClose(frame).code, c.closeCode);
      const [code] = await serverClose;
      assert.equal(code, c.closeCode);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.code, c.code);
      await raw.waitClosed(2000);

      bystander.send('still fine');
      assert.equal(text((await bystanderInbox.next(1))[0]!), 'still fine');
      assert.equal(bystander.readyState, WsClient.OPEN);
    });
  }

  it('with no error listener on the server-side socket, a protocol error does not crash the process', T, async (t) => {
    await noUncaught(async () => {
      const server = await startServer(t);
      const connection = server.nextConnection();
      const raw = await RawClient.open(t, server.port);
      const [ws] = await connection;
      assert.equal(ws.listenerCount('error'), 0);
      const serverClose = once<[number, Buffer]>(ws, 'close');
      raw.write(unmaskedFrame(0x2, Buffer.from([1, 2, 3])));
      assert.equal(parseClose(await raw.readFrameOf(0x8)).code, 1002);
      assert.equal((await serverClose)[0], 1002);
      // The server still works.
      const [client, ws2] = await connectPair(t, server);
      const got = once<[Buffer]>(ws2, 'message');
      client.send('alive');
      assert.equal((await got)[0].toString(), 'alive');
    });
  });
});

describe('a message handler that throws', () => {
  for (const withErrorListener of [false, true]) {
    it(`closes only that connection with 1011 (${withErrorListener ? 'error listener gets the exception' : 'no error listener: a warning'})`, T, async (t) => {
      const warnings: Error[] = [];
      const onWarning = (w: Error) => warnings.push(w);
      process.on('warning', onWarning);
      t.after(() => process.removeListener('warning', onWarning));
      await noUncaught(async () => {
        const server = await startServer(t);
        const errors: unknown[] = [];
        server.wss.on('connection', (ws: WebSocket, req) => {
          if (withErrorListener) ws.on('error', (e: unknown) => errors.push(e));
          ws.on('message', (data, isBinary) => {
            if (req.url === '/faulty') throw new Error('handler bug');
            ws.send(data as Buffer, { binary: isBinary as boolean });
          });
        });
        const [good] = await connectPair(t, server);
        const faultyConnection = server.nextConnection();
        const faulty = new WsClient(`${server.url}/faulty`);
        t.after(() => faulty.terminate());
        await once(faulty, 'open');
        const [faultyWs] = await faultyConnection;
        const faultyClosed = closed(faulty);
        const serverClose = once<[number, Buffer]>(faultyWs, 'close');
        faulty.send('boom');
        assert.equal((await faultyClosed)[0], 1011);
        await serverClose;
        const reply = once<[Buffer]>(good, 'message');
        good.send('echo me');
        assert.equal((await reply)[0].toString(), 'echo me');
        if (withErrorListener) {
          assert.equal(errors.length, 1);
          assert.equal((errors[0] as Error).message, 'handler bug');
        } else {
          await waitFor(() => warnings.some((w) => /handler bug/.test(String(w.message))), 2000, 'a process warning');
        }
      });
    });
  }
});
