// Connections accepted by WebSocketServer({ port }) read into one shared
// buffer (src/node/shared-reads.ts) that the frame parser borrows from. These
// tests check that the fast path is taken where it should be, and that what
// it changes keeps its behaviour: data integrity when many connections read
// into the same buffer, pause/resume, connection counting, the connection limit.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from '../../packages/switchboard/src/index.js';
import { hasSharedReads, sharedReadBuffer } from '../../packages/switchboard/src/node/shared-reads.js';
import { simdMaskBuffer } from '../../packages/switchboard/src/protocol/index.js';
import { HOST, Inbox, WsClient, closed, connect, connectPair, delay, once, startServer, waitFor, withTimeout } from './helpers.js';

const T = { timeout: 30_000 };

function pattern(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >>> 10)) & 0xff;
  return out;
}

describe('shared reads', () => {
  it('WebSocketServer({ port }) connections read into the shared buffer; those of a server: option do not', T, async (t) => {
    const server = await startServer(t);
    const [, ws] = await connectPair(t, server);
    assert.equal(hasSharedReads(ws._socket!), true, 'port mode: shared reads');

    const httpServer = http.createServer();
    const wss = new WebSocketServer({ server: httpServer });
    await new Promise<void>((resolve) => httpServer.listen(0, HOST, resolve));
    t.after(() => new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      httpServer.close(() => resolve());
    }));
    const connection = once<[WebSocket]>(wss, 'connection');
    const client = await connect(t, `ws://${HOST}:${(httpServer.address() as AddressInfo).port}`);
    const [own] = await connection;
    assert.equal(hasSharedReads(own._socket!), false, 'server: option: the http server owns the socket');
    own.on('message', (data, isBinary) => own.send(data, { binary: isBinary }));
    const inbox = new Inbox(client);
    client.send('ordinary reads still work');
    assert.equal(String((await inbox.next(1))[0]!.data), 'ordinary reads still work');
  });

  it('the shared buffer is the WebAssembly memory where payloads are unmasked with SIMD', () => {
    assert.ok(simdMaskBuffer() !== null);
    assert.equal(sharedReadBuffer(), simdMaskBuffer());
  });

  it('a read takes up to 256 KiB: a 64 KiB message and its header fit in one, a 1 MiB message in four', () => {
    // At 64 KiB (Node's own read size) every 64 KiB message took two reads and its echo a
    // writev of its own (docs/performance.md, bench/echo-instructions.mjs --tool strace).
    assert.equal(sharedReadBuffer().length, 256 * 1024);
  });

  it('24 connections sending large and small messages at once all get their own bytes back', T, async (t) => {
    const server = await startServer(t, { maxPayload: 0 });
    server.wss.on('connection', (ws: WebSocket) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    const sizes = [0, 1, 125, 126, 65535, 65536, 200_000, 17, 1_100_000, 3];
    const clients = await Promise.all(Array.from({ length: 24 }, () => connect(t, server.url, undefined, { maxPayload: 0 })));
    const inboxes = clients.map((client) => new Inbox(client));
    const expected = clients.map((client, c) => {
      const sent = sizes.map((size, i) => (i % 3 === 2 ? Buffer.from(pattern(size, c * 100 + i).toString('base64').slice(0, size)) : pattern(size, c * 100 + i)));
      sent.forEach((data, i) => client.send(data, { binary: i % 3 !== 2 }));
      return sent;
    });
    for (let c = 0; c < clients.length; c++) {
      const got = await inboxes[c]!.next(sizes.length, 20_000);
      for (let i = 0; i < sizes.length; i++) {
        assert.equal(got[i]!.isBinary, i % 3 !== 2, `connection ${c} message ${i} type`);
        assert.ok(Buffer.from(got[i]!.data as Buffer).equals(expected[c]![i]!), `connection ${c} message ${i} (${sizes[i]} bytes) intact`);
      }
    }
  });

  it('messages kept by the server stay intact after the buffer was reused by other reads', T, async (t) => {
    const server = await startServer(t);
    const kept: Buffer[] = [];
    server.wss.on('connection', (ws: WebSocket) => ws.on('message', (data) => kept.push(data as Buffer)));
    const clients = await Promise.all(Array.from({ length: 4 }, () => connect(t, server.url)));
    const sent: Buffer[] = [];
    for (let round = 0; round < 50; round++) {
      clients.forEach((client, c) => {
        const data = pattern(40 + ((round * 7 + c) % 3000), round * 10 + c);
        sent.push(data);
        client.send(data);
      });
    }
    await waitFor(() => kept.length === sent.length, 10_000, 'every message');
    const key = (b: Buffer) => b.toString('base64');
    assert.deepEqual(kept.map(key).sort(), sent.map(key).sort());
  });

  it('pause() stops reading and delivery; resume() delivers what waited, in order', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const got: string[] = [];
    ws.on('message', (data) => got.push(String(data)));
    ws.pause();
    for (let i = 0; i < 100; i++) client.send(`m${i}`);
    await delay(200);
    assert.equal(got.length, 0, 'nothing delivered while paused');
    ws.resume();
    await waitFor(() => got.length === 100, 5000, '100 messages after resume');
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => `m${i}`));
  });

  it('the server counts these connections: getConnections, and close() waits for them', T, async (t) => {
    const server = await startServer(t);
    const tcp = (server.wss as unknown as { server: net.Server }).server ?? (server.wss as unknown as { _server: net.Server })._server;
    assert.ok(tcp instanceof net.Server);
    const [client] = await connectPair(t, server);
    const count = await new Promise<number>((resolve, reject) => tcp.getConnections((error, n) => (error ? reject(error) : resolve(n))));
    assert.equal(count, 1);
    let closedServer = false;
    server.wss.close(() => {
      closedServer = true;
    });
    await delay(100);
    assert.equal(closedServer, false, 'close() waits for the open connection');
    const done = closed(client);
    client.close(1000);
    await done;
    await waitFor(() => closedServer, 5000, 'the server closes once the connection is gone');
  });

  it('a connection over maxConnections is refused as net.Server refuses it', T, async (t) => {
    const server = await startServer(t);
    const tcp = (server.wss as unknown as { server: net.Server }).server ?? (server.wss as unknown as { _server: net.Server })._server;
    tcp.maxConnections = 1;
    await connectPair(t, server);
    const dropped = once(tcp, 'drop');
    const second = new WsClient(server.url);
    t.after(() => second.terminate());
    const failed = withTimeout(new Promise<void>((resolve) => second.once('error', () => resolve())), 5000, 'second connection fails');
    await dropped;
    await failed;
  });
});
