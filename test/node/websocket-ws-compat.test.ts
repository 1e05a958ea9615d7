// What a connection does the way ws 8.21 does it (issue #15): property shapes, send()/send(null),
// errors while CONNECTING, bufferedAmount, Blob pings, unreadable Blobs, listener exceptions.
// Our server-side connections with `ws` clients, and our client against our server.
import assert from 'node:assert/strict';
import { Blob, Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openAsBlob, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from '../../packages/switchboard/src/index.js';
import { Inbox, RawClient, clientFrame, connectPair, delay, once, startServer, waitFor } from './helpers.js';

const T = { timeout: 15_000 };

/** Our client, open, against a test server; terminated when the test ends. */
async function openClient(t: import('node:test').TestContext, url: string, options: Record<string, unknown> = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  t.after(() => ws.terminate());
  ws.on('error', () => {});
  await once(ws, 'open');
  return ws;
}

describe('property shapes, as in ws (WebIDL)', () => {
  it('CONNECTING..CLOSED are read-only, enumerable data properties of the class and its prototype', () => {
    for (const [name, value] of [['CONNECTING', 0], ['OPEN', 1], ['CLOSING', 2], ['CLOSED', 3]] as const) {
      const expected = { configurable: false, enumerable: true, value, writable: false };
      assert.deepEqual(Object.getOwnPropertyDescriptor(WebSocket, name), expected, `WebSocket.${name}`);
      assert.deepEqual(Object.getOwnPropertyDescriptor(WebSocket.prototype, name), expected, `WebSocket.prototype.${name}`);
    }
  });

  it('the attributes are enumerable, configurable accessors of the prototype', () => {
    for (const name of ['binaryType', 'bufferedAmount', 'extensions', 'isPaused', 'protocol', 'readyState', 'url', 'onopen', 'onmessage', 'onclose', 'onerror']) {
      const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
      assert.ok(descriptor?.get, `${name} has a getter`);
      assert.equal(descriptor.enumerable, true, `${name} is enumerable`);
      assert.equal(descriptor.configurable, true, `${name} is configurable`);
    }
  });
});

describe('addEventListener', () => {
  it("listens only for the four events a WebSocket dispatches, as in ws", (t) => {
    const ws = new WebSocket('ws://127.0.0.1:1');
    ws.on('error', () => {});
    t.after(() => ws.terminate());
    ws.addEventListener('foo', () => {});
    ws.addEventListener('ping', () => {});
    assert.equal(ws.listenerCount('foo'), 0);
    assert.equal(ws.listenerCount('ping'), 0);
    ws.addEventListener('open', () => {});
    assert.equal(ws.listenerCount('open'), 1);
  });
});

describe('send(), ping(), pong()', () => {
  it('send() and send(null) send an empty binary message, not the text "undefined" or "null"', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const inbox = new Inbox(client);
    (ws.send as (data?: unknown) => void)();
    (ws.send as (data?: unknown) => void)(null);
    const messages = await inbox.next(2);
    for (const { data, isBinary } of messages) {
      assert.equal(isBinary, true);
      assert.equal((data as Buffer).length, 0);
    }
  });

  it("while CONNECTING, send/ping/pong throw ws's plain Error with a code", T, (t) => {
    const ws = new WebSocket('ws://127.0.0.1:1');
    ws.on('error', () => {});
    t.after(() => ws.terminate());
    for (const call of [() => ws.send('x'), () => ws.ping(), () => ws.pong()]) {
      assert.throws(call, (error: Error & { code?: string }) => {
        assert.equal(Object.getPrototypeOf(error), Error.prototype);
        assert.equal(String(error), 'Error: WebSocket is not open: readyState 0 (CONNECTING)');
        assert.equal(error.code, 'WS_ERR_INVALID_STATE');
        return true;
      });
    }
  });

  it('a Blob can be a ping or pong payload', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const pinged = once<[Buffer]>(client, 'ping');
    ws.ping(new Blob(['hi']));
    assert.equal((await pinged)[0].toString(), 'hi');
    const ponged = once<[Buffer]>(client, 'pong');
    ws.pong(new Blob(['yo']));
    assert.equal((await ponged)[0].toString(), 'yo');
  });

  it("an unreadable Blob fails the connection with the reader's error", T, async (t) => {
    const file = join(tmpdir(), `switchboard-${randomBytes(4).toString('hex')}.txt`);
    writeFileSync(file, 'x'.repeat(64));
    t.after(() => unlinkSync(file));
    const blob = await openAsBlob(file);
    writeFileSync(file, 'x'.repeat(32)); // the Blob's snapshot no longer matches the file
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const errored = once<[Error]>(ws, 'error');
    const clientClosed = once<[number]>(client, 'close');
    let callbackError: Error | null | undefined;
    ws.send(blob, (error) => (callbackError = error));
    const [error] = await errored;
    assert.equal(error.name, 'NotReadableError');
    assert.equal(callbackError, error);
    assert.equal((await clientClosed)[0], 1011);
  });
});

