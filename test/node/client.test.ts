// Switchboard's client: `new WebSocket(url, protocols?, options?)`, with ws's
// client API and the browser's standard WebSocket API on the same object.
//
// Servers are Switchboard's own WebSocketServer (test/helpers/server.ts), plain
// node:http/https servers sharing one, and raw node:net servers that speak the
// handshake by hand, to produce answers no real server would give.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Blob } from 'node:buffer';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocket, WebSocketError, WebSocketServer } from '../../packages/switchboard/src/index.js';
import { computeAcceptKey } from '../../packages/switchboard/src/protocol/index.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { MessageLog, patternBytes, toBuffer } from '../helpers/messages.js';
import { HOST, RawClient } from '../helpers/net.js';
import { listen, listenEcho, type Listening } from '../helpers/server.js';

type Client = InstanceType<typeof WebSocket>;
type ErrorWithCode = Error & { code?: string; response?: http.IncomingMessage };

const noop = (): void => {};
const clients = new Set<Client>();
const cleanups: Array<() => unknown> = [];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-client-'));

after(async () => {
  for (const c of clients) c.terminate();
  for (const f of cleanups.reverse()) await withTimeout(Promise.resolve(f()), 5000, 'cleanup').catch(noop);
  rmSync(tmp, { recursive: true, force: true });
});

/** A client that the after hook terminates. */
function client(...args: ConstructorParameters<typeof WebSocket>): Client {
  const ws = new WebSocket(...args);
  clients.add(ws);
  return ws;
}

/** An open client. */
async function open(...args: ConstructorParameters<typeof WebSocket>): Promise<Client> {
  const ws = client(...args);
  await onceEvent(ws, 'open');
  return ws;
}

/** The arguments of the next `event`, bounded; unlike onceEvent, an 'error' before it does not reject. */
function nextEvent<A extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, ms = 5000): Promise<A> {
  return withTimeout(new Promise<A>((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as A))), ms, `waiting for '${event}'`);
}

/** A connection that must fail before it opens: its 'error' and the 'close' code that follows. */
async function failure(ws: Client, ms = 5000): Promise<{ error: ErrorWithCode; code: number; reason: string }> {
  ws.on('open', () => ws.emit('error', new Error('the connection opened; expected it to fail')));
  const errorP = nextEvent<[ErrorWithCode]>(ws, 'error', ms);
  const closeP = nextEvent<[number, Buffer]>(ws, 'close', ms);
  const [error] = await errorP;
  const [code, reason] = await closeP;
  return { error, code, reason: reason.toString() };
}

/** ws's SyntaxError for a bad URL or subprotocol; its name is also the one the WHATWG DOMException has. */
function isSyntaxError(e: unknown): boolean {
  assert.ok(e instanceof SyntaxError, `expected a SyntaxError, got ${String(e)}`);
  assert.equal(e.name, 'SyntaxError');
  return true;
}

function isDOMException(name: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof DOMException, `expected a DOMException, got ${String(e)}`);
    assert.equal(e.name, name, `DOMException name (message: ${e.message})`);
    return true;
  };
}

async function echoServer(): Promise<Listening> {
  const l = await listenEcho();
  cleanups.push(() => l.close());
  return l;
}

async function plainServer(options: Record<string, unknown> = {}): Promise<Listening> {
  const l = await listen(options);
  cleanups.push(() => l.close());
  return l;
}

// ---- raw servers -------------------------------------------------------------

/** The server side of a raw TCP connection, with the helpers' buffered reader (readHttpHead, readFrame, readToEnd). */
const RawFromSocket = RawClient as unknown as new (socket: net.Socket) => RawClient;

interface RawServer {
  port: number;
  url: string;
  /** The next connection from now on. */
  next(ms?: number): Promise<RawClient>;
}

