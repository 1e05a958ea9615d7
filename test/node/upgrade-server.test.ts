// The upgrade server that `WebSocketServer({ port })` listens with: the
// request it hands over against Node's own http server, and the handshake
// deadline's edges.
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createUpgradeServer } from '../../src/node/upgrade-server.js';
import { HOST, delay, withTimeout } from './helpers.js';

const T = { timeout: 15_000 };

interface Seen {
  method: string | undefined;
  url: string | undefined;
  httpVersion: string;
  headers: Record<string, unknown>;
  rawHeaders: string[];
}

/** Listens on loopback and resolves with the port; closed when the test ends. */
async function listen(t: TestContext, server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** Sends `head` to a server and resolves with the request its 'upgrade' event got. */
function upgradeRequestSeenBy(server: net.Server, port: number, head: string): Promise<Seen> {
  return withTimeout(
    new Promise<Seen>((resolve, reject) => {
      server.once('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
        resolve({ method: req.method, url: req.url, httpVersion: req.httpVersion, headers: { ...req.headers }, rawHeaders: req.rawHeaders });
        socket.destroy();
      });
      const client = net.connect({ host: HOST, port }, () => client.write(head));
      client.on('error', () => {});
      client.on('close', () => reject(new Error('closed before the upgrade')));
    }),
    5000,
    "the 'upgrade' event",
  );
}

describe('the upgrade server', () => {
  const heads: Array<[string, string]> = [
    ['a browser-like upgrade', 'GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'],
    ['repeated fields, each as Node joins or keeps them', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nCookie: c=1\r\ncookie: d=2\r\nX-A: 1\r\nx-a: 2\r\nUser-Agent: u1\r\nUser-Agent: u2\r\nSet-Cookie: s=1\r\nSet-Cookie: t=2\r\nAuthorization: one\r\nAuthorization: two\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
    ['names that Object.prototype has', 'GET / HTTP/1.1\r\nHost: a\r\nConstructor: c\r\ntoString: t\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n'],
    ['spaces and tabs around values, an empty value', 'GET / HTTP/1.1\r\nHost:   a \t\r\nX-Empty:\r\nX-Inner: a  b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
  ];
  for (const [what, head] of heads) {
    it(`hands over the request as Node's http server does: ${what}`, T, async (t) => {
      const nodeServer = http.createServer();
      const ours = createUpgradeServer(10_000);
      const nodeSeen = await upgradeRequestSeenBy(nodeServer, await listen(t, nodeServer), head);
      const oursSeen = await upgradeRequestSeenBy(ours, await listen(t, ours), head);
      assert.deepEqual(oursSeen, nodeSeen);
    });
  }

  it('handshakeTimeout 0 turns the deadline off', T, async (t) => {
    const server = createUpgradeServer(0);
    const port = await listen(t, server);
    const upgraded = new Promise<void>((resolve) => server.once('upgrade', (_req, socket: net.Socket) => (socket.destroy(), resolve())));
    const client = net.connect({ host: HOST, port });
    t.after(() => client.destroy());
    client.on('error', () => {});
    await new Promise((resolve) => client.once('connect', resolve));
    client.write('GET / HTTP/1.1\r\nHost: a\r\n');
    await delay(300);
    assert.equal(client.destroyed, false);
    client.write('Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    await withTimeout(upgraded, 3000, 'the upgrade');
  });

  it('forgets a connection that closes before its head at once: its socket can be collected before the deadline', T, async (t) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const server = createUpgradeServer(60_000);
    const port = await listen(t, server);
    const sockets: Array<WeakRef<net.Socket>> = [];
    const closed: Array<Promise<void>> = [];
    server.on('connection', (socket: net.Socket) => {
      sockets.push(new WeakRef(socket));
      closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
    });
    for (let i = 0; i < 20; i++) {
      const client = net.connect({ host: HOST, port });
      client.on('error', () => {});
      await new Promise((resolve) => client.once('connect', resolve));
      client.write('GET / HTTP/1.1\r\n');
      client.destroy();
    }
    await withTimeout(
      (async () => {
        while (closed.length < 20) await delay(10);
        await Promise.all(closed);
      })(),
      5000,
      'the server to see every connection close',
    );
    let alive = sockets.length;
    for (let attempt = 0; attempt < 20 && alive > 0; attempt++) {
      await delay(20);
      gc();
      alive = sockets.filter((ref) => ref.deref() !== undefined).length;
    }
    assert.equal(alive, 0, `${alive} of 20 closed sockets are still held`);
  });
});
