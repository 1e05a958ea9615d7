// The `ws` package (the de-facto Node client) talking to Switchboard's server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import WsClient from 'ws';
import { IMPL_NAME } from '../helpers/impl.js';
import { listen, listenEcho, type Listening } from '../helpers/server.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { MessageLog, describe as show, patternBytes, toBuffer } from '../helpers/messages.js';

const MiB = 1024 * 1024;
const clients = new Set<WsClient>();

/** A `ws` client, open. */
async function connect(url: string, protocols?: string | string[], options: WsClient.ClientOptions = {}): Promise<WsClient> {
  const c = new WsClient(url, protocols, options);
  clients.add(c);
  await onceEvent(c, 'open');
  return c;
}

/** A `ws` client whose handshake must be refused: resolves with the HTTP response. */
async function refused(url: string, options: WsClient.ClientOptions = {}): Promise<{ status: number; body: string }> {
  const c = new WsClient(url, options);
  clients.add(c);
  c.on('error', () => {});
  c.on('open', () => assert.fail(`handshake to ${url} was accepted, expected a refusal`));
  const [, res] = await onceEvent<[unknown, IncomingMessage]>(c, 'unexpected-response');
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (d: string) => (body += d));
  await withTimeout(new Promise((r) => res.on('end', r)), 5000, 'response body').catch(() => {});
  c.terminate();
  return { status: res.statusCode ?? 0, body };
}

function equalBytes(got: Buffer, want: Buffer, what: string): void {
  assert.equal(got.length, want.length, `${what}: length ${got.length}, expected ${want.length}`);
  assert.ok(got.equals(want), `${what}: content differs (got ${show(got)}, expected ${show(want)})`);
}