async function rawServer(onConnection?: (conn: RawClient) => void | Promise<void>): Promise<RawServer> {
  const wrapped = new WeakMap<net.Socket, RawClient>();
  const all = new Set<RawClient>();
  const server = net.createServer((socket) => {
    const conn = new RawFromSocket(socket);
    wrapped.set(socket, conn);
    all.add(conn);
    if (onConnection) void Promise.resolve(onConnection(conn)).catch(() => conn.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  cleanups.push(() => {
    for (const c of all) c.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `ws://${HOST}:${port}/`,
    next: async (ms = 5000) => {
      const [socket] = await onceEvent<[net.Socket]>(server, 'connection', ms);
      return wrapped.get(socket)!;
    },
  };
}

/** Reads a client's upgrade request; returns its head and Sec-WebSocket-Key. */
async function readRequest(conn: RawClient): Promise<{ head: string; key: string }> {
  const head = (await conn.readHttpHead()).toString('latin1');
  const key = /^sec-websocket-key:[ \t]*(\S+)[ \t]*$/im.exec(head)?.[1];
  assert.ok(key, `no Sec-WebSocket-Key in the request:\n${head}`);
  return { head, key };
}

interface Head101 {
  upgrade?: string | null;
  connection?: string | null;
  accept?: string | null;
  extra?: string[];
}

/** A 101 answer; null leaves a header out. */
function head101(key: string, o: Head101 = {}): string {
  const lines = ['HTTP/1.1 101 Switching Protocols'];
  const upgrade = o.upgrade === undefined ? 'websocket' : o.upgrade;
  const connection = o.connection === undefined ? 'Upgrade' : o.connection;
  const accept = o.accept === undefined ? computeAcceptKey(key) : o.accept;
  if (upgrade !== null) lines.push(`Upgrade: ${upgrade}`);
  if (connection !== null) lines.push(`Connection: ${connection}`);
  if (accept !== null) lines.push(`Sec-WebSocket-Accept: ${accept}`);
  lines.push(...(o.extra ?? []));
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A raw server whose every connection gets a correct 101; resolves with the client (open) and its raw connection. */
async function rawOpen(options: Record<string, unknown> = {}): Promise<{ ws: Client; conn: RawClient }> {
  const srv = await rawServer();
  const connP = srv.next();
  const ws = client(srv.url, options);
  const conn = await connP;
  const { key } = await readRequest(conn);
  conn.write(head101(key));
  await onceEvent(ws, 'open');
  return { ws, conn };
}

interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  key: Buffer | null;
  /** Unmasked. */
  payload: Buffer;
}

function parseFrame(b: Buffer): Frame {
  const fin = (b[0]! & 0x80) !== 0;
  const rsv = b[0]! & 0x70;
  const opcode = b[0]! & 0x0f;
  const masked = (b[1]! & 0x80) !== 0;
  let len = b[1]! & 0x7f;
  let off = 2;
  if (len === 126) {
    len = b.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    len = Number(b.readBigUInt64BE(2));
    off = 10;
  }
  const key = masked ? Buffer.from(b.subarray(off, off + 4)) : null;
  if (masked) off += 4;
  const payload = Buffer.from(b.subarray(off, off + len));
  if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
  return { fin, rsv, opcode, masked, key, payload };
}

/** An unmasked (server) frame. */
function serverFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), fin = true): Buffer {
  const p = Buffer.from(payload);
  let head: Buffer;
  if (p.length < 126) head = Buffer.from([(fin ? 0x80 : 0) | opcode, p.length]);
  else if (p.length < 65536) {
    head = Buffer.from([(fin ? 0x80 : 0) | opcode, 126, 0, 0]);
    head.writeUInt16BE(p.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(p.length), 2);
  }
  return Buffer.concat([head, p]);
}

function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

/** A TCP port on 127.0.0.1 where nothing listens. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, HOST, r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---- URLs ----------------------------------------------------------------------

describe('client: URLs', { timeout: 60_000 }, () => {
  test('ws:// connects; url is the normalised address', async () => {
    const srv = await echoServer();
    const conn = srv.nextConnection();
    const ws = await open(`${srv.base}/chat?room=1`);
    const [, req] = await conn;
    assert.equal(req.url, '/chat?room=1');
    assert.equal(ws.url, `${srv.base}/chat?room=1`);
    const log = new MessageLog(ws);
    ws.send('hello');
    const [m] = await log.next(1);
    assert.equal(m!.data.toString(), 'hello');
  });

  test('a URL object is accepted', async () => {
    const srv = await echoServer();
    const ws = await open(new URL(`${srv.base}/obj`));
    assert.equal(ws.url, `${srv.base}/obj`);
  });

  test('http:// is mapped to ws://', async () => {
    const srv = await echoServer();
    const conn = srv.nextConnection();
    const ws = client(`http://${HOST}:${srv.port}/mapped?q=1`);
    assert.equal(ws.url, `ws://${HOST}:${srv.port}/mapped?q=1`);
    await onceEvent(ws, 'open');
    const [, req] = await conn;
    assert.equal(req.url, '/mapped?q=1');
  });

  test('IPv6 literal ws://[::1]:PORT/', async () => {
    const srv = await listenEcho({ host: '::1' });
    cleanups.push(() => srv.close());
    const conn = srv.nextConnection();
    const ws = await open(`ws://[::1]:${srv.port}/v6`);
    const [, req] = await conn;
    assert.equal(req.url, '/v6');
    assert.equal(req.socket.remoteAddress, '::1');
    assert.equal(req.headers.host, `[::1]:${srv.port}`);
    assert.equal(ws.url, `ws://[::1]:${srv.port}/v6`);
  });

  test('ws+unix:///path.sock:/route reaches a server on a unix socket, with the route as request path', async () => {
    const sockPath = path.join(tmp, 'x.sock');
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    const seen: string[] = [];
    wss.on('connection', (sock: Client, req: http.IncomingMessage) => {
      seen.push(req.url ?? '');
      sock.on('message', (d: Buffer, isBinary: boolean) => sock.send(d, { binary: isBinary }));
    });
    await new Promise<void>((r) => server.listen(sockPath, r));
    cleanups.push(() => {
      for (const c of wss.clients) c.terminate();
      return new Promise<void>((r) => wss.close(() => server.close(() => r())));
    });

    const ws = await open(`ws+unix://${sockPath}:/route?x=1`);
    assert.equal(seen[0], '/route?x=1');
    const log = new MessageLog(ws);
    ws.send('over unix');
    assert.equal((await log.next(1))[0]!.data.toString(), 'over unix');

    await open(`ws+unix://${sockPath}`);
    assert.equal(seen[1], '/', 'no route means the request path /');
  });

  test('invalid URLs and fragments throw SyntaxError', () => {
    for (const bad of ['not a url', '', 'ws://', '/relative/path', 'ws://127.0.0.1:1/#frag', 'http://127.0.0.1:1/x?y#z']) {
      assert.throws(() => client(bad), isSyntaxError, `new WebSocket(${JSON.stringify(bad)})`);
    }
  });

  test('unsupported schemes throw (SyntaxError, as in ws and browsers)', () => {
    for (const bad of ['ftp://127.0.0.1/', 'file:///tmp/x', 'mailto:a@b.c', 'wss+unix:///tmp/x.sock']) {
      assert.throws(() => client(bad), isSyntaxError, `new WebSocket(${JSON.stringify(bad)})`);
    }
  });

  test('protocolVersion other than 13 throws RangeError', () => {
    assert.throws(() => client('ws://127.0.0.1:1/', { protocolVersion: 8 }), RangeError);
  });

  test('duplicate or invalid subprotocols throw SyntaxError', () => {
    const bad: Array<string | string[]> = [['chat', 'chat'], 'a b', 'a,b', '', ['ok', 'bad;'], ['ok', ''], [' padded'], 'tab\t', ['é']];
    for (const protocols of bad) {
      assert.throws(() => client('ws://127.0.0.1:1/', protocols), isSyntaxError, `protocols ${JSON.stringify(protocols)}`);
    }
    // Valid ones do not throw (the connection to port 1 then fails, which is fine).
    const ok = client('ws://127.0.0.1:1/', ['chat', 'v2.chat', 'x-y_z']);
    ok.on('error', noop);
    ok.terminate();
  });
});

// ---- options ------------------------------------------------------------------------

describe('client: options', { timeout: 60_000 }, () => {
  test('headers and origin reach the server', async () => {
    const srv = await plainServer();
    const conn = srv.nextConnection();
    await open(`${srv.base}/`, { headers: { 'X-Test': 'yes', Authorization: 'Bearer t0k' }, origin: 'https://app.example' });
    const [, req] = await conn;
    assert.equal(req.headers['x-test'], 'yes');
    assert.equal(req.headers.authorization, 'Bearer t0k');
    assert.equal(req.headers.origin, 'https://app.example');
    assert.equal(req.headers['sec-websocket-version'], '13');
  });

  test('handshakeTimeout: a server that never answers -> WS_ERR_HANDSHAKE_TIMEOUT, close 1006', async () => {
    const srv = await rawServer(); // accepts TCP, reads nothing, answers nothing
    const started = Date.now();
    const ws = client(srv.url, { handshakeTimeout: 300 });
    const { error, code } = await failure(ws);
    const elapsed = Date.now() - started;
    assert.equal(error.code, 'WS_ERR_HANDSHAKE_TIMEOUT', error.message);
    assert.equal(code, 1006);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    assert.ok(elapsed >= 250, `failed after ${elapsed} ms, before the 300 ms timeout`);
  });

  describe('redirects', () => {
    let target: Listening;
    let redirector: http.Server;
    let redirectPort: number;

    before(async () => {
      target = await echoServer();
      // /hop/N redirects to /hop/N-1 (relative), /hop/0 to the real endpoint (absolute, ws:).
      redirector = http.createServer((_req, res) => res.writeHead(404).end());
      redirector.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
        const m = /^\/hop\/(\d+)$/.exec(req.url ?? '');
        const n = m ? Number(m[1]) : -1;
        const location = n > 0 ? `/hop/${n - 1}` : `${target.base}/final`;
        socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      });
      await new Promise<void>((r) => redirector.listen(0, HOST, r));
      redirectPort = (redirector.address() as net.AddressInfo).port;
      cleanups.push(() => {
        redirector.closeAllConnections();
        return new Promise<void>((r) => redirector.close(() => r()));
      });
    });

    test('followRedirects follows 302s to the WebSocket endpoint', async () => {
      const conn = target.nextConnection();
      const ws = client(`ws://${HOST}:${redirectPort}/hop/2`, { followRedirects: true, maxRedirects: 3 });
      const redirects: string[] = [];
      ws.on('redirect', (url: string) => redirects.push(url));
      await onceEvent(ws, 'open');
      const [, req] = await conn;
      assert.equal(req.url, '/final');
      assert.equal(ws.url, `${target.base}/final`);
      assert.equal(redirects.length, 3, `redirects: ${redirects.join(', ')}`);
    });

    test('more redirects than maxRedirects -> WS_ERR_TOO_MANY_REDIRECTS, close 1006', async () => {
      const ws = client(`ws://${HOST}:${redirectPort}/hop/5`, { followRedirects: true, maxRedirects: 2 });
      const { error, code } = await failure(ws);
      assert.equal(error.code, 'WS_ERR_TOO_MANY_REDIRECTS', error.message);
      assert.equal(code, 1006);
    });

    test('without followRedirects a 302 is an unexpected response', async () => {
      const ws = client(`ws://${HOST}:${redirectPort}/hop/0`);
      const { error, code } = await failure(ws);
      assert.equal(error.code, 'WS_ERR_UNEXPECTED_RESPONSE', error.message);
      assert.equal(error.response?.statusCode, 302);
      assert.equal(code, 1006);
    });
  });

  test('maxPayload: a message over the limit closes the connection with 1009 (one at the limit is fine)', async () => {
    const srv = await plainServer();
    const conn = srv.nextConnection();
    const ws = await open(`${srv.base}/`, { maxPayload: 1000 });
    const [serverWs] = await conn;
    const serverClose = nextEvent<[number, Buffer]>(serverWs, 'close');
    const log: Buffer[] = [];
    ws.on('message', (d: Buffer) => log.push(d));
    const errorP = nextEvent<[ErrorWithCode]>(ws, 'error');
    const closeP = nextEvent<[number, Buffer]>(ws, 'close');
    serverWs.send(Buffer.alloc(1000, 1));
    serverWs.send(Buffer.alloc(1001, 2));
    const [error] = await errorP;
    const [code] = await closeP;
    assert.equal(code, 1009, `client close code (error: ${error.message})`);
    assert.equal(log.length, 1, 'the message at the limit arrives, the one over it does not');
    assert.equal(log[0]!.length, 1000);
    const [serverCode] = await serverClose;
    assert.equal(serverCode, 1009, 'the server is told 1009');
  });

  test('createConnection: the custom function makes the connection', async () => {
    const srv = await echoServer();
    const calls: Array<Record<string, unknown>> = [];
    const ws = await open(`${srv.base}/custom`, {
      createConnection: (options: Record<string, unknown>) => {
        calls.push(options);
        return net.connect({ host: options.host as string, port: options.port as number });
      },
    });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.host, HOST);
    assert.equal(Number(calls[0]!.port), srv.port);
    const log = new MessageLog(ws);
    ws.send('via custom connection');
    assert.equal((await log.next(1))[0]!.data.toString(), 'via custom connection');
  });

  test('skipUTF8Validation: invalid UTF-8 text is delivered as is (and fails the connection with 1007 without it)', async () => {
    const srv = await plainServer();
    const invalid = Buffer.from([0x48, 0x69, 0xff, 0xfe, 0xc0, 0xaf]);

    const conn1 = srv.nextConnection();
    const lax = await open(`${srv.base}/`, { skipUTF8Validation: true });
    const [s1] = await conn1;
    const log = new MessageLog(lax);
    s1.send(invalid, { binary: false });
    const [m] = await log.next(1);
    assert.equal(m!.isBinary, false);
    assert.ok(m!.data.equals(invalid));
    assert.equal(lax.readyState, WebSocket.OPEN);

    const conn2 = srv.nextConnection();
    const strict = await open(`${srv.base}/`);
    const [s2] = await conn2;
    const closeP = nextEvent<[number]>(strict, 'close');
    strict.on('error', noop);
    let got = 0;
    strict.on('message', () => got++);
    s2.send(invalid, { binary: false });
    const [code] = await closeP;
    assert.equal(code, 1007);
    assert.equal(got, 0);
  });

  test('autoPong false: no automatic pong (autoPong default: pong with the same payload)', async () => {
    const srv = await plainServer();

    const conn1 = srv.nextConnection();
    await open(`${srv.base}/`);
    const [auto] = await conn1;
    const pong1 = nextEvent<[Buffer]>(auto, 'pong', 3000);
    auto.ping('auto');
    assert.equal((await pong1)[0].toString(), 'auto');

    const conn2 = srv.nextConnection();
    const manual = await open(`${srv.base}/`, { autoPong: false });
    const [s2] = await conn2;
    let pongs = 0;
    s2.on('pong', () => pongs++);
    const pingAtClient = nextEvent<[Buffer]>(manual, 'ping');
    s2.ping('hello');
    assert.equal((await pingAtClient)[0].toString(), 'hello', "the client still emits 'ping'");
    await sleep(300);
    assert.equal(pongs, 0, 'the client answered a ping although autoPong is false');
    const pong2 = nextEvent<[Buffer]>(s2, 'pong');
    manual.pong('by hand');
    assert.equal((await pong2)[0].toString(), 'by hand');
  });

  test('close() while connecting aborts: WS_ERR_ABORTED, close 1006; terminate() too', async () => {
    const srv = await rawServer();
    for (const how of ['close', 'terminate'] as const) {
      const ws = client(srv.url);
      const result = failure(ws);
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      ws[how]();
      const { error, code } = await result;
      assert.equal(error.code, 'WS_ERR_ABORTED', `${how}(): ${error.message}`);
      assert.equal(code, 1006);
      assert.equal(ws.readyState, WebSocket.CLOSED);
    }
  });
});

// ---- strict handshake ------------------------------------------------------------

describe('client: strict checks of the opening handshake', { timeout: 60_000 }, () => {
  interface BadCase {
    name: string;
    code: string;
    status: number;
    protocols?: string[];
    answer: (key: string) => string;
  }
  const cases: BadCase[] = [
    { name: 'wrong Sec-WebSocket-Accept', code: 'WS_ERR_INVALID_ACCEPT', status: 101, answer: (k) => head101(k, { accept: computeAcceptKey(`${k}x`) }) },
    { name: 'missing Sec-WebSocket-Accept', code: 'WS_ERR_INVALID_ACCEPT', status: 101, answer: (k) => head101(k, { accept: null }) },
    { name: 'status 200', code: 'WS_ERR_UNEXPECTED_RESPONSE', status: 200, answer: () => 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello' },
    {
      name: 'status 403 with a body',
      code: 'WS_ERR_UNEXPECTED_RESPONSE',
      status: 403,
      answer: () => 'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\r\nno entry, sorry',
    },
    { name: 'missing Upgrade', code: 'WS_ERR_INVALID_UPGRADE_HEADER', status: 101, answer: (k) => head101(k, { upgrade: null }) },
    { name: 'Upgrade not websocket', code: 'WS_ERR_INVALID_UPGRADE_HEADER', status: 101, answer: (k) => head101(k, { upgrade: 'h2c' }) },
    { name: 'missing Connection', code: 'WS_ERR_INVALID_CONNECTION_HEADER', status: 101, answer: (k) => head101(k, { connection: null }) },
    { name: 'Connection without upgrade', code: 'WS_ERR_INVALID_CONNECTION_HEADER', status: 101, answer: (k) => head101(k, { connection: 'keep-alive' }) },
    {
      name: 'a subprotocol that was not offered',
      code: 'WS_ERR_INVALID_SUBPROTOCOL',
      status: 101,
      protocols: ['chat'],
      answer: (k) => head101(k, { extra: ['Sec-WebSocket-Protocol: superchat'] }),
    },
    {
      name: 'a subprotocol when none was offered',
      code: 'WS_ERR_INVALID_SUBPROTOCOL',
      status: 101,
      answer: (k) => head101(k, { extra: ['Sec-WebSocket-Protocol: chat'] }),
    },
    {
      name: 'an extension that was not offered',
      code: 'WS_ERR_INVALID_EXTENSION',
      status: 101,
      answer: (k) => head101(k, { extra: ['Sec-WebSocket-Extensions: x-not-offered; level=3'] }),
    },
  ];

  /** A raw server answering every request with `answer`, keeping TCP open (so only the answer can end the handshake). */
  async function answering(answer: (key: string) => string): Promise<RawServer> {
    return rawServer(async (conn) => {
      const { key } = await readRequest(conn);
      conn.write(answer(key));
    });
  }

  test('control: the raw server with a correct 101 opens', async () => {
    const srv = await answering((k) => head101(k, { extra: ['Sec-WebSocket-Protocol: chat'] }));
    const ws = await open(srv.url, ['chat', 'other']);
    assert.equal(ws.protocol, 'chat');
  });

  for (const c of cases) {
    test(`${c.name} -> 'error' ${c.code}, 'close' 1006`, async () => {
      const srv = await answering(c.answer);
      const ws = client(srv.url, c.protocols);
      const { error, code } = await failure(ws);
      assert.ok(error instanceof WebSocketError, `error should be a WebSocketError, got ${String(error)}`);
      assert.equal(error.code, c.code, error.message);
      assert.equal(error.response?.statusCode, c.status);
      assert.equal(code, 1006);
      assert.equal(ws.readyState, WebSocket.CLOSED);
    });

    test(`${c.name} -> WebSocket.connect rejects with ${c.code}`, async () => {
      const srv = await answering(c.answer);
      await withTimeout(
        assert.rejects(WebSocket.connect(srv.url, { protocols: c.protocols }), (e: ErrorWithCode) => {
          assert.ok(e instanceof WebSocketError, String(e));
          assert.equal(e.code, c.code, e.message);
          return true;
        }),
        5000,
        'WebSocket.connect to settle',
      );
    });
  }

  for (const c of cases.filter((x) => x.status !== 101)) {
    test(`${c.name} with an 'unexpected-response' listener: it gets (req, res)`, async () => {
      const srv = await answering(c.answer);
      const ws = client(srv.url);
      ws.on('error', noop);
      ws.on('open', () => assert.fail('opened'));
      const [req, res] = await onceEvent<[http.ClientRequest, http.IncomingMessage]>(ws, 'unexpected-response');
      assert.ok(req instanceof http.ClientRequest);
      assert.ok(res instanceof http.IncomingMessage);
      assert.equal(res.statusCode, c.status);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      await withTimeout(new Promise((r) => res.on('end', r)), 5000, 'the response body');
      assert.equal(body, c.answer('').split('\r\n\r\n')[1]);
      // The listener owns the attempt (ws's contract): it stays CONNECTING until ended.
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      const closed = nextEvent(ws, 'close');
      ws.terminate();
      await closed;
    });
  }

  test('a server that closes TCP without answering -> error, close 1006', async () => {
    const srv = await rawServer(async (conn) => {
      await conn.readHttpHead();
      conn.destroy();
    });
    const { error, code } = await failure(client(srv.url));
    assert.ok(error instanceof Error);
    assert.equal(code, 1006);
  });
});

