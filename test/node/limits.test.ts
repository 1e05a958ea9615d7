// The per-connection limits of the Node layer, one by one and in process:
// maxFragments, maxPendingAutoPongs, disconnectBufferedAmount, and control frames
// held to 125 bytes rather than maxPayload. (attacks.test.ts runs the
// attacks themselves against a server in a child process.)
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer, broadcast } from '../../packages/switchboard/src/index.js';
import { Opcode } from '../../packages/switchboard/src/protocol/index.js';
import { HOST, RawClient, clientFrame, closeFrame, delay, once, parseClose, startServer, waitFor } from './helpers.js';

const T = { timeout: 20_000 };

describe('Node-layer limits', () => {
  it('defaults are ws 8.23\'s where ws has the option, 16 MiB for disconnectBufferedAmount', T, async (t) => {
    const { wss } = await startServer(t);
    assert.equal(wss.options.maxFragments, 16 * 1024);
    assert.equal(wss.options.maxPendingAutoPongs, 60);
    assert.equal(wss.options.disconnectBufferedAmount, 16 * 1024 * 1024);
  });

  it('a small maxPayload leaves pings of 125 bytes and close reasons of 123 bytes alone (RFC 6455 5.5)', T, async (t) => {
    const server = await startServer(t, { maxPayload: 10 });
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const ping = Buffer.alloc(125, 0x70);
    raw.write(clientFrame(Opcode.Ping, ping));
    const pong = await raw.readFrameOf(Opcode.Pong);
    assert.deepEqual(pong.payload, ping);
    const closing = once<[number, Buffer]>(ws, 'close');
    raw.write(closeFrame(4000, 'r'.repeat(123)));
    assert.deepEqual(parseClose(await raw.readFrameOf(Opcode.Close)), { code: 4000, reason: 'r'.repeat(123) });
    const [code, reason] = await closing;
    assert.equal(code, 4000);
    assert.equal(reason.length, 123);
  });

  it('maxFragments is passed to the connections: the frame past it closes with 1008', T, async (t) => {
    const server = await startServer(t, { maxFragments: 3 });
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const errors: Array<string | undefined> = [];
    ws.on('error', (error: Error & { code?: string }) => errors.push(error.code));
    raw.write(Buffer.concat([clientFrame(Opcode.Text, 'a', false), clientFrame(Opcode.Continuation, 'b', false), clientFrame(Opcode.Continuation, 'c', false), clientFrame(Opcode.Continuation, 'd', true)]));
    assert.equal(parseClose(await raw.readFrameOf(Opcode.Close)).code, 1008);
    assert.deepEqual(errors, ['WS_ERR_TOO_MANY_BUFFERED_PARTS']);
  });

  it('maxPendingAutoPongs: 0 answers every ping however many wait', T, async (t) => {
    const server = await startServer(t, { maxPendingAutoPongs: 0 });
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    await connection;
    raw.write(Buffer.concat(Array.from({ length: 500 }, () => clientFrame(Opcode.Ping, 'p'))));
    for (let i = 0; i < 500; i++) await raw.readFrameOf(Opcode.Pong);
    assert.equal(raw.ended, false);
  });

  it('maxPendingAutoPongs: the ping past the limit destroys the connection (1008, WS_ERR_TOO_MANY_PENDING_PONGS); pongs written in time do not count', T, async (t) => {
    const server = await startServer(t, { maxPendingAutoPongs: 5 });
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    let error: string | undefined;
    ws.on('error', (e: Error & { code?: string }) => (error = e.code));
    // Five at a time, each batch written before the next comes: never more than five pending.
    for (let batch = 0; batch < 10; batch++) {
      raw.write(Buffer.concat(Array.from({ length: 5 }, () => clientFrame(Opcode.Ping))));
      for (let i = 0; i < 5; i++) await raw.readFrameOf(Opcode.Pong);
    }
    assert.equal(ws.readyState, WebSocket.OPEN);
    const closing = once<[number]>(ws, 'close');
    raw.write(Buffer.concat(Array.from({ length: 6 }, () => clientFrame(Opcode.Ping))));
    const [code] = await closing;
    assert.equal(code, 1008);
    assert.equal(error, 'WS_ERR_TOO_MANY_PENDING_PONGS');
    await raw.waitClosed();
  });

  for (const via of ['send', 'sendFrame', 'broadcast'] as const) {
    it(`disconnectBufferedAmount: a ${via} that finds more waiting is dropped and the connection destroyed (1013)`, T, async (t) => {
      const server = await startServer(t, { disconnectBufferedAmount: 256 * 1024 });
      const connection = server.nextConnection();
      const raw = await RawClient.open(t, server.port);
      raw.socket.pause();
      const [ws] = await connection;
      let error: string | undefined;
      ws.on('error', (e: Error & { code?: string }) => (error = e.code));
      const closing = once<[number]>(ws, 'close');
      const payload = Buffer.alloc(64 * 1024, 0x61);
      // 64 KiB binary frame with a 64-bit length (126 cannot hold 65,536).
      const framed = Buffer.concat([Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]), payload]);
      let refusedWith: Error | null | undefined;
      let sends = 0;
      // Kernel buffers take a few MiB before anything stays in ours: send until the limit is met (bounded).
      while (ws.readyState === WebSocket.OPEN && sends < 4000) {
        sends++;
        if (via === 'send') ws.send(payload, (e) => (refusedWith ??= e));
        else if (via === 'sendFrame') ws.sendFrame(framed, (e) => (refusedWith ??= e));
        else broadcast(server.wss.clients, payload);
        if (sends % 16 === 0) await delay(1);
      }
      const [code] = await closing;
      assert.equal(code, 1013);
      assert.equal(error, 'WS_ERR_BUFFERED_AMOUNT_EXCEEDED');
      assert.ok(ws.bufferedAmount <= 256 * 1024 + payload.length + 16, `bufferedAmount ${ws.bufferedAmount}`);
      if (via !== 'broadcast') await waitFor(() => refusedWith instanceof Error, 2000, 'the refused send to get an error');
    });
  }

  it('disconnectBufferedAmount: 0 turns the limit off; clients have none by default', T, async (t) => {
    const server = await startServer(t, { disconnectBufferedAmount: 0 });
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    raw.socket.pause();
    const [ws] = await connection;
    const payload = Buffer.alloc(256 * 1024);
    for (let i = 0; i < 200 && ws.bufferedAmount < 24 * 1024 * 1024; i++) {
      ws.send(payload);
      if (i % 16 === 0) await delay(1);
    }
    assert.ok(ws.bufferedAmount > 16 * 1024 * 1024, `bufferedAmount ${ws.bufferedAmount}`);
    assert.equal(ws.readyState, WebSocket.OPEN);

    // A client whose server does not read.
    const silent = new WebSocketServer({ port: 0, host: HOST });
    t.after(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    await once(silent, 'listening');
    silent.on('connection', (peer: WebSocket) => peer.pause());
    const client = new WebSocket(`ws://${HOST}:${(silent.address() as { port: number }).port}`);
    t.after(() => client.terminate());
    await once(client, 'open');
    for (let i = 0; i < 200 && client.bufferedAmount < 24 * 1024 * 1024; i++) {
      client.send(payload);
      if (i % 16 === 0) await delay(1);
    }
    assert.ok(client.bufferedAmount > 16 * 1024 * 1024);
    assert.equal(client.readyState, WebSocket.OPEN);
    for (const peer of silent.clients) peer.terminate();
  });
});
