// The client's `http2: true`: WebSockets as streams of one shared HTTP/2
// session per origin (RFC 8441), and the fall back to HTTP/1.1 when the
// server does not offer it (no setting, or no h2 at all).
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import http2 from 'node:http2';
import https from 'node:https';
import { after, describe, it, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer, type WebSocketServerOptions } from '../../packages/switchboard/src/index.js';
import { closeHttp2Sessions } from '../../packages/switchboard/src/node/http2-client.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { portOf } from '../helpers/h2.js';
import { HOST } from '../helpers/net.js';
import { selfSignedCert } from '../helpers/tls.js';

const T = { timeout: 30_000 };
after(() => closeHttp2Sessions());

interface Counted {
  port: number;
  wss: WebSocketServer;
  sessions: () => number;
  httpVersions: string[];
  tlsFailures: () => number;
}

/** An echoing WebSocketServer on an http2 server (allowHTTP1) or an https one, counting HTTP/2 sessions and the version of each connection. */
async function server(t: TestContext, kind: 'http2' | 'https', options: Partial<WebSocketServerOptions> = {}): Promise<Counted> {
  const { key, cert } = selfSignedCert();
  const http = kind === 'http2' ? http2.createSecureServer({ key, cert, allowHTTP1: true }) : https.createServer({ key, cert });
  let sessions = 0;
  const open = new Set<http2.ServerHttp2Session>();
  http.on('session', (s: http2.ServerHttp2Session) => {
    sessions++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  let tlsFailures = 0;
  http.on('tlsClientError', () => tlsFailures++);
  const wss = new WebSocketServer({ server: http, ...options });
  const httpVersions: string[] = [];
  wss.on('connection', (ws: WebSocket, req: { httpVersion: string }) => {
    httpVersions.push(req.httpVersion);
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  http.listen(0, HOST);
  await onceEvent(http, 'listening');
  t.after(async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    for (const s of open) s.destroy();
    (http as https.Server).closeAllConnections?.();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return { port: portOf(http), wss, sessions: () => sessions, httpVersions, tlsFailures: () => tlsFailures };
}

async function echo(ws: WebSocket, data: string | Buffer): Promise<Buffer> {
  const reply = onceEvent<[Buffer]>(ws, 'message', 20_000);
  ws.send(data);
  return (await reply)[0];
}

describe('WebSocket client with http2: true', () => {
  it('opens several WebSockets as streams of one HTTP/2 session, with permessage-deflate, and echoes text and 3 MiB', T, async (t) => {
    const { port, sessions, httpVersions, wss } = await server(t, 'http2', { perMessageDeflate: true });
    const url = `wss://${HOST}:${port}/`;
    const sockets = await Promise.all([1, 2, 3].map(() => WebSocket.connect(url, { http2: true, rejectUnauthorized: false })));
    t.after(() => sockets.forEach((ws) => ws.terminate()));
    assert.deepEqual(httpVersions, ['2.0', '2.0', '2.0']);
    assert.equal(sessions(), 1);
    assert.match(sockets[0]!.extensions, /permessage-deflate/);
    assert.equal(String(await echo(sockets[0]!, 'hello')), 'hello');
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    big.writeUInt32BE(123456, 1000);
    assert.ok((await echo(sockets[1]!, big)).equals(big));
    // A clean close from the client: the server sees 1000 and the other streams go on.
    const [serverSide] = [...wss.clients];
    const closed = onceEvent<[number]>(sockets[2]!, 'close', 10_000);
    sockets[2]!.close(1000);
    assert.equal((await closed)[0], 1000);
    assert.equal(String(await echo(sockets[0]!, 'still here')), 'still here');
    assert.ok(serverSide);
  });

  it('falls back to HTTP/1.1 when the server does not advertise the setting (http2: false)', T, async (t) => {
    const { port, httpVersions, sessions } = await server(t, 'http2', { http2: false });
    const ws = await WebSocket.connect(`wss://${HOST}:${port}/`, { http2: true, rejectUnauthorized: false });
    t.after(() => ws.terminate());
    assert.deepEqual(httpVersions, ['1.1']);
    // HTTP/2 was tried first: a session was opened, its SETTINGS read.
    assert.equal(sessions(), 1);
    assert.equal(String(await echo(ws, 'via 1.1')), 'via 1.1');
  });

  it('falls back to HTTP/1.1 against a plain https server (no h2 in ALPN)', T, async (t) => {
    const { port, httpVersions, tlsFailures } = await server(t, 'https');
    const ws = await WebSocket.connect(`wss://${HOST}:${port}/`, { http2: true, rejectUnauthorized: false });
    t.after(() => ws.terminate());
    assert.deepEqual(httpVersions, ['1.1']);
    // HTTP/2 was tried first: the server refused its ALPN.
    assert.equal(tlsFailures(), 1);
    assert.equal(String(await echo(ws, 'plain')), 'plain');
  });

  it('reports a refused stream handshake with the HTTP/2 status, and a server close reaches the client', T, async (t) => {
    const { port, wss, httpVersions } = await server(t, 'http2', { verifyClient: (info: { req: { url?: string } }) => info.req.url !== '/no' } as Partial<WebSocketServerOptions>);
    const refused = new WebSocket(`wss://${HOST}:${port}/no`, { http2: true, rejectUnauthorized: false });
    const [error] = await onceEvent<[Error & { code?: string }]>(refused, 'error', 10_000);
    assert.equal(error.code, 'WS_ERR_UNEXPECTED_RESPONSE');
    assert.match(error.message, /401/);
    const ws = await WebSocket.connect(`wss://${HOST}:${port}/yes`, { http2: true, rejectUnauthorized: false });
    assert.deepEqual(httpVersions, ['2.0']);
    const closed = onceEvent<[number, Buffer]>(ws, 'close', 10_000);
    for (const client of wss.clients) client.close(4001, 'bye');
    const [code, reason] = await withTimeout(closed, 10_000, 'close');
    assert.equal(code, 4001);
    assert.equal(reason.toString(), 'bye');
  });
});