// ---- masking ------------------------------------------------------------------------

describe('client: masking', { timeout: 60_000 }, () => {
  test('every frame is masked with a fresh key, payloads unmask correctly, caller buffers unchanged', async () => {
    const { ws, conn } = await rawOpen();
    const sent: Array<{ payload: Buffer; copy: Buffer; opcode: number }> = [];
    for (let i = 0; i < 100; i++) {
      if (i % 2 === 0) {
        const payload = patternBytes(1 + i * 7, i + 1);
        sent.push({ payload, copy: Buffer.from(payload), opcode: 2 });
        ws.send(payload);
      } else {
        const text = `message ${i} ${'é'.repeat(i)}`;
        sent.push({ payload: Buffer.from(text), copy: Buffer.from(text), opcode: 1 });
        ws.send(text);
      }
    }
    // Large payloads take the other write path; they must be masked (and left alone) too.
    const big = patternBytes(256 * 1024, 7);
    sent.push({ payload: big, copy: Buffer.from(big), opcode: 2 });
    const view = new Uint8Array(patternBytes(70_000, 9));
    const viewCopy = Buffer.from(view);
    sent.push({ payload: Buffer.from(view.buffer, view.byteOffset, view.byteLength), copy: viewCopy, opcode: 2 });
    await new Promise<void>((resolve, reject) => ws.send(big, (e) => (e ? reject(e) : resolve())));
    ws.send(view);
    ws.ping('p');
    ws.close(1000, 'masked close');

    const frames: Frame[] = [];
    for (let i = 0; i < sent.length + 2; i++) frames.push(parseFrame(await conn.readFrame(10_000)));
    frames.forEach((f, i) => {
      assert.ok(f.masked, `frame ${i} (opcode ${f.opcode}) is not masked`);
      assert.equal(f.rsv, 0);
      assert.ok(f.fin);
    });
    sent.forEach((s, i) => {
      assert.equal(frames[i]!.opcode, s.opcode, `frame ${i} opcode`);
      assert.ok(frames[i]!.payload.equals(s.copy), `frame ${i}: unmasked payload differs from what was sent`);
      assert.ok(s.payload.equals(s.copy), `send() changed the caller's buffer of message ${i}`);
    });
    assert.ok(Buffer.from(view).equals(viewCopy), "send() changed the caller's Uint8Array");
    assert.equal(frames[sent.length]!.opcode, 0x9);
    assert.equal(frames[sent.length]!.payload.toString(), 'p');
    assert.equal(frames[sent.length + 1]!.opcode, 0x8);
    assert.ok(frames[sent.length + 1]!.payload.equals(closePayload(1000, 'masked close')));

    const keys = new Set(frames.slice(0, 100).map((f) => f.key!.toString('hex')));
    assert.ok(keys.size >= 99, `only ${keys.size} distinct masking keys in 100 frames`);
    assert.ok(!frames.every((f) => f.key!.equals(Buffer.alloc(4))), 'all-zero masking keys');
  });
});

