// The diagnostics channels of the Node layer (docs/observability.md), seen by
// a subscriber while real clients connect on 127.0.0.1, get refused, send,
// overflow a limit and close; and WebSocketServer#stats() counting the same.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { WebSocket, WebSocketServer, type VerifyClientInfo } from '../../packages/switchboard/src/index.js';
import { closed, connect, connectPair, startServer, waitFor } from './helpers.js';

/** Subscribes to `name` for the rest of the test; returns what it receives. */
function record(t: TestContext, name: string): any[] {
  const seen: any[] = [];
  const listener = (message: unknown): void => void seen.push(message);
  diagnostics.subscribe(name, listener);
  t.after(() => diagnostics.unsubscribe(name, listener));
  return seen;
}

test('handshakes: accepted with 101, refused with the status and the reason code', async (t) => {
  const handshakes = record(t, 'switchboard:server:handshake');
  const server = await startServer(t, { path: '/ok', verifyClient: (info: VerifyClientInfo) => info.req.headers['x-let-in'] !== 'no' });
  await connect(t, `${server.url}/ok`);
  await assert.rejects(connect(t, `${server.url}/elsewhere`), /unexpected response 400/);
  await assert.rejects(connect(t, `${server.url}/ok`, undefined, { headers: { 'x-let-in': 'no' } }), /unexpected response 401/);
  await waitFor(() => handshakes.length === 3);
  const summary = handshakes.map((h) => [h.accepted, h.status, h.code, typeof h.request.headers]);
  assert.deepEqual(summary, [
    [true, 101, null, 'object'],
    [false, 400, 'WS_ERR_INVALID_PATH', 'object'],
    [false, 401, 'WS_ERR_CLIENT_REFUSED', 'object'],
  ]);
  assert.ok(handshakes.every((h) => typeof h.durationMs === 'number' && h.durationMs >= 0));
  const stats = server.wss.stats();
  assert.equal(stats.handshakesAccepted, 1);
  assert.equal(stats.handshakesRefused, 2);
});

test('a handshake held by an asynchronous verifyClient reports the time it took', async (t) => {
  const handshakes = record(t, 'switchboard:server:handshake');
  const server = await startServer(t, { verifyClient: (_info: VerifyClientInfo, done: (ok: boolean) => void) => void setTimeout(() => done(true), 60) });
  await connect(t, server.url);
  await waitFor(() => handshakes.length === 1);
  // A lower bound only: the timer cannot fire before 60 ms (less a millisecond of rounding).
  assert.ok(handshakes[0].durationMs >= 55, `durationMs ${handshakes[0].durationMs}`);
});

test('open, messages both ways and close, with sizes, kinds and the close code', async (t) => {
  const opened = record(t, 'switchboard:connection:open');
  const received = record(t, 'switchboard:message:received');
  const sent = record(t, 'switchboard:message:sent');
  const closes = record(t, 'switchboard:connection:close');
  const server = await startServer(t);
  const [client, ws] = await connectPair(t, server);
  const echoed = new Promise<void>((resolve) => client.on('message', (_data, isBinary) => isBinary && resolve()));
  ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  client.send('hello');
  client.send(Buffer.alloc(300));
  await echoed;
  const serverSide = (m: any): boolean => m.websocket === ws;
  assert.deepEqual(opened.filter(serverSide).map((m) => m.server), [true]);
  assert.deepEqual(received.filter(serverSide).map((m) => [m.size, m.binary, m.compressed]), [
    [5, false, false],
    [300, true, false],
  ]);
  assert.deepEqual(sent.filter(serverSide).map((m) => [m.size, m.binary, m.compressed]), [
    [5, false, false],
    [300, true, false],
  ]);
  const mid = server.wss.stats();
  assert.deepEqual([mid.connections, mid.messagesReceived, mid.messagesSent, mid.bytesReceived, mid.bytesSent], [1, 2, 2, 305, 305]);

  const clientClosed = closed(client);
  client.close(4001, 'done');
  await clientClosed;
  await waitFor(() => closes.some(serverSide));
  const close = closes.find(serverSide);
  assert.equal(close.code, 4001);
  assert.equal(close.wasClean, true);
  assert.equal(close.server, true);
  assert.ok(close.durationMs >= 0 && close.durationMs < 60_000, `durationMs ${close.durationMs}`);
  // What the closed connection did stays counted.
  await waitFor(() => server.wss.stats().connections === 0);
  const after = server.wss.stats();
  assert.deepEqual([after.connections, after.messagesReceived, after.messagesSent, after.bytesReceived, after.bytesSent], [0, 2, 2, 305, 305]);
});

test('compressed messages say so', async (t) => {
  const received = record(t, 'switchboard:message:received');
  const server = await startServer(t, { perMessageDeflate: { threshold: 0 } });
  const [client, ws] = await connectPair(t, server, undefined, { perMessageDeflate: { threshold: 0 } });
  const got = new Promise((resolve) => ws.once('message', resolve));
  client.send('a'.repeat(1000), { compress: true });
  await got;
  const mine = received.filter((m) => m.websocket === ws);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].compressed, true);
  assert.ok(mine[0].size < 1000, `the compressed size on the wire, got ${mine[0].size}`);
});

test('a protocol violation is reported on the error channel with its code', async (t) => {
  const errors = record(t, 'switchboard:connection:error');
  const server = await startServer(t, { maxPayload: 10 });
  const [client, ws] = await connectPair(t, server);
  ws.on('error', () => {});
  const clientClosed = closed(client);
  client.send('x'.repeat(100));
  assert.equal((await clientClosed)[0], 1009);
  await waitFor(() => errors.some((m) => m.websocket === ws));
  assert.equal(errors.find((m) => m.websocket === ws).code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
});

test('a peer that does not read crosses the write-buffer limit: backpressure and error channels', async (t) => {
  const pressure = record(t, 'switchboard:connection:backpressure');
  const errors = record(t, 'switchboard:connection:error');
  const server = await startServer(t, { disconnectBufferedAmount: 64 * 1024 });
  const connection = server.nextConnection();
  const client = await WebSocket.connect(server.url);
  t.after(() => client.terminate());
  const [ws] = await connection;
  ws.on('error', () => {});
  // The client stops reading: the kernel buffers fill, then the server's.
  client.pause();
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < 1000 && ws.readyState === WebSocket.OPEN; i++) ws.send(chunk);
  await waitFor(() => pressure.some((m) => m.websocket === ws));
  const event = pressure.find((m) => m.websocket === ws);
  assert.equal(event.code, 'WS_ERR_BUFFERED_AMOUNT_EXCEEDED');
  assert.equal(event.closeCode, 1013);
  assert.ok(event.bufferedAmount > 64 * 1024);
  assert.equal(errors.find((m) => m.websocket === ws)?.code, 'WS_ERR_BUFFERED_AMOUNT_EXCEEDED');
});

test('nothing is published when nobody subscribes, and a WebSocketServer without connections reports zeros', (t) => {
  const wss = new WebSocketServer({ noServer: true });
  t.after(() => wss.close());
  assert.deepEqual(wss.stats(), {
    connections: 0,
    bufferedBytes: 0,
    handshakesAccepted: 0,
    handshakesRefused: 0,
    messagesReceived: 0,
    messagesSent: 0,
    bytesReceived: 0,
    bytesSent: 0,
  });
  for (const name of ['switchboard:server:handshake', 'switchboard:connection:open', 'switchboard:message:received', 'switchboard:message:sent']) {
    assert.equal(diagnostics.channel(name).hasSubscribers, false, name);
  }
});
