// A Hub on an http2 server (RFC 8441): its members' WebSockets arrive as
// HTTP/2 streams (our client with http2: true) and as HTTP/1.1 upgrades on
// the same port, and talk to each other; another path gets 400.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, test } from 'node:test';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { Hub } from '../../packages/switchboard/src/hub/index.js';
import { closeHttp2Sessions } from '../../packages/switchboard/src/node/http2-client.js';
import { SUBPROTOCOL } from '../../packages/switchboard/src/wire/index.js';
import { onceEvent } from '../helpers/async.js';
import { portOf } from '../helpers/h2.js';
import { selfSignedCert } from '../helpers/tls.js';
import { HOST, RawClient } from './helpers.js';

describe('hub over HTTP/2', { timeout: 30_000 }, () => {
  test('members over HTTP/2 streams and over HTTP/1.1 share a room; other paths get 400', async () => {
    const { key, cert } = selfSignedCert();
    const server = http2.createSecureServer({ key, cert, allowHTTP1: true }, (_req, res) => res.end('page'));
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on('session', (s) => sessions.add(s));
    let connectStreams = 0;
    server.on('stream', (_stream, headers) => void (headers[':method'] === 'CONNECT' && connectStreams++));
    const hub = new Hub({ server, path: '/hub' });
    server.listen(0, HOST);
    await onceEvent(server, 'listening');
    const base = `wss://${HOST}:${portOf(server)}`;
    const options = { rejectUnauthorized: false, http2: true };
    const overH2 = new RawClient(await WebSocket.connect(`${base}/hub`, { ...options, protocols: [SUBPROTOCOL] }));
    const overH1 = new RawClient(await WebSocket.connect(`${base}/hub`, { rejectUnauthorized: false, protocols: [SUBPROTOCOL] }));
    for (const c of [overH2, overH1]) {
      c.send({ t: 'hello' });
      await c.next((m) => m.t === 'welcome');
    }
    assert.equal(hub.clients.size, 2);
    assert.equal(sessions.size, 1, 'one HTTP/2 session: the stream client');
    assert.equal(connectStreams, 1, 'one member came as an extended CONNECT stream');
    for (const c of [overH2, overH1]) assert.equal((await c.call({ t: 'join', room: 'r' }, 1)).t, 'ack');
    assert.equal((await overH2.call({ t: 'pub', room: 'r', ev: 'say', data: 'from h2' }, 2)).t, 'ack');
    const got = await overH1.next((m) => m.t === 'msg');
    assert.equal(got.data, 'from h2');
    await assert.rejects(
      WebSocket.connect(`${base}/elsewhere`, options),
      (e: Error & { code?: string }) => e.code === 'WS_ERR_UNEXPECTED_RESPONSE' && /400/.test(e.message),
    );
    await hub.close();
    assert.equal((await overH2.waitClosed()).code, 1001);
    assert.equal((await overH1.waitClosed()).code, 1001);
    closeHttp2Sessions();
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(r));
  });
});