// ---- closing handshake ------------------------------------------------------------

describe('client: closing handshake', { timeout: 60_000 }, () => {
  test("close(1000, 'bye') -> the server sees 1000 'bye'; the client closes with 1000", async () => {
    const srv = await plainServer();
    const conn = srv.nextConnection();
    const ws = await open(`${srv.base}/`);
    const [serverWs] = await conn;
    const serverClose = nextEvent<[number, Buffer]>(serverWs, 'close');
    const clientClose = nextEvent<[number, Buffer]>(ws, 'close');
    ws.close(1000, 'bye');
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const [code, reason] = await serverClose;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'bye');
    const [clientCode] = await clientClose;
    assert.equal(clientCode, 1000);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });

  test("the client's 'close' fires only after the server closed TCP", async () => {
    const { ws, conn } = await rawOpen();
    let closedAt = 0;
    const events: CloseEvent[] = [];
    ws.addEventListener('close', (e: CloseEvent) => events.push(e));
    const closeP = nextEvent<[number, Buffer]>(ws, 'close');
    ws.on('close', () => (closedAt = Date.now()));
    ws.close(1000, 'bye');
    const f = parseFrame(await conn.readFrame());
    assert.equal(f.opcode, 0x8);
    assert.ok(f.payload.equals(closePayload(1000, 'bye')));
    conn.write(serverFrame(0x8, closePayload(1000, 'ok')));
    await sleep(400);
    assert.equal(closedAt, 0, "'close' fired before the server closed TCP");
    assert.equal(ws.readyState, WebSocket.CLOSING);
    assert.equal(conn.ended, false, 'the client closed TCP itself; the server must do it (RFC 6455 7.1.1)');
    const endedAt = Date.now();
    conn.socket.end();
    const [code, reason] = await closeP;
    assert.ok(closedAt >= endedAt);
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'ok');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.wasClean, true);
    await conn.readToEnd();
  });

  test('a server that answers the close frame but keeps TCP open: the client destroys the socket after closeTimeout', async () => {
    const { ws, conn } = await rawOpen({ closeTimeout: 300 });
    const closeP = nextEvent<[number, Buffer]>(ws, 'close');
    const started = Date.now();
    ws.close(1000);
    const f = parseFrame(await conn.readFrame());
    assert.equal(f.opcode, 0x8);
    conn.write(serverFrame(0x8, closePayload(1000)));
    const [code] = await closeP;
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250, `closed after ${elapsed} ms, before closeTimeout (300 ms)`);
    assert.equal(code, 1000);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    await conn.readToEnd(2000); // the server sees the connection go
  });

  test('a server that starts the close: the client answers with the same code', async () => {
    const { ws, conn } = await rawOpen();
    const closeP = nextEvent<[number, Buffer]>(ws, 'close');
    conn.write(serverFrame(0x8, closePayload(4001, 'server-bye')));
    const f = parseFrame(await conn.readFrame());
    assert.equal(f.opcode, 0x8);
    assert.ok(f.masked);
    assert.equal(f.payload.readUInt16BE(0), 4001);
    conn.socket.end();
    const [code, reason] = await closeP;
    assert.equal(code, 4001);
    assert.equal(reason.toString(), 'server-bye');
  });
});