describe(`ws client -> ${IMPL_NAME} server`, { timeout: 120_000 }, () => {
  let echo: Listening;
  // What the server side of the echo server received, per connection.
  const serverLogs = new Map<unknown, MessageLog>();

  before(async () => {
    echo = await listenEcho();
    echo.wss.on('connection', (ws: any) => serverLogs.set(ws, new MessageLog(ws)));
  });

  /** A client of the echo server and the log of what the server side received from it. */
  async function echoClient(): Promise<[WsClient, MessageLog]> {
    const conn = echo.nextConnection();
    const c = await connect(`${echo.base}/`);
    const [ws] = await conn;
    return [c, serverLogs.get(ws)!];
  }
  after(async () => {
    for (const c of clients) c.terminate();
    await echo?.close();
  });

  /** Sends each message, checks what the server got and the echo the client got. */
  async function roundTrip(msgs: Array<{ data: Buffer | string; binary: boolean }>, ms = 10_000): Promise<void> {
    const [c, server] = await echoClient();
    const log = new MessageLog(c);
    for (const m of msgs) c.send(m.data, { binary: m.binary });
    const [atServer, echoed] = await Promise.all([server.next(msgs.length, ms), log.next(msgs.length, ms)]);
    msgs.forEach((m, i) => {
      const want = Buffer.from(m.data);
      assert.equal(atServer[i]!.isBinary, m.binary, `message ${i}: server saw isBinary=${atServer[i]!.isBinary}`);
      assert.ok(Buffer.isBuffer(server.raw[i]), `message ${i}: server 'message' data should be a Buffer (as in ws), got ${Object.prototype.toString.call(server.raw[i])}`);
      equalBytes(atServer[i]!.data, want, `message ${i} at the server`);
      assert.equal(echoed[i]!.isBinary, m.binary, `echo ${i}: client saw isBinary=${echoed[i]!.isBinary}`);
      equalBytes(echoed[i]!.data, want, `echo ${i} at the client`);
    });
    c.close(1000);
    await onceEvent(c, 'close');
  }

  test('text message (UTF-8)', () => roundTrip([{ data: 'héllo wörld ✓ 🎉 — Switchboard', binary: false }]));

  test('binary message', () => roundTrip([{ data: patternBytes(1000), binary: true }]));

  test('empty text and empty binary messages', () =>
    roundTrip([
      { data: '', binary: false },
      { data: Buffer.alloc(0), binary: true },
      { data: 'after empty', binary: false },
    ]));

  test('1 MiB text and 1 MiB binary', () =>
    roundTrip([
      { data: 'a'.repeat(MiB - 3) + '€', binary: false },
      { data: patternBytes(MiB, 7), binary: true },
    ]));

  test('16 MiB binary message', { timeout: 60_000 }, () => roundTrip([{ data: patternBytes(16 * MiB, 11), binary: true }], 45_000));

  test('200 mixed messages keep their order and type', () =>
    roundTrip(
      Array.from({ length: 200 }, (_, i) =>
        i % 3 === 0 ? { data: patternBytes(i * 37, i + 1), binary: true } : { data: `message #${i} ${'x'.repeat(i * 11)}`, binary: false },
      ),
    ));

  test('fragmented messages sent with fin:false are reassembled (with a ping in between)', async () => {
    const [c, server] = await echoClient();
    const log = new MessageLog(c);
    const pong = onceEvent<[Buffer]>(c, 'pong');
    c.send('Hello, ', { fin: false });
    c.ping('mid-message');
    c.send('fragmented ', { fin: false });
    c.send('world', { fin: true });
    c.send(Buffer.from([1, 2, 3]), { binary: true, fin: false });
    c.send(Buffer.from([]), { binary: true, fin: false });
    c.send(Buffer.from([4, 5]), { binary: true, fin: true });
    const [atServer, echoed] = await Promise.all([server.next(2), log.next(2)]);
    assert.equal(atServer.length, 2);
    assert.deepEqual(
      atServer.map((m) => [m.isBinary, m.data.toString('hex')]),
      [
        [false, Buffer.from('Hello, fragmented world').toString('hex')],
        [true, '0102030405'],
      ],
    );
    assert.deepEqual(
      echoed.map((m) => [m.isBinary, m.data.toString('hex')]),
      atServer.map((m) => [m.isBinary, m.data.toString('hex')]),
    );
    const [pongData] = await pong;
    assert.equal(toBuffer(pongData).toString(), 'mid-message');
    assert.equal(server.messages.length, 2, 'server delivered extra messages');
    c.close();
    await onceEvent(c, 'close');
  });

  test('client ping gets a pong with the same payload; server sees the ping', async () => {
    const l = await listen();
    try {
      const conn = l.nextConnection();
      const c = await connect(`${l.base}/`);
      const [ws] = await conn;
      const serverPing = onceEvent<[Buffer]>(ws, 'ping');
      const pong = onceEvent<[Buffer]>(c, 'pong');
      c.ping(Buffer.from('are you there?'));
      assert.equal(toBuffer((await pong)[0]).toString(), 'are you there?');
      assert.equal(toBuffer((await serverPing)[0]).toString(), 'are you there?');
      // empty ping
      const pong2 = onceEvent<[Buffer]>(c, 'pong');
      c.ping();
      assert.equal(toBuffer((await pong2)[0]).length, 0);
    } finally {
      await l.close();
    }
  });

  test('server ping is answered by the ws client; server gets the pong', async () => {
    const l = await listen();
    try {
      const conn = l.nextConnection();
      const c = await connect(`${l.base}/`);
      const [ws] = await conn;
      const clientPing = onceEvent<[Buffer]>(c, 'ping');
      const serverPong = onceEvent<[Buffer]>(ws, 'pong');
      ws.ping(Buffer.from('ping from server'));
      assert.equal(toBuffer((await clientPing)[0]).toString(), 'ping from server');
      assert.equal(toBuffer((await serverPong)[0]).toString(), 'ping from server');
    } finally {
      await l.close();
    }
  });

  test('client closes with code and reason: both sides see them', async () => {
    const l = await listen();
    try {
      const conn = l.nextConnection();
      const c = await connect(`${l.base}/`);
      const [ws] = await conn;
      const serverClose = onceEvent<[number, Buffer]>(ws, 'close');
      const clientClose = onceEvent<[number, Buffer]>(c, 'close');
      c.close(4001, 'client says bye');
      const [sCode, sReason] = await serverClose;
      const [cCode, cReason] = await clientClose;
      assert.equal(sCode, 4001);
      assert.ok(Buffer.isBuffer(sReason), 'server close reason should be a Buffer (as in ws)');
      assert.equal(sReason.toString(), 'client says bye');
      assert.equal(cCode, 4001, 'the server should echo the close code');
      assert.equal(cReason.toString(), 'client says bye', 'the server should echo the close reason (as ws does)');
      assert.equal(ws.readyState, 3);
      assert.equal(c.readyState, WsClient.CLOSED);
    } finally {
      await l.close();
    }
  });

  test('server closes with code and reason: both sides see them', async () => {
    const l = await listen();
    try {
      const conn = l.nextConnection();
      const c = await connect(`${l.base}/`);
      const [ws] = await conn;
      const serverClose = onceEvent<[number, Buffer]>(ws, 'close');
      const clientClose = onceEvent<[number, Buffer]>(c, 'close');
      ws.close(4002, 'server says bye');
      assert.equal(ws.readyState, 2, 'CLOSING right after close()');
      const [cCode, cReason] = await clientClose;
      const [sCode, sReason] = await serverClose;
      assert.equal(cCode, 4002);
      assert.equal(cReason.toString(), 'server says bye');
      assert.equal(sCode, 4002);
      assert.equal(sReason.toString(), 'server says bye');
      assert.equal(ws.readyState, 3);
    } finally {
      await l.close();
    }
  });

  test('client closes without a code: server sees 1005', async () => {
    const l = await listen();
    try {
      const conn = l.nextConnection();
      const c = await connect(`${l.base}/`);
      const [ws] = await conn;
      const serverClose = onceEvent<[number, Buffer]>(ws, 'close');
      c.close();
      const [code, reason] = await serverClose;
      assert.equal(code, 1005);
      assert.equal(reason.length, 0);
      const [cCode] = await onceEvent<[number]>(c, 'close');
      assert.equal(cCode, 1005);
    } finally {
      await l.close();
    }
  });

  test('subprotocols: handleProtocols picks one; both sides agree', async () => {
    let offered: string[] = [];
    const l = await listen({
      handleProtocols: (protocols: Set<string>) => {
        offered = [...protocols];
        return protocols.has('superchat') ? 'superchat' : false;
      },
    });
    try {
      const conn = l.nextConnection();
      const c = await connect(`${l.base}/`, ['chat', 'superchat']);
      const [ws] = await conn;
      assert.deepEqual(offered, ['chat', 'superchat'], 'handleProtocols should get the offered protocols as a Set, in order');
      assert.equal(c.protocol, 'superchat');
      assert.equal(ws.protocol, 'superchat');
    } finally {
      await l.close();
    }
  });

  test('subprotocols: without handleProtocols the first offered one is selected; none offered gives ""', async () => {
    const l = await listen();
    try {
      let conn = l.nextConnection();
      const c = await connect(`${l.base}/`, ['v2.proto', 'v1.proto']);
      let [ws] = await conn;
      assert.equal(c.protocol, 'v2.proto');
      assert.equal(ws.protocol, 'v2.proto');
      conn = l.nextConnection();
      const d = await connect(`${l.base}/`);
      [ws] = await conn;
      assert.equal(d.protocol, '');
      assert.equal(ws.protocol, '');
    } finally {
      await l.close();
    }
  });

  test('path option: matching path accepted (req.url kept), wrong path refused with 400', async () => {
    const l = await listen({ path: '/switchboard' });
    try {
      const conn = l.nextConnection();
      await connect(`${l.base}/switchboard?room=1`);
      const [, req] = await conn;
      assert.equal(req.url, '/switchboard?room=1');
      assert.equal(req.headers.upgrade?.toLowerCase(), 'websocket');
      const r = await refused(`${l.base}/elsewhere`);
      assert.equal(r.status, 400);
    } finally {
      await l.close();
    }
  });

  test('verifyClient: sync false -> 401; async cb(false, 401) -> 401 and a ws error event; async true -> accepted', async () => {
    const seen: Array<{ origin: unknown; secure: unknown; url: unknown }> = [];
    const sync = await listen({ verifyClient: () => false });
    const asyncSrv = await listen({
      verifyClient: (info: { origin: string; secure: boolean; req: IncomingMessage }, cb: (ok: boolean, code?: number, msg?: string) => void) => {
        seen.push({ origin: info.origin, secure: info.secure, url: info.req.url });
        setTimeout(() => (info.req.url === '/let-me-in' ? cb(true) : cb(false, 401, 'Unauthorized')), 10);
      },
    });
    try {
      assert.equal((await refused(`${sync.base}/`)).status, 401);
      assert.equal((await refused(`${asyncSrv.base}/nope`)).status, 401);

      // Without an 'unexpected-response' listener, ws reports an error and a close.
      const c = new WsClient(`${asyncSrv.base}/nope`, { origin: 'http://example.test' });
      clients.add(c);
      const closed = withTimeout(new Promise<number>((r) => c.once('close', r)), 5000, "ws 'close' after a refused handshake");
      const [err] = await onceEvent<[Error]>(c, 'error');
      assert.match(err.message, /Unexpected server response: 401/);
      assert.equal(await closed, 1006);

      const conn = asyncSrv.nextConnection();
      await connect(`${asyncSrv.base}/let-me-in`);
      await conn;
      assert.deepEqual(seen.at(-2), { origin: 'http://example.test', secure: false, url: '/nope' });
      assert.equal(seen.at(-1)?.url, '/let-me-in');
    } finally {
      await sync.close();
      await asyncSrv.close();
    }
  });
});
