// The upgrade server that `WebSocketServer({ port })` listens with: the
// request it hands over against Node's own http server, and the handshake
// deadline's edges.
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createUpgradeServer } from '../../packages/switchboard/src/node/upgrade-server.js';
import { HOST, delay, rawRequest, upgradeRequest, withTimeout } from './helpers.js';

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

  describe('request head limits: 431 Request Header Fields Too Large', () => {
    /** A valid upgrade request padded to `bytes` with one long header. */
    function paddedRequest(bytes: number): string {
      const base = upgradeRequest('/', { 'X-Pad': '' });
      return upgradeRequest('/', { 'X-Pad': 'a'.repeat(bytes - base.length) });
    }

    async function answerTo(t: TestContext, request: string): Promise<string> {
      const server = createUpgradeServer(10_000);
      let upgrades = 0;
      server.on('upgrade', (_req, socket: net.Socket) => {
        upgrades++;
        socket.destroy();
      });
      const { head, raw } = await rawRequest(t, await listen(t, server), request);
      await raw.waitClosed();
      assert.equal(upgrades, 0);
      return head.statusLine;
    }

    for (const kib of [17, 32, 60]) {
      it(`a ${kib} KiB head written at once`, T, async (t) => {
        assert.equal(await answerTo(t, paddedRequest(kib * 1024)), 'HTTP/1.1 431 Request Header Fields Too Large');
      });
    }

    it('a head of exactly 16 KiB is handed over; one byte more is refused, whole or in pieces', T, async (t) => {
      const server = createUpgradeServer(10_000);
      const port = await listen(t, server);
      const seen = await upgradeRequestSeenBy(server, port, paddedRequest(16 * 1024));
      assert.equal((seen.headers['x-pad'] as string).length > 16_000, true);
      assert.equal(await answerTo(t, paddedRequest(16 * 1024 + 1)), 'HTTP/1.1 431 Request Header Fields Too Large');
    });

    it('thousands of header fields in a head under 16 KiB', T, async (t) => {
      const fields: Record<string, string> = {};
      for (let i = 0; i < 2000; i++) fields[i.toString(36)] = '';
      const request = upgradeRequest('/', fields);
      assert.ok(request.length < 16 * 1024);
      assert.equal(await answerTo(t, request), 'HTTP/1.1 431 Request Header Fields Too Large');
    });

    it('128 fields are accepted, 129 are not', T, async (t) => {
      const fields = (count: number): Record<string, string> => {
        const extra: Record<string, string> = {};
        // upgradeRequest adds five fields of its own.
        for (let i = 0; i < count - 5; i++) extra[`x${i}`] = '1';
        return extra;
      };
      const server = createUpgradeServer(10_000);
      const seen = await upgradeRequestSeenBy(server, await listen(t, server), upgradeRequest('/', fields(128)));
      assert.equal(seen.rawHeaders.length, 256);
      assert.equal(await answerTo(t, upgradeRequest('/', fields(129))), 'HTTP/1.1 431 Request Header Fields Too Large');
    });
  });
});