// ---- the standard API ------------------------------------------------------------

describe('client: the standard WebSocket API', { timeout: 60_000 }, () => {
  let echo: Listening;
  before(async () => {
    echo = await echoServer();
  });

  test('readyState constants on the class and the instance', async () => {
    assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
    const ws = client(`${echo.base}/`);
    assert.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
    assert.equal(ws.readyState, ws.CONNECTING);
    await onceEvent(ws, 'open');
    assert.equal(ws.readyState, ws.OPEN);
    ws.close();
    assert.equal(ws.readyState, ws.CLOSING);
    await nextEvent(ws, 'close');
    assert.equal(ws.readyState, ws.CLOSED);
  });

  test('onopen / onmessage / onclose; text data is a string; wasClean after a clean close', async () => {
    const ws = client(`${echo.base}/`);
    const seen: string[] = [];
    const done = withTimeout(
      new Promise<CloseEvent>((resolve, reject) => {
        const onopen = (e: { type: string; target: unknown }): void => {
          seen.push(e.type);
          if (e.target !== ws) reject(new Error('open event target is not the socket'));
          ws.send('hi there');
        };
        ws.onopen = onopen;
        assert.equal(ws.onopen, onopen);
        ws.onmessage = (e: MessageEvent) => {
          seen.push(`${e.type}:${typeof e.data}:${String(e.data)}`);
          if (!(e instanceof MessageEvent)) reject(new Error('not a MessageEvent'));
          ws.close(4000, 'done');
        };
        ws.onerror = (e: ErrorEvent) => reject(e.error as Error);
        ws.onclose = (e: CloseEvent) => resolve(e);
      }),
      5000,
      'open, message, close',
    );
    const e = await done;
    assert.deepEqual(seen, ['open', 'message:string:hi there']);
    assert.ok(e instanceof CloseEvent);
    assert.equal(e.type, 'close');
    assert.equal(e.code, 4000);
    assert.equal(e.wasClean, true);
  });

  test('addEventListener / removeEventListener, once, handleEvent objects, attribute replacement', async () => {
    const ws = await open(`${echo.base}/`);
    const got: string[] = [];
    const a = (e: MessageEvent): void => void got.push(`a:${String(e.data)}`);
    const b = (e: MessageEvent): void => void got.push(`b:${String(e.data)}`);
    const obj = { handleEvent: (e: MessageEvent) => void got.push(`obj:${String(e.data)}`) };
    ws.addEventListener('message', a);
    ws.addEventListener('message', a); // a duplicate is ignored
    ws.addEventListener('message', b, { once: true });
    ws.addEventListener('message', obj);
    ws.onmessage = () => got.push('attr1');
    ws.onmessage = () => got.push('attr2'); // replaces attr1
    const log = new MessageLog(ws);
    ws.send('1');
    await log.next(1);
    ws.removeEventListener('message', obj);
    ws.onmessage = null;
    assert.equal(ws.onmessage, null);
    ws.send('2');
    await log.next(2);
    assert.deepEqual(got, ['a:1', 'b:1', 'obj:1', 'attr2', 'a:2']);
  });

  test('onerror gets an ErrorEvent and onclose 1006 (not clean) when the connection fails', async () => {
    const ws = client(`ws://${HOST}:${await deadPort()}/`);
    const events: string[] = [];
    const done = withTimeout(
      new Promise<[ErrorEvent, CloseEvent]>((resolve) => {
        let err: ErrorEvent;
        ws.onerror = (e: ErrorEvent) => {
          events.push('error');
          err = e;
        };
        ws.onclose = (e: CloseEvent) => {
          events.push('close');
          resolve([err, e]);
        };
      }),
      5000,
      'error then close',
    );
    const [err, close] = await done;
    assert.deepEqual(events, ['error', 'close']);
    assert.ok(err instanceof ErrorEvent);
    assert.equal((err.error as ErrorWithCode).code, 'ECONNREFUSED');
    assert.equal(close.code, 1006);
    assert.equal(close.wasClean, false);
  });

  test('binaryType: nodebuffer (default), arraybuffer, blob, fragments', async () => {
    const ws = await open(`${echo.base}/`);
    assert.equal(ws.binaryType, 'nodebuffer');
    const payload = Buffer.from([1, 2, 3, 250, 251]);
    const check = async (type: 'nodebuffer' | 'arraybuffer' | 'blob' | 'fragments', ok: (data: unknown) => Promise<Buffer>): Promise<void> => {
      ws.binaryType = type;
      assert.equal(ws.binaryType, type);
      const viaEvent = nextEvent<[MessageEvent]>(ws as unknown as EventEmitter, 'ev-message');
      const listener = (e: MessageEvent): void => void ws.emit('ev-message', e);
      ws.addEventListener('message', listener);
      const viaOn = nextEvent<[unknown, boolean]>(ws, 'message');
      ws.send(payload);
      const [data, isBinary] = await viaOn;
      const [event] = await viaEvent;
      ws.removeEventListener('message', listener);
      assert.equal(isBinary, true);
      assert.ok((await ok(data)).equals(payload), `${type}: 'message' data`);
      assert.ok((await ok(event.data)).equals(payload), `${type}: MessageEvent data`);
    };
    await check('nodebuffer', async (d) => {
      assert.ok(Buffer.isBuffer(d), `expected a Buffer, got ${Object.prototype.toString.call(d)}`);
      return d;
    });
    await check('arraybuffer', async (d) => {
      assert.ok(d instanceof ArrayBuffer, `expected an ArrayBuffer, got ${Object.prototype.toString.call(d)}`);
      assert.equal(d.byteLength, payload.length);
      return Buffer.from(d);
    });
    await check('blob', async (d) => {
      assert.ok(d instanceof Blob, `expected a Blob, got ${Object.prototype.toString.call(d)}`);
      return Buffer.from(await d.arrayBuffer());
    });
    await check('fragments', async (d) => {
      assert.ok(Array.isArray(d), `expected an array, got ${Object.prototype.toString.call(d)}`);
      assert.ok(d.every((x) => Buffer.isBuffer(x)));
      return Buffer.concat(d as Buffer[]);
    });

    // Text stays a string in MessageEvent whatever binaryType is.
    ws.binaryType = 'arraybuffer';
    const text = nextEvent<[MessageEvent]>(ws as unknown as EventEmitter, 'ev-text');
    ws.onmessage = (e: MessageEvent) => void ws.emit('ev-text', e);
    ws.send('still text');
    assert.equal((await text)[0].data, 'still text');
    ws.binaryType = 'nonsense' as 'blob';
    assert.equal(ws.binaryType, 'arraybuffer', 'an invalid binaryType is ignored');
  });

  test('url, protocol and extensions', async () => {
    const srv = await listenEcho({ handleProtocols: (offered: Set<string>) => (offered.has('v2.chat') ? 'v2.chat' : false) });
    cleanups.push(() => srv.close());
    const ws = client(`${srv.base}/p?x=1`, ['v1.chat', 'v2.chat']);
    assert.equal(ws.url, `${srv.base}/p?x=1`);
    assert.equal(ws.protocol, '');
    assert.equal(ws.extensions, '');
    const upgrade = nextEvent<[http.IncomingMessage]>(ws, 'upgrade');
    await onceEvent(ws, 'open');
    const [res] = await upgrade;
    assert.equal(res.headers['sec-websocket-protocol'], 'v2.chat');
    assert.equal(ws.protocol, 'v2.chat');
    assert.equal(ws.extensions, res.headers['sec-websocket-extensions'] ?? '', 'extensions is what the server accepted');
    assert.equal(ws.bufferedAmount, 0);
  });

  test("send before open throws ws's Error (WS_ERR_INVALID_STATE)", async () => {
    const ws = client(`${echo.base}/`);
    assert.throws(() => ws.send('too early'), { name: 'Error', code: 'WS_ERR_INVALID_STATE', message: 'WebSocket is not open: readyState 0 (CONNECTING)' });
    await onceEvent(ws, 'open');
  });

  test('close() with an invalid code throws InvalidAccessError; a 124-byte reason throws SyntaxError', async () => {
    const conn = echo.nextConnection();
    const ws = await open(`${echo.base}/`);
    const [serverWs] = await conn;
    for (const code of [1005, 999, 1006, 1015, 2999, 5000, 0]) {
      assert.throws(() => ws.close(code), isDOMException('InvalidAccessError'), `close(${code})`);
    }
    assert.throws(() => ws.close(4000, 'x'.repeat(124)), isDOMException('SyntaxError'));
    assert.throws(() => ws.close(4000, 'é'.repeat(62)), isDOMException('SyntaxError'), '124 UTF-8 bytes in 62 characters');
    assert.equal(ws.readyState, WebSocket.OPEN, 'a refused close() must not start closing');
    // 123 bytes is the maximum and goes through.
    const serverClose = nextEvent<[number, Buffer]>(serverWs, 'close');
    ws.close(4000, 'y'.repeat(123));
    const [code, reason] = await serverClose;
    assert.equal(code, 4000);
    assert.equal(reason.toString(), 'y'.repeat(123));
  });

  test('wasClean is false when the server destroys the socket', async () => {
    const conn = echo.nextConnection();
    const ws = await open(`${echo.base}/`);
    const [serverWs] = await conn;
    const closeP = withTimeout(new Promise<CloseEvent>((r) => ws.addEventListener('close', r)), 5000, 'close');
    serverWs.terminate();
    const e = await closeP;
    assert.equal(e.code, 1006);
    assert.equal(e.wasClean, false);
  });
});

