// TCP bridging (websocat's tcp-l: and tcp:): serve --tcp-connect HOST:PORT
// and connect URL --tcp-listen PORT, against real TCP servers and clients on
// 127.0.0.1: bytes both ways as binary messages, backpressure that stops
// reading instead of buffering, and closes carried from one side to the other.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { onceEvent } from '../helpers/async.js';
import { assertBuilt, spawnCli, startServe, stopAll, until } from './helpers.js';

const T = { timeout: 60_000 };
const MiB = 1024 * 1024;

/** A TCP server on 127.0.0.1; `onSocket` decides what it does with each connection. */
async function tcpServer(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    sockets.push(socket);
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await onceEvent(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

/** Echoes every byte; ends its side after the client's FIN. */
const echo = (socket: Socket): void => void socket.pipe(socket);

async function wsClient(url: string): Promise<{ ws: WebSocket; received: Buffer[]; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url);
  const received: Buffer[] = [];
  ws.on('message', (data: Buffer, isBinary) => {
    assert.equal(isBinary, true, 'TCP bytes arrive as binary messages');
    received.push(data);
  });
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await onceEvent(ws, 'open');
  return { ws, received, closed };
}

const total = (chunks: Buffer[]): number => chunks.reduce((n, c) => n + c.length, 0);
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('TCP bridging', { timeout: 180_000 }, () => {
  const servers: Server[] = [];
  before(assertBuilt);
  after(async () => {
    await stopAll();
    for (const server of servers) server.close();
  });

  test('serve --tcp-connect: binary and text messages reach a TCP echo server and come back as binary; closes carry over both ways', T, async () => {
    const tcp = await tcpServer(echo);
    servers.push(tcp.server);
    const served = await startServe(['--tcp-connect', `127.0.0.1:${tcp.port}`, '--quiet']);

    const a = await wsClient(served.url);
    a.ws.send(Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x01]));
    a.ws.send('héllo');
    await until(() => total(a.received) === 5 + 6, 'the echoed bytes');
    assert.deepEqual(Buffer.concat(a.received), Buffer.concat([Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x01]), Buffer.from('héllo')]));
    // The client closes: the TCP server sees the end of its stream (FIN), not a reset.
    const ended = onceEvent(tcp.sockets[0]!, 'end');
    a.ws.close(1000);
    await ended;
    assert.equal((await a.closed).code, 1000);

    // The TCP server ends its side: the WebSocket is closed with 1000.
    const b = await wsClient(served.url);
    await until(() => tcp.sockets.length === 2, 'the second TCP connection');
    tcp.sockets[1]!.end('bye');
    assert.deepEqual(await b.closed, { code: 1000, reason: '' });
    assert.equal(Buffer.concat(b.received).toString(), 'bye', 'what came before the FIN is delivered first');
  });

  test('serve --tcp-connect to a port nobody listens on closes with 1014 (bad gateway)', T, async () => {
    const tcp = await tcpServer(echo);
    const port = tcp.port;
    tcp.server.close();
    await onceEvent(tcp.server, 'close');
    const served = await startServe(['--tcp-connect', `127.0.0.1:${port}`, '--quiet']);
    const c = await wsClient(served.url);
    assert.deepEqual(await c.closed, { code: 1014, reason: 'cannot reach the TCP server: ECONNREFUSED' });
  });

  test('serve --tcp-connect: a TCP server that does not read stops the bridge reading the WebSocket (backpressure), and nothing is lost', T, async () => {
    let paused!: Socket;
    const chunks: Buffer[] = [];
    const tcp = await tcpServer((socket) => {
      paused = socket;
      socket.pause();
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    });
    servers.push(tcp.server);
    const served = await startServe(['--tcp-connect', `127.0.0.1:${tcp.port}`, '--quiet']);
    const client = await wsClient(served.url);
    const payload = randomBytes(64 * MiB);
    for (let i = 0; i < payload.length; i += MiB) client.ws.send(payload.subarray(i, i + MiB));
    // Wait until the client's send buffer stops draining (the same for 300 ms).
    for (let last = -1, i = 0; client.ws.bufferedAmount !== last; i++) {
      assert.ok(i < 100, 'the client\'s buffer kept changing for 30 s');
      last = client.ws.bufferedAmount;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    // Kernel buffers on both hops and the bridge's 1 MiB high-water mark hold some; most stays with the sender.
    assert.ok(client.ws.bufferedAmount > 24 * MiB, `the bridge read ${64 - client.ws.bufferedAmount / MiB} MiB of 64 without being able to write it`);
    paused.resume();
    await until(() => total(chunks) === payload.length, 'all 64 MiB at the TCP server', 30_000);
    assert.equal(sha(Buffer.concat(chunks)), sha(payload));
    client.ws.close();
  });

  test('connect --tcp-listen: each TCP connection gets its own WebSocket; bytes both ways; FIN closes with 1000; the server\'s close ends the TCP stream', T, async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await onceEvent(wss, 'listening');
    const seen: Array<{ isBinary: boolean; data: Buffer }> = [];
    const closes: number[] = [];
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer, isBinary) => {
        seen.push({ isBinary, data });
        if (String(data) === 'quit') ws.close(1000);
        else ws.send(Buffer.concat([Buffer.from('re:'), data]));
      });
      ws.on('close', (code) => closes.push(code));
    });
    try {
      const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
      const child = spawnCli(['connect', url, '--tcp-listen', '0']);
      const [, port] = await child.waitForLine(/^listening on tcp:\/\/127\.0\.0\.1:(\d+)$/);

      const tcp = netConnect(Number(port), '127.0.0.1');
      tcp.on('error', () => {});
      const got: Buffer[] = [];
      tcp.on('data', (chunk: Buffer) => got.push(chunk));
      await onceEvent(tcp, 'connect');
      tcp.write(Buffer.from([0xff, 0x00, 0x7f]));
      await until(() => total(got) === 6, 'the reply over TCP');
      assert.deepEqual(Buffer.concat(got), Buffer.from([0x72, 0x65, 0x3a, 0xff, 0x00, 0x7f]));
      assert.deepEqual(seen.map((m) => m.isBinary), [true], 'TCP bytes go out as binary messages');
      const ended = onceEvent(tcp, 'end');
      tcp.end();
      await ended;
      await until(() => closes.length === 1, 'the WebSocket to close');
      assert.deepEqual(closes, [1000]);

      // Two at once are two WebSockets; the server's close ends that TCP stream only.
      const one = netConnect(Number(port), '127.0.0.1');
      const two = netConnect(Number(port), '127.0.0.1');
      for (const s of [one, two]) s.on('error', () => {});
      await Promise.all([onceEvent(one, 'connect'), onceEvent(two, 'connect')]);
      await until(() => wss.clients.size === 2, 'two WebSockets');
      const oneEnded = onceEvent(one, 'end');
      one.write('quit');
      await oneEnded;
      assert.equal(two.destroyed, false);
      await until(() => wss.clients.size === 1, 'the other WebSocket to stay');
      const twoEnded = onceEvent(two, 'end');
      const exit = await child.stop('SIGTERM');
      await twoEnded;
      assert.equal(exit.code, 0, child.describe());
      assert.match(child.stderr, /#1 tcp 127\.0\.0\.1:\d+ bridged to ws:\/\/127\.0\.0\.1:\d+\//);
    } finally {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    }
  });
});
