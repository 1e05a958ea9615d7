// hub.broadcast: an event to every connection; hub.emit of an application
// event throws instead of reaching nobody; two hubs on one http server: a
// path neither serves is answered 400, once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Hub } from '../../packages/switchboard/src/hub/index.js';
import { HOST, RawClient, startHub } from './helpers.js';

describe('hub: broadcast to every connection', { timeout: 30_000 }, () => {
  test('hub.broadcast reaches every open connection, binary too; except leaves some out', async () => {
    const t = await startHub();
    try {
      const clients = await Promise.all([1, 2, 3].map(() => RawClient.open(t.url)));
      await t.hub.broadcast('news', { n: 1 });
      for (const c of clients) assert.deepEqual((await c.next((m) => m.t === 'emit' && m.ev === 'news')).data, { n: 1 });
      await t.hub.broadcast('bytes', new Uint8Array([0, 1, 255]), { except: [clients[0]!.id] });
      for (const c of clients.slice(1)) {
        const m = await c.next((x) => x.t === 'emit' && x.ev === 'bytes');
        assert.equal(m.bin, 1);
        assert.equal(m.data, 'AAH/');
      }
      await t.hub.broadcast('last', null);
      await clients[0]!.next((m) => m.ev === 'last');
      assert.equal(clients[0]!.received.filter((m) => m.ev === 'bytes').length, 0, 'left out by except');
      assert.throws(() => t.hub.broadcast('connect', 1), TypeError, 'reserved names are refused');
      for (const c of clients) c.ws.close();
    } finally {
      await t.close();
    }
  });

  test('hub.emit of an application event throws, naming hub.broadcast; the hub events still work', async () => {
    const t = await startHub();
    try {
      assert.throws(() => (t.hub.emit as (event: string, data: unknown) => boolean)('news', 1), /hub\.broadcast/);
      let seen = false;
      t.hub.on('connection', () => (seen = true));
      assert.equal(t.hub.emit('connection', {}), true);
      assert.ok(seen);
    } finally {
      await t.close();
    }
  });

  test('two hubs on one http server: each serves its path; another path gets one 400 answer', async () => {
    const server = http.createServer();
    const a = new Hub({ server, path: '/a' });
    const b = new Hub({ server, path: '/b' });
    server.listen(0, HOST);
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const ca = await RawClient.open(`ws://${HOST}:${port}/a`);
      const cb = await RawClient.open(`ws://${HOST}:${port}/b`);
      assert.equal(a.clients.size, 1);
      assert.equal(b.clients.size, 1);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, HOST, () => {
          socket.write(
            'GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
          );
        });
        let text = '';
        socket.setEncoding('latin1');
        socket.on('data', (d: string) => (text += d));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
        setTimeout(() => {
          socket.destroy();
          resolve(text);
        }, 3000);
      });
      assert.match(answer, /^HTTP\/1\.1 400 /, `answered: ${JSON.stringify(answer.slice(0, 80))}`);
      assert.equal(answer.split('HTTP/1.1').length - 1, 1, 'answered once');
      ca.ws.close();
      cb.ws.close();
    } finally {
      await a.close();
      await b.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
