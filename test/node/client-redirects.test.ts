// followRedirects as an attacker sees it: a server the client trusts with
// credentials redirects it elsewhere. Authorization, Cookie and URL userinfo
// (or the `auth` option) must reach only the host they were meant for (host
// and port, as ws compares them), never go from wss: down to ws:, and a
// redirect must not lead into a Unix socket unless the first URL was one.
// Real servers on 127.0.0.1 (and a Unix socket); "localhost" and
// "127.0.0.1" on the same port count as different hosts, as in ws and curl.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocket, WebSocketServer } from '../../packages/switchboard/src/index.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { HOST } from '../helpers/net.js';

type Client = InstanceType<typeof WebSocket>;
type ErrorWithCode = Error & { code?: string };

const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-redirects-'));
const clients = new Set<Client>();
const cleanups: Array<() => Promise<void>> = [];

after(async () => {
  for (const c of clients) c.terminate();
  for (const f of cleanups.reverse()) await withTimeout(f(), 5000, 'cleanup').catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * A WebSocket endpoint that records the headers of every upgrade request;
 * `/redirect?to=URL` answers 302 to URL, anything else is accepted.
 */
interface Recorder {
  port: number;
  /** Headers of each request, by path (the last request to that path). */
  seen: Map<string, http.IncomingHttpHeaders>;
  /** How many upgrade requests arrived. */
  requests: number;
}

function attach(server: http.Server | https.Server | net.Server, recorder: Recorder): void {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.on('error', () => {}));
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => {});
    recorder.requests++;
    const url = new URL(req.url ?? '/', 'http://x');
    recorder.seen.set(url.pathname, req.headers);
    const to = url.pathname === '/redirect' ? url.searchParams.get('to') : null;
    if (to !== null) {
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  cleanups.push(async () => {
    for (const ws of wss.clients) ws.terminate();
    (server as http.Server).closeAllConnections?.();
    await new Promise<void>((r) => server.close(() => r()));
  });
}

async function recorder(): Promise<Recorder> {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const rec: Recorder = { port: 0, seen: new Map(), requests: 0 };
  attach(server, rec);
  await new Promise<void>((r) => server.listen(0, HOST, r));
  rec.port = (server.address() as net.AddressInfo).port;
  return rec;
}

/** Connects with followRedirects; resolves once open (or rejects with the error). */
async function follow(url: string, options: Record<string, unknown> = {}): Promise<Client> {
  const ws = new WebSocket(url, { followRedirects: true, ...options });
  clients.add(ws);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    5000,
    `connecting to ${url}`,
  );
  return ws;
}

const SECRETS = { Authorization: 'Bearer s3cret', Cookie: 'session=abc', 'X-Trace': 'kept' };

describe('client redirects: credentials stay with their host', () => {
  let a: Recorder;
  let b: Recorder;

  before(async () => {
    a = await recorder();
    b = await recorder();
  });

  test('same host and port: Authorization and Cookie follow', async () => {
    const to = `ws://${HOST}:${a.port}/same`;
    await follow(`ws://${HOST}:${a.port}/redirect?to=${encodeURIComponent(to)}`, { headers: SECRETS });
    const headers = a.seen.get('/same')!;
    assert.equal(headers.authorization, 'Bearer s3cret');
    assert.equal(headers.cookie, 'session=abc');
    assert.equal(headers['x-trace'], 'kept');
  });

  test('another port on the same address is another host: Authorization and Cookie are dropped, other headers kept', async () => {
    const to = `ws://${HOST}:${b.port}/other-port`;
    await follow(`ws://${HOST}:${a.port}/redirect?to=${encodeURIComponent(to)}`, { headers: SECRETS });
    const headers = b.seen.get('/other-port')!;
    assert.equal(headers.authorization, undefined);
    assert.equal(headers.cookie, undefined);
    assert.equal(headers['x-trace'], 'kept');
  });

  test('127.0.0.1 -> localhost (same socket address, another host name): dropped', async () => {
    const to = `ws://localhost:${a.port}/by-name`;
    // family 4 so that "localhost" reaches the server on 127.0.0.1 even where it resolves to ::1 first.
    await follow(`ws://${HOST}:${a.port}/redirect?to=${encodeURIComponent(to)}`, { headers: SECRETS, family: 4 });
    const headers = a.seen.get('/by-name')!;
    assert.equal(headers.host, `localhost:${a.port}`);
    assert.equal(headers.authorization, undefined);
    assert.equal(headers.cookie, undefined);
  });

  test('URL userinfo and the auth option go to the first host only', async () => {
    const to = `ws://${HOST}:${b.port}/userinfo`;
    await follow(`ws://user:pa%20ss@${HOST}:${a.port}/redirect?to=${encodeURIComponent(to)}`);
    assert.equal(a.seen.get('/redirect')!.authorization, `Basic ${Buffer.from('user:pa ss').toString('base64')}`);
    assert.equal(b.seen.get('/userinfo')!.authorization, undefined);

    const to2 = `ws://${HOST}:${b.port}/auth-option`;
    await follow(`ws://${HOST}:${a.port}/redirect?to=${encodeURIComponent(to2)}`, { auth: 'me:pw' });
    assert.equal(b.seen.get('/auth-option')!.authorization, undefined);

    // Same host: userinfo credentials follow (as the Authorization header they became).
    const to3 = `ws://${HOST}:${a.port}/userinfo-same`;
    await follow(`ws://user:pw@${HOST}:${a.port}/redirect?to=${encodeURIComponent(to3)}`);
    assert.equal(a.seen.get('/userinfo-same')!.authorization, `Basic ${Buffer.from('user:pw').toString('base64')}`);
  });

  test('a Location with a malformed %-escape in its userinfo does not throw (it is decoded leniently, as ws does)', async () => {
    const to = `ws://%E0:x@${HOST}:${a.port}/bad-escape`;
    await follow(`ws://${HOST}:${a.port}/redirect?to=${encodeURIComponent(to)}`);
    assert.match(String(a.seen.get('/bad-escape')!.authorization), /^Basic /);
  });

  test('with a redirect listener nothing is dropped for you; it gets the next request, whose headers it may remove (as in ws)', async () => {
    const to = `ws://${HOST}:${b.port}/listener`;
    const ws = new WebSocket(`ws://${HOST}:${a.port}/redirect?to=${encodeURIComponent(to)}`, { followRedirects: true, headers: SECRETS });
    clients.add(ws);
    ws.on('redirect', (url: string, req: http.ClientRequest) => {
      assert.equal(url, to);
      req.removeHeader('cookie');
    });
    await onceEvent(ws, 'open');
    const headers = b.seen.get('/listener')!;
    assert.equal(headers.authorization, 'Bearer s3cret');
    assert.equal(headers.cookie, undefined);
  });
});

