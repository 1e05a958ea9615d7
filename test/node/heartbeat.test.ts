// The server's heartbeat option: silent connections are pinged, those that
// answer stay, those that do not are terminated, busy ones are left alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from '../../packages/switchboard/src/index.js';
import { RawClient, connectPair, delay, once, startServer, waitFor } from './helpers.js';

const T = { timeout: 15_000 };
const heartbeat = { interval: 100, timeout: 100 };

describe('heartbeat', () => {
  it('a client that answers pings stays open (and is pinged)', T, async (t) => {
    const server = await startServer(t, { heartbeat });
    const [client, ws] = await connectPair(t, server);
    let pings = 0;
    client.on('ping', () => pings++);
    let serverPongs = 0;
    ws.on('pong', () => serverPongs++);
    await delay(1000);
    assert.equal(client.readyState, WebSocket.OPEN);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.ok(pings >= 3, `only ${pings} ping(s) in 1 s`);
    assert.ok(serverPongs >= 3, `only ${serverPongs} pong(s) in 1 s`);
  });

  it('a client that never answers is terminated (1006) within about a second', T, async (t) => {
    const server = await startServer(t, { heartbeat });
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const start = Date.now();
    const [code] = await once<[number, Buffer]>(ws, 'close', 1500);
    const elapsed = Date.now() - start;
    assert.equal(code, 1006);
    assert.ok(elapsed >= 150, `terminated after only ${elapsed} ms`);
    // It was pinged first.
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x9);
    await raw.waitClosed(1000);
    assert.equal(server.wss.clients.size, 0);
  });

  it('a connection that keeps sending data is not pinged', T, async (t) => {
    // Some time without any heartbeat running first, as when a server is
    // created a while after the library was loaded.
    await delay(300);
    const server = await startServer(t, { heartbeat });
    const [client, ws] = await connectPair(t, server);
    let pings = 0;
    client.on('ping', () => pings++);
    let received = 0;
    ws.on('message', () => received++);
    const timer = setInterval(() => client.send('busy'), 20);
    t.after(() => clearInterval(timer));
    await delay(800);
    clearInterval(timer);
    assert.ok(received >= 20, `only ${received} messages arrived`);
    assert.equal(pings, 0);
    assert.equal(ws.readyState, WebSocket.OPEN);
    // Once it goes quiet, it is pinged.
    await waitFor(() => pings > 0, 2000, 'a ping after the connection went quiet');
  });

  it('stops with close(): no more pings afterwards', T, async (t) => {
    const server = await startServer(t, { heartbeat });
    const [client] = await connectPair(t, server);
    let pings = 0;
    client.on('ping', () => pings++);
    await waitFor(() => pings > 0, 2000, 'a first ping');
    server.wss.close();
    await delay(50);
    const before = pings;
    await delay(400);
    assert.equal(pings, before);
    assert.equal(client.readyState, WebSocket.OPEN);
  });

  it('rejects bad options', T, () => {
    assert.throws(() => new WebSocketServer({ noServer: true, clientTracking: false, heartbeat }), TypeError);
    assert.throws(() => new WebSocketServer({ noServer: true, heartbeat: { interval: 0, timeout: 100 } }), RangeError);
    assert.throws(() => new WebSocketServer({ noServer: true, heartbeat: { interval: 100, timeout: -1 } }), RangeError);
  });
});