// ---- ws-style API -----------------------------------------------------------------

describe("client: ws's API on the same object", { timeout: 60_000 }, () => {
  test("on('message', (data, isBinary)) and send(data, { binary }, cb)", async () => {
    const srv = await plainServer();
    const conn = srv.nextConnection();
    const ws = await open(`${srv.base}/`);
    const [serverWs] = await conn;
    const atServer = new MessageLog(serverWs);
    serverWs.on('message', (d: Buffer, isBinary: boolean) => serverWs.send(d, { binary: isBinary }));
    const atClient = new MessageLog(ws);

    const acked: string[] = [];
    const cb = (name: string) => (err?: Error | null) => acked.push(err ? `${name}:${err.message}` : name);
    ws.send('text', cb('text'));
    ws.send('as binary', { binary: true }, cb('as binary'));
    ws.send(Buffer.from([9, 8, 7]), { binary: false }, cb('buffer as text'));
    ws.send(new Uint8Array([1, 2]), cb('u8'));
    ws.send(42);

    const got = await atServer.next(5);
    assert.deepEqual(
      got.map((m) => [m.data.toString('latin1'), m.isBinary]),
      [
        ['text', false],
        ['as binary', true],
        ['\x09\x08\x07', false],
        ['\x01\x02', true],
        ['42', false],
      ],
    );
    const echoed = await atClient.next(5);
    assert.ok(Buffer.isBuffer(atClient.raw[0]), "text arrives as a Buffer in ws's 'message'");
    assert.deepEqual(
      echoed.map((m) => m.isBinary),
      [false, true, false, true, false],
    );
    assert.deepEqual(acked, ['text', 'as binary', 'buffer as text', 'u8']);
  });

  test('send with fin: false sends one fragmented message (text and binary)', async () => {
    const { ws, conn } = await rawOpen();
    ws.send('Hel', { fin: false });
    ws.send('lo', { fin: false });
    ws.send('!', { fin: true });
    ws.send(Buffer.from([1]), { binary: true, fin: false });
    ws.send(Buffer.from([2, 3]), { binary: true, fin: true });
    const frames: Frame[] = [];
    for (let i = 0; i < 5; i++) frames.push(parseFrame(await conn.readFrame()));
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.payload.toString('hex')]),
      [
        [1, false, Buffer.from('Hel').toString('hex')],
        [0, false, Buffer.from('lo').toString('hex')],
        [0, true, Buffer.from('!').toString('hex')],
        [2, false, '01'],
        [0, true, '0203'],
      ],
    );
  });

  test('fragments reassemble at a real server', async () => {
    const srv = await plainServer();
    const conn = srv.nextConnection();
    const ws = await open(`${srv.base}/`);
    const [serverWs] = await conn;
    const log = new MessageLog(serverWs);
    ws.send('frag', { fin: false });
    ws.send('mented', { fin: true });
    const [m] = await log.next(1);
    assert.equal(m!.data.toString(), 'fragmented');
    assert.equal(m!.isBinary, false);
  });

  test('send after close calls back with an error (and does not throw)', async () => {
    const srv = await echoServer();
    const ws = await open(`${srv.base}/`);
    ws.close();
    await nextEvent(ws, 'close');
    const err = await withTimeout(new Promise<Error | null | undefined>((r) => ws.send('late', r)), 2000, 'send callback');
    assert.ok(err instanceof Error, 'expected an error in the callback');
  });

  test('ping from the client gets a pong with the same payload', async () => {
    const srv = await echoServer();
    const ws = await open(`${srv.base}/`);
    const pong = nextEvent<[Buffer]>(ws, 'pong');
    ws.ping('are you there');
    assert.equal((await pong)[0].toString(), 'are you there');
  });
});

