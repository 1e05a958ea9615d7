// The ways a Hub gets its connections: a WebSocketServer, an http server on a
// path (other paths and other upgrade listeners left alone), its own port;
// and hub.close().
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { WebSocket, WebSocketServer } from '../../packages/switchboard/src/index.js';
import { Hub } from '../../packages/switchboard/src/hub/index.js';
import { RawClient, HOST } from './helpers.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { RawClient as TcpClient } from '../helpers/net.js';
import { SUBPROTOCOL } from '../../packages/switchboard/src/wire/index.js';

describe('hub: attaching', { timeout: 30_000 }, () => {
  test('to a WebSocketServer, only for its path when given one', async () => {
    const wss = new WebSocketServer({ port: 0, host: HOST });
    await onceEvent(wss, 'listening');
    const hub = new Hub({ server: wss, path: '/hub' });
    const other: string[] = [];
    wss.on('connection', (ws: WebSocket, req: http.IncomingMessage) => {
      if (!req.url!.startsWith('/hub')) other.push(req.url!);
    });
    const base = `ws://${HOST}:${(wss.address() as AddressInfo).port}`;
    const c = await RawClient.open(`${base}/hub?x=1`);
    assert.equal(hub.clients.size, 1);
    const plain = await WebSocket.connect(`${base}/elsewhere`);
    assert.deepEqual(other, ['/elsewhere']);
    assert.equal(hub.clients.size, 1);
    await hub.close();
    assert.equal((await c.waitClosed()).code, 1001);
    plain.terminate();
    await new Promise((r) => wss.close(r));
  });

  test('to an http server: its path; other paths get 400 unless someone else handles upgrades', async () => {
    const server = http.createServer();
    const hub = new Hub({ server, path: '/rt' });
    server.listen(0, HOST);
    await onceEvent(server, 'listening');
    const base = `ws://${HOST}:${(server.address() as AddressInfo).port}`;
    const c = await RawClient.open(`${base}/rt`);
    await assert.rejects(WebSocket.connect(`${base}/nope`), (e: Error & { code?: string }) => e.code === 'WS_ERR_UNEXPECTED_RESPONSE');
    // With another upgrade listener, the hub leaves foreign paths to it.
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/other') wss.handleUpgrade(req, socket, head, (ws) => ws.send('other'));
    });
    const o = await WebSocket.connect(`${base}/other`);
    const [data] = await onceEvent<[Buffer]>(o, 'message');
    assert.equal(data.toString(), 'other');
    o.terminate();
    c.ws.close();
    await hub.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('on a port of its own (path /hub by default)', async () => {
    const hub = new Hub({ port: 0, host: HOST });
    await onceEvent(hub, 'listening');
    const c = await RawClient.open(`ws://${HOST}:${(hub.wss!.address() as AddressInfo).port}/hub`);
    assert.equal(c.received[0].t, 'welcome');
    await hub.close();
    assert.equal((await c.waitClosed()).code, 1001);
  });

  test('hub.close(): 1001 to every client; a peer that never answers the close is cut after 2 s, not waited for', async () => {
    const hub = new Hub({ port: 0, host: HOST });
    await onceEvent(hub, 'listening');
    const port = (hub.wss!.address() as AddressInfo).port;
    const polite = await RawClient.open(`ws://${HOST}:${port}/hub`);
    // A peer that completes the handshake and then reads nothing and answers nothing.
    const mute = await TcpClient.connect(port);
    mute.write(
      `GET /hub HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${SUBPROTOCOL}\r\n\r\n`,
    );
    assert.match((await mute.readHttpHead()).toString('latin1'), /^HTTP\/1\.1 101 /);
    while (hub.wss!.clients.size < 2) await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    await withTimeout(hub.close(), 6000, 'hub.close()');
    const took = Date.now() - started;
    assert.equal((await polite.waitClosed()).code, 1001);
    const rest = await mute.readToEnd(1000);
    assert.ok(rest.includes(Buffer.from('hub closing')), 'the mute peer got the close frame');
    assert.ok(took >= 1500, `hub.close() resolved after ${took} ms, before the mute peer was cut`);
  });

  test('the built package: require() and import of switchboard/hub and switchboard/client', async () => {
    const require = createRequire(import.meta.url);
    const cjsHub = require('switchboard/hub');
    const cjsClient = require('switchboard/client');
    assert.equal(typeof cjsHub.Hub, 'function');
    assert.equal(typeof cjsClient.HubClient, 'function');
    const esmHub = await import('switchboard/hub');
    const esmClient = await import('switchboard/client');
    assert.equal(typeof esmHub.Hub, 'function');
    assert.equal(typeof esmClient.connect, 'function');
    assert.equal(esmClient.SUBPROTOCOL, esmHub.SUBPROTOCOL);
  });
});
