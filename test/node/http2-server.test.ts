// WebSocketServer over HTTP/2 (RFC 8441): Node's own http2 client opens
// extended CONNECT streams by hand against an http2.createSecureServer with
// allowHTTP1 (so Node's compatibility layer is on), and reads the frames.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import http2 from 'node:http2';
import { describe, it, type TestContext } from 'node:test';
import zlib from 'node:zlib';
import { WebSocket, WebSocketServer, type WebSocketServerOptions } from '../../packages/switchboard/src/index.js';
import { encodeClosePayload, encodeFrame, Opcode } from '../../packages/switchboard/src/protocol/index.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { acceptedStream, extendedConnect, portOf, testSession } from '../helpers/h2.js';
import { HOST } from '../helpers/net.js';
import { selfSignedCert } from '../helpers/tls.js';

const T = { timeout: 30_000 };
const MASK = Buffer.from([0x12, 0x34, 0x56, 0x78]);

function masked(opcode: number, payload: Buffer | string, rsv1 = false): Buffer {
  return encodeFrame(Buffer.from(payload), { opcode, rsv1, maskKey: MASK });
}

interface H2Fixture {
  server: http2.Http2SecureServer;
  wss: WebSocketServer;
  port: number;
  connections: WebSocket[];
}

/** An HTTP/2 server with allowHTTP1 and a 'request' handler (the compatibility layer on), and a WebSocketServer on it that echoes. */
async function h2Server(t: TestContext, options: Partial<WebSocketServerOptions> = {}, settings: http2.Settings = {}): Promise<H2Fixture> {
  const { key, cert } = selfSignedCert();
  const server = http2.createSecureServer({ key, cert, allowHTTP1: true, settings: { initialWindowSize: 4 * 1024 * 1024, ...settings } }, (_req, res) => {
    res.end('page');
  });
  server.on('session', (session) => session.setLocalWindowSize(32 * 1024 * 1024));
  const wss = new WebSocketServer({ server, ...options });
  const connections: WebSocket[] = [];
  wss.on('connection', (ws: WebSocket) => {
    connections.push(ws);
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  server.listen(0, HOST);
  await onceEvent(server, 'listening');
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  t.after(async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, wss, port: portOf(server), connections };
}

describe('WebSocketServer over HTTP/2 (RFC 8441)', () => {
  it('advertises SETTINGS_ENABLE_CONNECT_PROTOCOL on a server created without it, and not with http2: false', T, async (t) => {
    const { port } = await h2Server(t);
    const session = await testSession(t, port);
    assert.equal(session.remoteSettings.enableConnectProtocol, true);

    const off = await h2Server(t, { http2: false });
    const plain = await testSession(t, off.port);
    assert.notEqual(plain.remoteSettings.enableConnectProtocol, true);
  });

  it('answers an extended CONNECT with 200 and echoes text and binary over the stream; HTTP/1.1 pages still served', T, async (t) => {
    const { port, wss } = await h2Server(t);
    const connection = onceEvent<[WebSocket, http2.Http2ServerRequest]>(wss, 'connection');
    const session = await testSession(t, port);
    const { stream, response, frames } = await extendedConnect(session, '/chat?room=1');
    assert.equal(response[':status'], 200);
    assert.equal(response['sec-websocket-accept'], undefined);
    const [ws, req] = await connection;
    assert.ok(ws instanceof WebSocket);
    assert.equal(req.url, '/chat?room=1');
    assert.equal(req.httpVersion, '2.0');
    stream.write(masked(Opcode.Text, 'hello over h2'));
    const text = await frames.next();
    assert.equal(text.opcode, Opcode.Text);
    assert.equal(text.payload.toString(), 'hello over h2');
    stream.write(masked(Opcode.Binary, Buffer.from([1, 2, 3])));
    const binary = await frames.next();
    assert.equal(binary.opcode, Opcode.Binary);
    assert.deepEqual([...binary.payload], [1, 2, 3]);
    // An ordinary request on the same session is still the page's.
    const page = session.request({ ':path': '/' });
    page.end();
    let body = '';
    page.on('data', (c: Buffer) => (body += c.toString()));
    await onceEvent(page, 'end');
    assert.equal(body, 'page');
    // And an HTTP/1.1 upgrade on the same port (allowHTTP1) gets the same 'connection'.
    const overHttp1 = new WebSocket(`wss://${HOST}:${port}/`, { rejectUnauthorized: false });
    const [ws1, req1] = await onceEvent<[WebSocket, { httpVersion: string }]>(wss, 'connection');
    assert.equal(req1.httpVersion, '1.1');
    await onceEvent(overHttp1, 'open');
    overHttp1.send('and over 1.1');
    assert.equal(String((await onceEvent<[Buffer]>(overHttp1, 'message'))[0]), 'and over 1.1');
    overHttp1.close();
    await onceEvent(ws1, 'close');
  });

  it('echoes 5 MiB both ways over one stream', T, async (t) => {
    const { port } = await h2Server(t);
    const session = await testSession(t, port);
    const { stream, frames } = await extendedConnect(session, '/');
    const big = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    stream.write(masked(Opcode.Binary, big));
    const echo = await frames.next(20_000);
    assert.equal(echo.payload.length, big.length);
    assert.ok(echo.payload.equals(big));
  });

  it('negotiates a subprotocol and permessage-deflate through ordinary headers, and inflates/deflates messages', T, async (t) => {
    const { port, wss } = await h2Server(t, { perMessageDeflate: { threshold: 0 }, handleProtocols: (p) => (p.has('chat') ? 'chat' : false) });
    const session = await testSession(t, port);
    const { stream, response, frames, serverSide: ws } = await acceptedStream<WebSocket>(wss, session, '/', {
      'sec-websocket-protocol': 'superchat, chat',
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
    });
    assert.equal(response[':status'], 200);
    assert.equal(response['sec-websocket-protocol'], 'chat');
    assert.match(String(response['sec-websocket-extensions']), /^permessage-deflate/);
    assert.equal(ws.protocol, 'chat');
    const text = 'compressible '.repeat(2000);
    const deflated = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    stream.write(masked(Opcode.Text, deflated.subarray(0, deflated.length - 4), true));
    const echo = await frames.next();
    assert.equal(echo.rsv1, true);
    const inflated = zlib.inflateRawSync(Buffer.concat([echo.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    assert.equal(inflated.toString(), text);
  });

  it('refuses with HTTP/2 statuses: verifyClient (403 with its message), a bad version (426), another path (400)', T, async (t) => {
    const { port } = await h2Server(t, {
      path: '/ws',
      verifyClient: (info, cb) => cb(info.req.headers['x-token'] === 'yes', 403, 'Forbidden token'),
    } as Partial<WebSocketServerOptions>);
    const session = await testSession(t, port);
    const refused = await extendedConnect(session, '/ws', { 'x-token': 'no' });
    assert.equal(refused.response[':status'], 403);
    let body = '';
    refused.stream.on('data', (c: Buffer) => (body += c.toString()));
    await onceEvent(refused.stream, 'close');
    assert.match(body, /Forbidden token/);
    const badVersion = await extendedConnect(session, '/ws', { 'x-token': 'yes', 'sec-websocket-version': '8' });
    assert.equal(badVersion.response[':status'], 426);
    assert.equal(badVersion.response['sec-websocket-version'], '13');
    const wrongPath = await extendedConnect(session, '/elsewhere', { 'x-token': 'yes' });
    assert.equal(wrongPath.response[':status'], 400);
    const accepted = await extendedConnect(session, '/ws', { 'x-token': 'yes' });
    assert.equal(accepted.response[':status'], 200);
    // The session survived every refusal.
    assert.equal(session.destroyed, false);
  });

  it('closes cleanly both ways: close frames, then END_STREAM from each side', T, async (t) => {
    const { port, wss } = await h2Server(t);
    const session = await testSession(t, port);

    // The client closes (as Chromium does: its Close frame and END_STREAM together).
    const first = await acceptedStream<WebSocket>(wss, session);
    const { serverSide } = first;
    const serverClosed = onceEvent<[number, Buffer]>(serverSide, 'close', 10_000);
    first.stream.end(masked(Opcode.Close, encodeClosePayload(1000, 'bye')));
    const answer = await first.frames.next();
    assert.equal(answer.opcode, Opcode.Close);
    assert.equal(answer.payload.readUInt16BE(0), 1000);
    const [code, reason] = await serverClosed;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'bye');
    await onceEvent(first.stream, 'close');
    assert.equal(first.stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);

    // The server closes: its Close frame, our answer, then its END_STREAM.
    const second = await acceptedStream<WebSocket>(wss, session);
    const serverSide2 = second.serverSide;
    const serverClosed2 = onceEvent<[number]>(serverSide2, 'close', 10_000);
    serverSide2.close(4000, 'done');
    const close = await second.frames.next();
    assert.equal(close.opcode, Opcode.Close);
    assert.equal(close.payload.readUInt16BE(0), 4000);
    second.stream.write(masked(Opcode.Close, encodeClosePayload(4000)));
    await onceEvent(second.stream, 'end', 10_000);
    second.stream.end();
    assert.equal((await serverClosed2)[0], 4000);
    assert.equal(serverSide2.readyState, WebSocket.CLOSED);
    assert.equal(session.destroyed, false);
  });

  it('maps resets: a client RST_STREAM closes the connection with 1006, terminate() resets with CANCEL, the session lives on', T, async (t) => {
    const { port, wss } = await h2Server(t);
    const session = await testSession(t, port);
    const first = await acceptedStream<WebSocket>(wss, session);
    const { serverSide } = first;
    const closed = onceEvent<[number]>(serverSide, 'close', 10_000);
    first.stream.close(http2.constants.NGHTTP2_CANCEL);
    assert.equal((await closed)[0], 1006);

    const second = await acceptedStream<WebSocket>(wss, session);
    const serverSide2 = second.serverSide;
    serverSide2.terminate();
    await withTimeout(onceEvent(second.stream, 'close'), 10_000, 'stream close');
    assert.equal(second.stream.rstCode, http2.constants.NGHTTP2_CANCEL);

    const third = await extendedConnect(session, '/');
    assert.equal(third.response[':status'], 200);
    assert.equal(session.destroyed, false);
  });

  it('applies maxPayload (1009) and shutdown() (1001) to HTTP/2 connections', T, async (t) => {
    const { port, wss } = await h2Server(t, { maxPayload: 1000 });
    const session = await testSession(t, port);
    const tooBig = await extendedConnect(session, '/');
    tooBig.stream.write(masked(Opcode.Binary, Buffer.alloc(2000)));
    const close = await tooBig.frames.next();
    assert.equal(close.opcode, Opcode.Close);
    assert.equal(close.payload.readUInt16BE(0), 1009);
    tooBig.stream.end(masked(Opcode.Close, encodeClosePayload(1009)));

    const open = await acceptedStream<WebSocket>(wss, session);
    const shutdown = wss.shutdown({ timeout: 5000 });
    const goingAway = await open.frames.next();
    assert.equal(goingAway.opcode, Opcode.Close);
    assert.equal(goingAway.payload.readUInt16BE(0), 1001);
    open.stream.end(masked(Opcode.Close, encodeClosePayload(1001)));
    await withTimeout(shutdown, 10_000, 'shutdown');
  });
});