// ---- async iteration ---------------------------------------------------------------

describe('client: async iteration', { timeout: 60_000 }, () => {
  /** A server that, when a client sends 'go', runs `onGo` on that connection. */
  async function onGo(run: (s: Client) => void): Promise<Listening> {
    const srv = await plainServer();
    srv.wss.on('connection', (s: Client) => s.on('message', (d: Buffer) => d.toString() === 'go' && run(s)));
    return srv;
  }

  test('for await receives messages in order and ends on close', async () => {
    const srv = await onGo((s) => {
      s.send('one');
      s.send(Buffer.from([2]));
      s.send('three');
      s.close(1000, 'done');
    });
    const ws = await open(`${srv.base}/`);
    const got: unknown[] = [];
    const loop = (async () => {
      for await (const m of ws) got.push(m);
    })();
    ws.send('go');
    await withTimeout(loop, 5000, 'the for-await loop to end');
    assert.equal(got.length, 3);
    assert.equal(got[0], 'one');
    assert.ok(Buffer.isBuffer(got[1]) && (got[1] as Buffer).equals(Buffer.from([2])));
    assert.equal(got[2], 'three');
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });

  test('an iterator created before open gets the messages sent right after the handshake', async () => {
    const srv = await plainServer();
    srv.wss.on('connection', (s: Client) => {
      s.send('first');
      s.send('second');
      s.close();
    });
    const ws = client(`${srv.base}/`);
    const got: unknown[] = [];
    await withTimeout(
      (async () => {
        for await (const m of ws) got.push(m);
      })(),
      5000,
      'the for-await loop to end',
    );
    assert.deepEqual(got, ['first', 'second']);
  });

  test(
    'after `await WebSocket.connect()`, for await gets the messages sent right after the handshake',
    async () => {
      const srv = await plainServer();
      srv.wss.on('connection', (s: Client) => {
        s.send('first');
        s.send('second');
        s.close();
      });
      const ws = await withTimeout(WebSocket.connect(`${srv.base}/`), 5000, 'connect');
      clients.add(ws);
      const got: unknown[] = [];
      await withTimeout(
        (async () => {
          for await (const m of ws) got.push(m);
        })(),
        5000,
        'the for-await loop to end',
      );
      assert.deepEqual(got, ['first', 'second']);
    },
  );

  test('the loop throws when the connection fails', async () => {
    const srv = await onGo((s) => {
      s.send('fine');
      s.send(Buffer.from([0xff]), { binary: false }); // invalid UTF-8: the client fails the connection (1007)
    });
    const ws = await open(`${srv.base}/`);
    const got: unknown[] = [];
    const loop = (async () => {
      for await (const m of ws) got.push(m);
    })();
    ws.send('go');
    await withTimeout(assert.rejects(loop), 5000, 'the for-await loop to throw');
    assert.deepEqual(got, ['fine']);
  });

  test('backpressure: a slow consumer pauses the socket; 1,000 messages arrive in order', async () => {
    const N = 1000;
    const text = (i: number): string => `message ${i} ${'.'.repeat(200)}`;
    const srv = await onGo((s) => {
      for (let i = 0; i < N; i++) s.send(text(i));
    });
    const ws = await open(`${srv.base}/`);
    let sawPaused = false;
    let i = 0;
    const loop = (async () => {
      for await (const m of ws) {
        if (ws.isPaused) sawPaused = true;
        assert.equal(m, text(i), `message ${i} out of order`);
        i++;
        if (i === N) break;
        await sleep(1);
      }
    })();
    ws.send('go');
    await withTimeout(loop, 30_000, `1,000 messages (got ${i})`);
    assert.equal(i, N);
    assert.ok(sawPaused, 'the socket was never paused while the consumer lagged behind');
    assert.equal(ws.isPaused, false, 'breaking out of the loop resumes the socket');
    ws.close();
    await nextEvent(ws, 'close');
  });
});