describe('bufferedAmount', () => {
  it('grows with what is sent while CLOSING or CLOSED (WHATWG), strings by their UTF-8 length', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSING);
    assert.equal(ws.bufferedAmount, 0);
    ws.ping('hi');
    assert.equal(ws.bufferedAmount, 2);
    ws.send('é');
    assert.equal(ws.bufferedAmount, 4);
    await once(ws, 'close');
    ws.send(new Blob(['abc']));
    ws.pong();
    assert.equal(ws.bufferedAmount, 7);
    const errors: Array<Error | null | undefined> = [];
    ws.send('x', (error) => errors.push(error));
    await waitFor(() => errors.length === 1);
    assert.match(String(errors[0]?.message), /readyState 3 \(CLOSED\)/);
    client.terminate();
  });

  it('counts a message while it is being compressed', T, async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const ws = await openClient(t, server.url, { perMessageDeflate: { threshold: 0 } });
    ws.send('foo');
    assert.equal(ws.bufferedAmount, 3);
    const sent = new Promise<Error | null | undefined>((resolve) => ws.send('bar', resolve));
    assert.equal(ws.bufferedAmount, 6);
    assert.equal(await sent, null);
    assert.equal(ws.bufferedAmount, 0);
  });
});

describe('generateMask', () => {
  it("fills each frame's masking key", T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    let calls = 0;
    const ws = await openClient(t, server.url, {
      generateMask(mask: Buffer) {
        calls++;
        mask.fill(0);
      },
    });
    const [peer] = await connection;
    const received = once<[Buffer]>(peer, 'message');
    ws.send(Buffer.from('foo'));
    assert.deepEqual((await received)[0], Buffer.from('foo'));
    assert.equal(calls, 1);
  });
});

describe('maxBufferedChunks', () => {
  it('a frame trickled in more pieces than the limit fails the connection with 1008', T, async (t) => {
    // With `server`, the socket is read through its own 'data' events: one chunk per packet, each kept.
    const httpServer = createServer();
    const wss = new WebSocketServer({ server: httpServer, maxBufferedChunks: 4 });
    t.after(() => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      httpServer.close();
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const connection = once<[WebSocket]>(wss, 'connection');
    const raw = await RawClient.open(t, (httpServer.address() as AddressInfo).port);
    const [ws] = await connection;
    const errored = once<[Error & { code?: string; closeCode?: number }]>(ws, 'error');
    const frame = clientFrame(0x2, Buffer.alloc(100));
    raw.write(frame.subarray(0, 10));
    for (let i = 10; i < 20 && !raw.ended; i++) {
      await delay(10);
      raw.write(frame.subarray(i, i + 1));
    }
    const [error] = await errored;
    assert.ok(error instanceof RangeError);
    assert.equal(error.code, 'WS_ERR_TOO_MANY_BUFFERED_PARTS');
    assert.equal(error.message, 'Too many buffered chunks');
    assert.equal(error.closeCode, 1008);
  });
});

describe('an exception thrown by a listener', () => {
  // In a child process: with propagateListenerErrors it must be an uncaught exception, which would end the test runner.
  const script = (propagate: boolean): string => `
    import { WebSocket, WebSocketServer } from './packages/switchboard/src/index.ts';
    process.on('uncaughtException', (error) => { console.log('uncaught: ' + error.message); process.exit(0); });
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', propagateListenerErrors: ${propagate} }, () => {
      const client = new WebSocket('ws://127.0.0.1:' + wss.address().port);
      client.on('open', () => client.send('hi'));
      client.on('close', (code) => { console.log('client closed: ' + code); process.exit(0); });
    });
    wss.on('connection', (ws) => ws.on('message', () => { throw new Error('boom'); }));
  `;
  const run = (propagate: boolean): string => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(propagate)], {
      cwd: join(import.meta.dirname, '../..'),
      encoding: 'utf8',
      timeout: 10_000,
    });
    return result.stdout.trim();
  };

  it('closes only its own connection with 1011 by default', T, () => {
    assert.equal(run(false), 'client closed: 1011');
  });

  it('propagates, as in ws, with propagateListenerErrors', T, () => {
    assert.equal(run(true), 'uncaught: boom');
  });
});

describe('WebSocketServer edge cases, as in ws', () => {
  it('without options: the TypeError naming the options, not a crash on undefined', () => {
    assert.throws(() => new (WebSocketServer as unknown as new () => WebSocketServer)(), {
      name: 'TypeError',
      message: 'One and only one of the "port", "server", or "noServer" options must be specified',
    });
  });

  it("address() in noServer mode throws ws's plain Error", () => {
    const wss = new WebSocketServer({ noServer: true });
    assert.throws(() => wss.address(), (error: Error & { code?: string }) => {
      assert.equal(String(error), 'Error: The server is operating in "noServer" mode');
      assert.equal(error.code, 'WS_ERR_INVALID_STATE');
      return true;
    });
  });

  it('close(cb) on a closed server: cb gets an error and close is emitted again', T, async () => {
    const wss = new WebSocketServer({ noServer: true });
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    const closeEvents: number[] = [];
    wss.on('close', () => closeEvents.push(1));
    const error = await new Promise<Error | undefined>((resolve) => wss.close(resolve));
    assert.equal(error?.message, 'The server is not running');
    assert.equal(closeEvents.length, 1);
  });
});
