// createWebSocketStream over a server-side connection, with a `ws` client at the other end.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { WebSocket, createWebSocketStream } from '../../packages/switchboard/src/index.js';
import { Inbox, RawClient, closed, connectPair, delay, once, startServer, unmaskedFrame, waitFor } from './helpers.js';

const T = { timeout: 15_000 };

describe('createWebSocketStream', () => {
  it('carries data both ways: messages become chunks, writes become messages', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const duplex = createWebSocketStream(ws);
    t.after(() => duplex.destroy());
    const clientInbox = new Inbox(client);

    // Client → stream, piped into a collecting Writable.
    const chunks: Buffer[] = [];
    duplex.pipe(
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          callback();
        },
      }),
    );
    client.send('hello ');
    client.send(Buffer.from('binary '));
    client.send('world');
    await waitFor(() => Buffer.concat(chunks).toString() === 'hello binary world', 3000, 'the piped data');

    // Stream → client, piped from a Readable without ending the stream.
    const source = Readable.from([Buffer.from('one'), Buffer.from('two')]);
    const sourceEnded = once(source, 'end');
    source.pipe(duplex, { end: false });
    await sourceEnded;
    const written = await new Promise<unknown>((resolve) => duplex.write('three', resolve));
    assert.ok(written === undefined || written === null);
    const got = await clientInbox.next(3);
    assert.deepEqual(
      got.map((m) => [(m.data as Buffer).toString(), m.isBinary]),
      [
        ['one', true],
        ['two', true],
        ['three', true],
      ],
    );
    assert.equal(ws.readyState, WebSocket.OPEN);
  });

  it('ending the stream closes the WebSocket', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const duplex = createWebSocketStream(ws);
    t.after(() => duplex.destroy());
    duplex.resume();
    const clientClose = closed(client);
    const serverClose = once(ws, 'close');
    const finished = once(duplex, 'finish');
    duplex.end('last words');
    const reply = await once<[Buffer, boolean]>(client, 'message');
    assert.equal(reply[0].toString(), 'last words');
    const [code] = await clientClose;
    assert.equal(code, 1005); // close() without a code
    await serverClose;
    await finished;
    assert.equal(ws.readyState, WebSocket.CLOSED);
    await waitFor(() => duplex.destroyed, 2000, 'the stream to be destroyed');
  });

  it('the readable side ends when the client closes', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const duplex = createWebSocketStream(ws);
    t.after(() => duplex.destroy());
    let data = '';
    duplex.setEncoding('utf8').on('data', (d: string) => (data += d));
    const ended = once(duplex, 'end');
    client.send('bye');
    client.close(1000);
    await ended;
    assert.equal(data, 'bye');
    await waitFor(() => ws.readyState === WebSocket.CLOSED, 2000, 'the WebSocket to close');
  });

  it('pauses the socket while the readable buffer is full, resumes when read', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const duplex = createWebSocketStream(ws, { readableHighWaterMark: 64 });
    t.after(() => duplex.destroy());
    for (let i = 0; i < 20; i++) client.send(Buffer.alloc(100, i));
    await waitFor(() => ws.isPaused, 3000, 'the WebSocket to be paused');
    let total = 0;
    duplex.on('data', (chunk: Buffer) => (total += chunk.length));
    await waitFor(() => total === 2000, 3000, `all 2000 bytes (have ${total})`);
    assert.equal(ws.isPaused, false);
  });

  it('a protocol error destroys the stream with the error', T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const duplex = createWebSocketStream(ws);
    t.after(() => duplex.destroy());
    // Listened to: an error nobody listens to is thrown, as in ws and Node streams.
    const errors: Array<Error & { code?: string }> = [];
    duplex.on('error', (error) => errors.push(error));
    duplex.resume();
    raw.write(unmaskedFrame(0x1, 'x'));
    await waitFor(() => duplex.destroyed, 3000, 'the stream to be destroyed');
    assert.equal((duplex.errored as (Error & { code?: string }) | null)?.code, 'WS_ERR_EXPECTED_MASK');
    await waitFor(() => errors.length > 0, 3000, "the stream's 'error'");
    assert.deepEqual(errors.map((error) => error.code), ['WS_ERR_EXPECTED_MASK']);
    await delay(20);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });

  it('a write after the connection closed errors and destroys the stream, as in ws', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const duplex = createWebSocketStream(ws);
    t.after(() => duplex.destroy());
    const errored = once<[Error]>(duplex, 'error');
    client.close();
    await once(ws, 'close');
    duplex.write('late');
    const [error] = await errored;
    assert.equal(error.message, 'WebSocket is not open: readyState 3 (CLOSED)');
    assert.equal(duplex.destroyed, true);
  });

  it("an 'error' nobody listens to is thrown, as Node streams (and ws) do", T, () => {
    // In a child process: the uncaught exception would end the test runner.
    const script = `
      import { WebSocket, WebSocketServer, createWebSocketStream } from './packages/switchboard/src/index.ts';
      process.on('uncaughtException', (error) => { console.log('uncaught: ' + error.message); process.exit(0); });
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => {
        const ws = new WebSocket('ws://127.0.0.1:' + wss.address().port);
        ws.on('open', () => { createWebSocketStream(ws); ws.close(); ws.once('close', () => ws.emit('error', new Error('late'))); });
      });
    `;
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: join(import.meta.dirname, '../..'),
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(result.stdout.trim(), 'uncaught: late');
  });
});