// ---- wss:// -----------------------------------------------------------------------

describe('client: wss:// with a self-signed certificate', { timeout: 60_000 }, () => {
  let port = 0;
  let cert: Buffer;

  before(async () => {
    const keyFile = path.join(tmp, 'key.pem');
    const certFile = path.join(tmp, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      { stdio: 'pipe', timeout: 30_000 },
    );
    cert = readFileSync(certFile);
    const server = https.createServer({ key: readFileSync(keyFile), cert });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (s: Client) => {
      s.on('error', noop);
      s.on('message', (d: Buffer, isBinary: boolean) => s.send(d, { binary: isBinary }));
    });
    await new Promise<void>((r) => server.listen(0, HOST, r));
    port = (server.address() as net.AddressInfo).port;
    cleanups.push(() => {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      return new Promise<void>((r) => wss.close(() => server.close(() => r())));
    });
  });

  async function roundTrip(ws: Client): Promise<void> {
    const log = new MessageLog(ws);
    ws.send('over tls');
    ws.send(patternBytes(100_000));
    const [a, b] = await log.next(2);
    assert.equal(a!.data.toString(), 'over tls');
    assert.ok(b!.data.equals(patternBytes(100_000)));
  }

  test('with the certificate as ca: connects and echoes', async () => {
    const ws = await open(`wss://${HOST}:${port}/`, { ca: cert });
    await roundTrip(ws);
  });

  test('https:// is mapped to wss://', async () => {
    const ws = client(`https://${HOST}:${port}/h`, { ca: cert });
    assert.equal(ws.url, `wss://${HOST}:${port}/h`);
    await onceEvent(ws, 'open');
  });

  test('without ca: fails with a certificate error, close 1006', async () => {
    const { error, code } = await failure(client(`wss://${HOST}:${port}/`));
    assert.ok(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN'].includes(error.code ?? ''), `error code ${error.code}: ${error.message}`);
    assert.equal(code, 1006);
  });

  test('WebSocket.connect without ca rejects with the certificate error', async () => {
    await withTimeout(
      assert.rejects(WebSocket.connect(`wss://${HOST}:${port}/`), (e: ErrorWithCode) => /SELF_SIGNED/.test(e.code ?? '')),
      5000,
      'WebSocket.connect',
    );
  });

  test('with rejectUnauthorized: false: connects', async () => {
    const ws = await open(`wss://${HOST}:${port}/`, { rejectUnauthorized: false });
    await roundTrip(ws);
  });
});

// ---- WebSocket.connect -----------------------------------------------------------

describe('client: WebSocket.connect', { timeout: 30_000 }, () => {
  test('resolves with an open socket, with the negotiated subprotocol', async () => {
    const srv = await echoServer();
    const ws = await withTimeout(WebSocket.connect(`${srv.base}/`, { protocols: ['chat'] }), 5000, 'connect');
    clients.add(ws);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(ws.protocol, 'chat');
    const log = new MessageLog(ws);
    ws.send('x');
    assert.equal(toBuffer((await log.next(1))[0]!.data).toString(), 'x');
  });

  test('rejects when nothing listens', async () => {
    await withTimeout(
      assert.rejects(WebSocket.connect(`ws://${HOST}:${await deadPort()}/`), (e: ErrorWithCode) => e.code === 'ECONNREFUSED'),
      5000,
      'connect',
    );
  });
});