describe('client redirects: wss: -> ws: downgrade', { timeout: 60_000 }, () => {
  let port: number;
  const rec: Recorder = { port: 0, seen: new Map(), requests: 0 };

  before(async () => {
    const keyFile = path.join(tmp, 'key.pem');
    const certFile = path.join(tmp, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    // wss: and ws: on one port, so that the downgrade is the only difference: the first byte tells a TLS ClientHello (0x16) from HTTP.
    const tlsServer = https.createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) });
    const plainServer = http.createServer();
    attach(tlsServer, rec);
    attach(plainServer, rec);
    const front = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('readable', () => {
        const first = socket.read(1) as Buffer | null;
        if (first === null) return socket.destroy();
        socket.unshift(first);
        (first[0] === 0x16 ? tlsServer : plainServer).emit('connection', socket);
      });
    });
    cleanups.push(() => new Promise<void>((r) => front.close(() => r())));
    await new Promise<void>((r) => front.listen(0, HOST, r));
    port = (front.address() as net.AddressInfo).port;
    rec.port = port;
  });

  test('wss: -> wss: on the same host keeps them; wss: -> ws: drops them', async () => {
    const ca = readFileSync(path.join(tmp, 'cert.pem'));
    const secure = `wss://${HOST}:${port}/secure`;
    await follow(`wss://${HOST}:${port}/redirect?to=${encodeURIComponent(secure)}`, { headers: SECRETS, ca });
    assert.equal(rec.seen.get('/secure')!.authorization, 'Bearer s3cret');

    const plain = `ws://${HOST}:${port}/downgraded`;
    await follow(`wss://${HOST}:${port}/redirect?to=${encodeURIComponent(plain)}`, { headers: SECRETS, ca });
    const headers = rec.seen.get('/downgraded')!;
    assert.equal(headers.authorization, undefined);
    assert.equal(headers.cookie, undefined);
    assert.equal(headers['x-trace'], 'kept');
  });
});

describe('client redirects: ws+unix: targets', () => {
  let a: Recorder;
  const unixRec: Recorder = { port: 0, seen: new Map(), requests: 0 };
  const socketPath = path.join(tmp, 'ipc.sock');

  before(async () => {
    a = await recorder();
    const server = http.createServer();
    attach(server, unixRec);
    await new Promise<void>((r) => server.listen(socketPath, r));
  });

  test('a network URL redirecting into a Unix socket is refused (WS_ERR_INVALID_URL, 1006) and the socket sees nothing', async () => {
    const to = `ws+unix://${socketPath}:/inside`;
    const ws = new WebSocket(`ws://${HOST}:${a.port}/redirect?to=${encodeURIComponent(to)}`, { followRedirects: true, headers: SECRETS });
    clients.add(ws);
    const [error] = await onceEvent<[ErrorWithCode]>(ws, 'error').catch((e: ErrorWithCode) => [e] as [ErrorWithCode]);
    assert.equal(error.code, 'WS_ERR_INVALID_URL', error.message);
    const [code] = ws.readyState === WebSocket.CLOSED ? [1006] : await onceEvent<[number]>(ws, 'close');
    assert.equal(code, 1006);
    assert.equal(unixRec.requests, 0);
  });

  test('a Unix socket URL may redirect within its socket, credentials included', async () => {
    const to = `ws+unix://${socketPath}:/next`;
    await follow(`ws+unix://${socketPath}:/redirect?to=${encodeURIComponent(to)}`, { headers: SECRETS });
    assert.equal(unixRec.seen.get('/next')!.authorization, 'Bearer s3cret');
  });
});
