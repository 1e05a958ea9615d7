// The write batching fast path: frames that handlers write while one received
// chunk is reported leave together when the chunk is done.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { WebSocket } from '../../packages/switchboard/src/index.js';
import { RawClient, clientFrame, parseClose, startServer, waitFor, withTimeout } from './helpers.js';

const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;

/** Counts the socket writes a server-side connection makes. */
function countWrites(ws: WebSocket): () => number {
  const socket = ws._socket!;
  let writes = 0;
  const original = socket.write.bind(socket);
  socket.write = ((...args: Parameters<typeof socket.write>) => {
    writes++;
    return original(...args);
  }) as typeof socket.write;
  return () => writes;
}

describe('write batching per received chunk', () => {
  test('50 small messages in one TCP segment: 50 replies in order, written with one socket write', async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const writes = countWrites(ws);
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    const burst = Buffer.concat(Array.from({ length: 50 }, (_, i) => clientFrame(TEXT, `message ${i}`)));
    raw.write(burst);
    for (let i = 0; i < 50; i++) {
      const frame = await raw.readFrame();
      assert.equal(frame.opcode, TEXT);
      assert.equal(frame.payload.toString(), `message ${i}`);
    }
    assert.equal(writes(), 1, 'the 50 replies went out in one write');
  });

  test('replies to 64 KiB of 1 KiB messages in one burst leave in writes of at most 32 KiB (plus one frame), in order', async (t) => {
    // The peer gets the first replies while the rest are still being made (issue 17: held to the end of the
    // chunk, server and peer took turns). Whatever the kernel's read boundaries, no write may exceed the limit.
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const sizes: number[] = [];
    const socket = ws._socket!;
    const original = socket.write.bind(socket);
    socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
      sizes.push(chunk.length);
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof socket.write;
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    const count = 64;
    const payloads = Array.from({ length: count }, (_, i) => Buffer.alloc(1024, i));
    raw.write(Buffer.concat(payloads.map((payload) => clientFrame(BINARY, payload))));
    for (let i = 0; i < count; i++) {
      const frame = await raw.readFrame();
      assert.equal(frame.opcode, BINARY);
      assert.ok(frame.payload.equals(payloads[i]!), `reply ${i} intact and in order`);
    }
    const frameSize = 1024 + 4;
    assert.equal(sizes.reduce((sum, size) => sum + size, 0), count * frameSize);
    assert.ok(Math.max(...sizes) <= 32 * 1024 + frameSize, `write sizes ${sizes.join(', ')}`);
  });

  test('the slab region of a batch the kernel took at once is reused by the next batch', async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const written: Buffer[] = [];
    const socket = ws._socket!;
    const original = socket.write.bind(socket);
    socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
      written.push(chunk);
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof socket.write;
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    for (const round of [1, 2]) {
      raw.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => clientFrame(TEXT, `round ${round} message ${i}`))));
      for (let i = 0; i < 10; i++) assert.equal((await raw.readFrame()).payload.toString(), `round ${round} message ${i}`);
    }
    assert.equal(written.length, 2);
    assert.equal(written[1]!.buffer, written[0]!.buffer, 'the same slab');
    assert.equal(written[1]!.byteOffset, written[0]!.byteOffset, 'the same region of it');
  });

  test('replies written while the peer does not read (the kernel holds back) arrive intact: no slab region is reused too early', async (t) => {
    const server = await startServer(t, { disconnectBufferedAmount: 256 * 1024 * 1024 });
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const socket = ws._socket!;
    const original = socket.write.bind(socket);
    let heldBack = 0;
    socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
      const result = (original as (...args: unknown[]) => boolean)(chunk, ...rest);
      if (socket.writableLength > 0) heldBack++;
      return result;
    }) as typeof socket.write;
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    // 24 MiB of 1 KiB messages, each with its number in it, sent while the client reads nothing.
    const count = 24 * 1024;
    const payloadOf = (i: number) => {
      const payload = Buffer.alloc(1024, i % 251);
      payload.writeUInt32BE(i, 0);
      return payload;
    };
    raw.socket.pause();
    for (let start = 0; start < count; start += 1024) {
      raw.socket.write(Buffer.concat(Array.from({ length: 1024 }, (_, k) => clientFrame(BINARY, payloadOf(start + k)))));
    }
    await withTimeout(waitFor(() => heldBack > 0 && ws.bufferedAmount > 0), 20_000, 'the server write buffer to fill');
    const frameSize = 1024 + 4;
    const received: Buffer[] = [];
    let receivedBytes = 0;
    raw.socket.removeAllListeners('data');
    raw.socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      receivedBytes += chunk.length;
    });
    raw.socket.resume();
    await withTimeout(waitFor(() => receivedBytes >= count * frameSize), 30_000, 'all replies');
    const all = Buffer.concat(received);
    assert.equal(all.length, count * frameSize);
    for (let i = 0; i < count; i++) {
      const frame = all.subarray(i * frameSize, (i + 1) * frameSize);
      assert.equal(frame[0], 0x80 | BINARY);
      if (!frame.subarray(4).equals(payloadOf(i))) assert.fail(`reply ${i} differs from message ${i} (got number ${frame.readUInt32BE(4)})`);
    }
  });

  test('a batch holding a reply over 64 KiB keeps order and content (header and payload written uncopied)', async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    const big = Buffer.alloc(100_000, 7);
    raw.write(Buffer.concat([clientFrame(TEXT, 'before'), clientFrame(BINARY, big), clientFrame(TEXT, 'after')]));
    const first = await raw.readFrame();
    const second = await raw.readFrame();
    const third = await raw.readFrame();
    assert.equal(first.payload.toString(), 'before');
    assert.equal(second.opcode, BINARY);
    assert.ok(second.payload.equals(big), 'the large payload arrives intact');
    assert.equal(third.payload.toString(), 'after');
  });

  test('bufferedAmount counts the batched bytes while the handler runs', async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    let seen = -1;
    ws.on('message', () => {
      ws.send(Buffer.alloc(1000));
      seen = ws.bufferedAmount;
    });
    raw.write(clientFrame(TEXT, 'go'));
    await raw.readFrame();
    assert.ok(seen >= 1000, `bufferedAmount was ${seen} right after send`);
  });

  test('a message sent before close() in the same handler arrives before the close frame', async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    ws.on('message', () => {
      ws.send('last words');
      ws.close(4000, 'done');
    });
    raw.write(clientFrame(TEXT, 'go'));
    const message = await raw.readFrame();
    assert.equal(message.payload.toString(), 'last words');
    const close = await raw.readFrame();
    assert.equal(close.opcode, CLOSE);
    assert.deepEqual(parseClose(close), { code: 4000, reason: 'done' });
  });

  test('terminate() inside a handler drops the batch: its send callbacks get an error, nothing throws', async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const results: Array<Error | null | undefined> = [];
    ws.on('message', () => {
      ws.send('never sent', (error) => results.push(error));
      ws.terminate();
    });
    raw.write(clientFrame(TEXT, 'go'));
    await withTimeout(waitFor(() => results.length === 1), 5000, 'the send callback');
    assert.ok(results[0] instanceof Error, 'the callback learns the message was not sent');
    await raw.waitClosed();
  });

  test('frames from a chunk that also holds a ping: pong and replies keep the order of the requests', async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    raw.write(Buffer.concat([clientFrame(TEXT, 'one'), clientFrame(0x9, 'ping!'), clientFrame(TEXT, 'two')]));
    const frames = [await raw.readFrame(), await raw.readFrame(), await raw.readFrame()].map((f) => [f.opcode, f.payload.toString()]);
    assert.deepEqual(frames, [
      [TEXT, 'one'],
      [0xa, 'ping!'],
      [TEXT, 'two'],
    ]);
  });
  test('replies that fill the shared slab several times over, mixed with larger ones, all arrive in order and intact, and their callbacks run', async (t) => {
    // ~3,000 B replies (under the 4 KiB slab frame limit) overflow the 64 KiB slab every ~21 frames;
    // every 7th reply is 5,000 B (written on its own), so runs in the slab are cut and resumed.
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    let callbacks = 0;
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }, (error) => (error ? assert.fail(error) : callbacks++)));
    const payloads = Array.from({ length: 120 }, (_, i) => Buffer.alloc(i % 7 === 6 ? 5000 : 3000 + i, i & 0xff));
    raw.write(Buffer.concat(payloads.map((p) => clientFrame(BINARY, p))));
    for (let i = 0; i < payloads.length; i++) {
      const frame = await raw.readFrame();
      assert.ok(frame.payload.equals(payloads[i]!), `reply ${i} intact`);
    }
    await waitFor(() => callbacks === payloads.length, 5000, 'every send callback');
  });

  test('two connections whose bursts are answered one after the other do not see each other\'s replies', async (t) => {
    const server = await startServer(t);
    server.wss.on('connection', (ws: WebSocket) => ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary })));
    const a = await RawClient.open(t, server.port);
    const b = await RawClient.open(t, server.port);
    for (let round = 0; round < 20; round++) {
      a.write(Buffer.concat(Array.from({ length: 30 }, (_, i) => clientFrame(TEXT, `a${round}.${i}`.padEnd(700, 'a')))));
      b.write(Buffer.concat(Array.from({ length: 30 }, (_, i) => clientFrame(TEXT, `b${round}.${i}`.padEnd(900, 'b')))));
    }
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 30; i++) {
        assert.equal((await a.readFrame()).payload.toString(), `a${round}.${i}`.padEnd(700, 'a'));
        assert.equal((await b.readFrame()).payload.toString(), `b${round}.${i}`.padEnd(900, 'b'));
      }
    }
  });
  test('a batch that opens inside another one (a handler whose send reaches a connection of the same process at once) keeps each peer\'s frames its own', async (t) => {
    // What happens when a handler on A sends through an in-process stream whose far end, C, is
    // read synchronously: C batches while A's batch is open, and both write to the shared slab.
    const server = await startServer(t);
    const connA = server.nextConnection();
    const rawA = await RawClient.open(t, server.port);
    const [a] = await connA;
    const connC = server.nextConnection();
    const rawC = await RawClient.open(t, server.port);
    const [c] = await connC;
    c.on('message', (data: Buffer) => {
      // Large enough that a few of them replace the slab while A's run is open.
      c.send(`C-REPLY-${String(data)}`.padEnd(3900, '.'));
    });
    a.on('message', (data: Buffer) => {
      a.send(`A1-${String(data)}`);
      for (let i = 0; i < 20; i++) (c as unknown as { _onSocketData(chunk: Buffer): void })._onSocketData(clientFrame(TEXT, `x${i}`));
      a.send(`A2-${String(data)}`);
    });
    rawA.write(Buffer.concat([clientFrame(TEXT, 'p'), clientFrame(TEXT, 'q')]));
    const fromA = [];
    for (let i = 0; i < 4; i++) fromA.push((await rawA.readFrame()).payload.toString());
    assert.deepEqual(fromA, ['A1-p', 'A2-p', 'A1-q', 'A2-q']);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 20; i++) assert.equal((await rawC.readFrame()).payload.toString(), `C-REPLY-x${i}`.padEnd(3900, '.'));
    }
  });
});
