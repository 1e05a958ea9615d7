// WebSocketServer as ws users rely on it: options, events, refused handshakes,
// the handshake timeout, close() and shutdown().
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer, type VerifyClientInfo } from '../../packages/switchboard/src/index.js';
import {
  HOST,
  Inbox,
  RawClient,
  WsClient,
  clientFrame,
  closed,
  connect,
  connectPair,
  delay,
  once,
  rawRequest,
  startServer,
  upgradeRequest,
  waitFor,
  withTimeout,
} from './helpers.js';

const T = { timeout: 15_000 };

/** Connects a `ws` client that must be refused; returns the HTTP status and headers. */
async function refusedStatus(t: TestContext, url: string, options: WsClient.ClientOptions = {}, protocols?: string[]): Promise<http.IncomingMessage> {
  const client = new WsClient(url, protocols, options);
  t.after(() => client.terminate());
  return withTimeout(
    new Promise<http.IncomingMessage>((resolve, reject) => {
      client.once('open', () => reject(new Error('the handshake was accepted')));
      client.once('unexpected-response', (req, res) => {
        resolve(res);
        req.destroy();
      });
      client.on('error', () => {});
    }),
    5000,
    'a refused handshake',
  );
}

/** Resolves with the error of a connection attempt that must fail at the TCP level. */
function connectionError(t: TestContext, url: string): Promise<NodeJS.ErrnoException> {
  const client = new WsClient(url);
  t.after(() => client.terminate());
  return withTimeout(
    new Promise<NodeJS.ErrnoException>((resolve, reject) => {
      client.once('open', () => reject(new Error('the connection was accepted')));
      client.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
      client.once('error', resolve);
    }),
    5000,
    'a refused connection',
  );
}

async function echoOnce(client: WsClient, text: string): Promise<string> {
  const reply = once<[Buffer, boolean]>(client, 'message');
  client.send(text);
  const [data] = await reply;
  return data.toString();
}

/** wss.close(), bounded. */
function closeServer(wss: WebSocketServer): Promise<void> {
  return withTimeout(new Promise<void>((r) => wss.close(() => r())), 5000, 'wss.close()').catch(() => {});
}

/** Terminates the WebSocketServer's clients, closes it, then closes the http(s) server (bounded). */
function closeHttp(server: http.Server | https.Server, wss?: WebSocketServer): Promise<void> {
  if (wss) {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  }
  server.closeAllConnections();
  return withTimeout(new Promise<void>((r) => server.close(() => r())), 5000, 'server.close()').catch(() => {});
}

function echo(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary as boolean }));
}

describe('WebSocketServer options', () => {
  it('listens on port 0 / host and reports the address; emits listening and calls the callback', T, async (t) => {
    let called = false;
    const wss = new WebSocketServer({ port: 0, host: HOST }, () => {
      called = true;
    });
    t.after(() => {
      for (const ws of wss.clients) ws.terminate();
      return closeServer(wss);
    });
    await once(wss, 'listening');
    const address = wss.address() as AddressInfo;
    assert.equal(address.address, HOST);
    assert.ok(address.port > 0);
    await waitFor(() => called, 1000, 'the listen callback');
    wss.on('connection', echo);
    const client = await connect(t, `ws://${HOST}:${address.port}`);
    assert.equal(await echoOnce(client, 'hi'), 'hi');
  });

  it('requires exactly one of port, server, noServer', T, () => {
    assert.throws(() => new WebSocketServer({}), TypeError);
    assert.throws(() => new WebSocketServer({ port: 0, noServer: true }), TypeError);
  });

  it('accepts backlog', T, async (t) => {
    const server = await startServer(t, { backlog: 5 });
    server.wss.on('connection', echo);
    const client = await connect(t, server.url);
    assert.equal(await echoOnce(client, 'backlog'), 'backlog');
  });

  it('attaches to an existing http server (which keeps serving plain requests)', T, async (t) => {
    const httpServer = http.createServer((_req, res) => res.end('plain'));
    await new Promise<void>((r) => httpServer.listen(0, HOST, r));
    const port = (httpServer.address() as AddressInfo).port;
    const wss = new WebSocketServer({ server: httpServer });
    t.after(() => closeHttp(httpServer, wss));
    assert.deepEqual(wss.address(), httpServer.address());
    wss.on('connection', echo);
    const client = await connect(t, `ws://${HOST}:${port}/`);
    assert.equal(await echoOnce(client, 'over http'), 'over http');
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ host: HOST, port, path: '/' }, (res) => {
        let s = '';
        res.setEncoding('utf8').on('data', (d: string) => (s += d)).on('end', () => resolve(s));
      }).on('error', reject);
    });
    assert.equal(body, 'plain');
  });

  it('attaches to an https server (self-signed certificate made at test time)', T, async (t) => {
    if (spawnSync('which', ['openssl']).status !== 0) {
      t.skip('openssl is not installed: cannot generate a self-signed certificate for the https test');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=localhost'],
      { stdio: 'ignore', timeout: 10_000 },
    );
    const httpsServer = https.createServer({ key: readFileSync(keyPath), cert: readFileSync(certPath) });
    await new Promise<void>((r) => httpsServer.listen(0, HOST, r));
    const port = (httpsServer.address() as AddressInfo).port;
    const infos: VerifyClientInfo[] = [];
    const wss = new WebSocketServer({
      server: httpsServer,
      verifyClient: (info: VerifyClientInfo) => {
        infos.push(info);
        return true;
      },
    });
    t.after(() => closeHttp(httpsServer, wss));
    wss.on('connection', echo);
    const client = await connect(t, `wss://${HOST}:${port}/`, undefined, { rejectUnauthorized: false });
    assert.equal(await echoOnce(client, 'over tls'), 'over tls');
    assert.equal(infos.length, 1);
    assert.equal(infos[0]!.secure, true);
  });

  it('noServer: handleUpgrade from a user upgrade handler', T, async (t) => {
    const wss = new WebSocketServer({ noServer: true });
    assert.throws(() => wss.address(), /noServer/);
    const httpServer = http.createServer();
    t.after(() => closeHttp(httpServer, wss));
    const requests: string[] = [];
    httpServer.on('upgrade', (req, socket: Duplex, head: Buffer) => {
      requests.push(req.url ?? '');
      wss.handleUpgrade(req, socket, head, (ws, request) => {
        assert.equal(request, req);
        wss.emit('connection', ws, request);
      });
    });
    await new Promise<void>((r) => httpServer.listen(0, HOST, r));
    const port = (httpServer.address() as AddressInfo).port;
    const connection = once<[WebSocket]>(wss, 'connection');
    wss.on('connection', echo);
    const client = await connect(t, `ws://${HOST}:${port}/manual`);
    const [ws] = await connection;
    assert.ok(ws instanceof WebSocket);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.deepEqual(requests, ['/manual']);
    assert.ok(wss.clients.has(ws));
    assert.equal(await echoOnce(client, 'manual'), 'manual');
  });

  it('noServer: an idle timeout set on the socket before the upgrade does not cut the connection', T, async (t) => {
    const wss = new WebSocketServer({ noServer: true });
    const httpServer = http.createServer();
    t.after(() => closeHttp(httpServer, wss));
    httpServer.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
      // An idle timeout that destroys the socket, as an http server or a proxy layer might set.
      socket.setTimeout(200, () => socket.destroy());
      wss.handleUpgrade(req, socket, head, (ws) => echo(ws));
    });
    await new Promise<void>((r) => httpServer.listen(0, HOST, r));
    const client = await connect(t, `ws://${HOST}:${(httpServer.address() as AddressInfo).port}/`);
    await delay(600);
    assert.equal(client.readyState, WsClient.OPEN);
    assert.equal(await echoOnce(client, 'still here'), 'still here');
  });

  it('noServer: handleUpgrade on a socket already failing with an error destroys it, and the error is handled', T, async (t) => {
    const wss = new WebSocketServer({ noServer: true });
    const httpServer = http.createServer();
    t.after(() => closeHttp(httpServer, wss));
    const handedOver = new Promise<Duplex>((resolve) => {
      httpServer.on('upgrade', (req, socket: Duplex, head: Buffer) => {
        // The error is emitted on the next tick: handleUpgrade must leave a listener for it.
        socket.destroy(new Error('reset while upgrading'));
        wss.handleUpgrade(req, socket, head, () => assert.fail('a destroyed socket was upgraded'));
        resolve(socket);
      });
    });
    await new Promise<void>((r) => httpServer.listen(0, HOST, r));
    const raw = await RawClient.connect(t, (httpServer.address() as AddressInfo).port);
    raw.write(upgradeRequest('/'));
    const socket = await withTimeout(handedOver, 5000, 'the upgrade');
    await delay(100);
    assert.equal(socket.destroyed, true);
  });

  it('path: accepts the path (query ignored), refuses others with 400', T, async (t) => {
    const server = await startServer(t, { path: '/chat' });
    server.wss.on('connection', echo);
    const client = await connect(t, `${server.url}/chat?room=1`);
    assert.equal(await echoOnce(client, 'in chat'), 'in chat');
    const res = await refusedStatus(t, `${server.url}/other`);
    assert.equal(res.statusCode, 400);
    const { head, raw } = await rawRequest(t, server.port, upgradeRequest('/nope'));
    assert.equal(head.status, 400);
    await raw.waitClosed();
  });

  it('verifyClient (sync): false gives 401; info has origin, secure, req', T, async (t) => {
    const infos: VerifyClientInfo[] = [];
    const server = await startServer(t, {
      verifyClient: (info: VerifyClientInfo) => {
        infos.push(info);
        return info.req.url !== '/deny';
      },
    });
    server.wss.on('connection', echo);
    const res = await refusedStatus(t, `${server.url}/deny`, { origin: 'https://denied.example' });
    assert.equal(res.statusCode, 401);
    const client = await connect(t, `${server.url}/ok`, undefined, { origin: 'https://allowed.example' });
    assert.equal(await echoOnce(client, 'verified'), 'verified');
    assert.equal(infos.length, 2);
    assert.equal(infos[0]!.origin, 'https://denied.example');
    assert.equal(infos[1]!.origin, 'https://allowed.example');
    assert.equal(infos[1]!.secure, false);
    assert.ok(infos[1]!.req instanceof http.IncomingMessage);
    assert.equal(infos[1]!.req.url, '/ok');
    assert.equal(infos[1]!.req.headers.upgrade, 'websocket');
  });

  it('verifyClient (async): cb(false, 403, message, headers) answers with them; cb(true) accepts', T, async (t) => {
    const server = await startServer(t, {
      verifyClient: (info: VerifyClientInfo, cb: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void) => {
        setTimeout(() => {
          if (info.req.url === '/deny') cb(false, 403, 'Forbidden', { 'X-Reason': 'x' });
          else cb(true);
        }, 10);
      },
    });
    server.wss.on('connection', echo);
    const { head, raw } = await rawRequest(t, server.port, upgradeRequest('/deny'));
    assert.equal(head.status, 403);
    assert.equal(head.headers['x-reason'], 'x');
    await raw.waitClosed();
    const res = await refusedStatus(t, `${server.url}/deny`);
    assert.equal(res.statusCode, 403);
    assert.equal(res.headers['x-reason'], 'x');
    const client = await connect(t, `${server.url}/fine`);
    assert.equal(await echoOnce(client, 'async ok'), 'async ok');
  });

  it('verifyClient (async): frames sent with the request and while it is being verified all arrive, in order', T, async (t) => {
    const server = await startServer(t, {
      verifyClient: (_info: VerifyClientInfo, cb: (ok: boolean) => void) => {
        setTimeout(() => cb(true), 100);
      },
    });
    const received: string[] = [];
    server.wss.on('connection', (ws: WebSocket) => ws.on('message', (data: Buffer) => received.push(data.toString())));
    const raw = await RawClient.connect(t, server.port);
    raw.write(Buffer.concat([Buffer.from(upgradeRequest('/')), clientFrame(0x1, 'with the request')]));
    await delay(30);
    raw.write(clientFrame(0x1, 'during verification'));
    const head = await raw.readHead();
    assert.equal(head.status, 101);
    raw.write(clientFrame(0x1, 'after'));
    await waitFor(() => received.length === 3, 5000, 'three messages');
    assert.deepEqual(received, ['with the request', 'during verification', 'after']);
  });

  it('verifyClient that throws: 500, and the server keeps working', T, async (t) => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    t.after(() => process.removeListener('warning', onWarning));
    const server = await startServer(t, {
      verifyClient: (info: VerifyClientInfo) => {
        if (info.req.url === '/throw') throw new Error('verifier bug');
        return true;
      },
    });
    const { head, raw } = await rawRequest(t, server.port, upgradeRequest('/throw'));
    assert.equal(head.status, 500);
    await raw.waitClosed();
    await waitFor(() => warnings.some((w) => /verifier bug/.test(w.message)), 2000, 'a process warning');
    await connect(t, `${server.url}/fine`);
  });

  it('handleProtocols picks the protocol and gets the offered set and the request', T, async (t) => {
    const calls: Array<[string[], string | undefined]> = [];
    const server = await startServer(t, {
      handleProtocols: (protocols, req) => {
        calls.push([[...protocols], req.url]);
        return protocols.has('chat.v2') ? 'chat.v2' : false;
      },
    });
    const [client, ws] = await connectPair(t, server, ['chat.v1', 'chat.v2']);
    assert.equal(client.protocol, 'chat.v2');
    assert.equal(ws.protocol, 'chat.v2');
    assert.deepEqual(calls, [[['chat.v1', 'chat.v2'], '/']]);
  });

  it('handleProtocols returning false: 101 without Sec-WebSocket-Protocol', T, async (t) => {
    const server = await startServer(t, { handleProtocols: () => false });
    const connection = server.nextConnection();
    const { head } = await rawRequest(t, server.port, upgradeRequest('/', { 'Sec-WebSocket-Protocol': 'other' }));
    assert.equal(head.status, 101);
    assert.equal(head.headers['sec-websocket-protocol'], undefined);
    const [ws] = await connection;
    assert.equal(ws.protocol, '');
  });

  it('default protocol selection: the first offered', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server, ['first', 'second']);
    assert.equal(client.protocol, 'first');
    assert.equal(ws.protocol, 'first');
    // No protocol offered: none chosen.
    const [client2, ws2] = await connectPair(t, server);
    assert.equal(client2.protocol, '');
    assert.equal(ws2.protocol, '');
  });

  it('maxPayload: a larger message closes with 1009 and emits WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', T, async (t) => {
    const server = await startServer(t, { maxPayload: 1024 });
    const [client, ws] = await connectPair(t, server);
    const errors: Array<Error & { code?: string }> = [];
    ws.on('error', (e: Error) => errors.push(e));
    const serverMessages = new Inbox(ws);
    const serverClose = once<[number, Buffer]>(ws, 'close');
    const clientClose = closed(client);
    client.send(Buffer.alloc(1024, 1)); // exactly at the limit: fine
    await serverMessages.next(1);
    client.send(Buffer.alloc(1025, 2));
    const [code] = await clientClose;
    assert.equal(code, 1009);
    const [serverCode] = await serverClose;
    assert.equal(serverCode, 1009);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    assert.equal(serverMessages.messages.length, 1);
  });

  it('clientTracking true: clients holds open connections only', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    assert.ok(server.wss.clients instanceof Set);
    assert.equal(server.wss.clients.size, 1);
    assert.ok(server.wss.clients.has(ws));
    const gone = once(ws, 'close');
    client.close();
    await gone;
    assert.equal(server.wss.clients.size, 0);
  });

  it('clientTracking false: connections are not tracked', T, async (t) => {
    const server = await startServer(t, { clientTracking: false });
    const [, ws] = await connectPair(t, server);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(server.wss.clients.size, 0);
  });
});

describe('WebSocketServer events', () => {
  it('connection gets the socket and the request', T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    await connect(t, `${server.url}/where?x=1`);
    const [ws, req] = await connection;
    assert.ok(ws instanceof WebSocket);
    assert.ok(req instanceof http.IncomingMessage);
    assert.equal(req.url, '/where?x=1');
  });

  it('headers: a listener can add a header line to the 101 answer', T, async (t) => {
    const server = await startServer(t);
    const seen: string[][] = [];
    server.wss.on('headers', (headers: string[], req: http.IncomingMessage) => {
      assert.ok(req instanceof http.IncomingMessage);
      seen.push([...headers]);
      headers.push('X-Added: yes');
    });
    const client = new WsClient(server.url);
    t.after(() => client.terminate());
    const upgrade = once<[http.IncomingMessage]>(client, 'upgrade');
    const open = once(client, 'open');
    const [res] = await upgrade;
    assert.equal(res.headers['x-added'], 'yes');
    await open;
    assert.equal(seen.length, 1);
    assert.equal(seen[0]![0], 'HTTP/1.1 101 Switching Protocols');
  });

  it('error: listening on a port in use emits error', T, async (t) => {
    const server = await startServer(t);
    const second = new WebSocketServer({ port: server.port, host: HOST });
    t.after(() => closeServer(second));
    const [error] = await once<[NodeJS.ErrnoException]>(second, 'error');
    assert.equal(error.code, 'EADDRINUSE');
  });

  it('wsClientError: the listener gets (error with code, socket, req) and answers itself', T, async (t) => {
    const server = await startServer(t);
    const calls: Array<{ code: string; socket: Duplex; url: string | undefined }> = [];
    server.wss.on('wsClientError', (error: Error & { code: string }, socket: Duplex, req: http.IncomingMessage) => {
      calls.push({ code: error.code, socket, url: req.url });
      socket.end('HTTP/1.1 418 I am a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    const { head, raw } = await rawRequest(t, server.port, upgradeRequest('/bad', { 'Sec-WebSocket-Key': 'not-a-key' }));
    assert.equal(head.status, 418);
    await raw.waitClosed();
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.code, 'WS_ERR_INVALID_KEY');
    assert.equal(calls[0]!.url, '/bad');
    assert.equal(typeof calls[0]!.socket.write, 'function');
  });

  it('a plain HTTP GET (no upgrade) gets 426', T, async (t) => {
    const server = await startServer(t);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: HOST, port: server.port, path: '/', agent: false }, resolve).on('error', reject);
    });
    res.resume();
    assert.equal(res.statusCode, 426);
  });
});

describe('refused handshakes over raw TCP', () => {
  const cases: Array<{ name: string; request: () => string; status: number; header?: [string, string] }> = [
    {
      name: 'POST → 405',
      request: () => upgradeRequest('/').replace(/^GET /, 'POST '),
      status: 405,
    },
    {
      name: 'bad Sec-WebSocket-Key → 400',
      request: () => upgradeRequest('/', { 'Sec-WebSocket-Key': 'short' }),
      status: 400,
    },
    {
      name: 'Sec-WebSocket-Version 99 → 426 with Sec-WebSocket-Version: 13',
      request: () => upgradeRequest('/', { 'Sec-WebSocket-Version': '99' }),
      status: 426,
      header: ['sec-websocket-version', '13'],
    },
    {
      name: 'missing Host → 400',
      request: () => upgradeRequest('/', {}, { omit: ['Host'] }),
      status: 400,
    },
  ];
  for (const c of cases) {
    it(c.name + ' and the server closes the socket', T, async (t) => {
      const server = await startServer(t);
      let connections = 0;
      server.wss.on('connection', () => connections++);
      const { head, raw } = await rawRequest(t, server.port, c.request());
      assert.equal(head.status, c.status, head.raw);
      if (c.header) assert.equal(head.headers[c.header[0]], c.header[1]);
      await raw.waitClosed(3000);
      assert.equal(connections, 0);
    });
  }

  it('a half-sent upgrade request is dropped after handshakeTimeout', T, async (t) => {
    const server = await startServer(t, { handshakeTimeout: 300 });
    const raw = await RawClient.connect(t, server.port);
    const start = Date.now();
    raw.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\n`);
    await raw.waitClosed(4000);
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 200, `closed after ${elapsed} ms, before the timeout`);
  });

  it('handshakeTimeout is a deadline for the whole head: a client trickling bytes gets 408 all the same', T, async (t) => {
    const server = await startServer(t, { handshakeTimeout: 300 });
    const raw = await RawClient.connect(t, server.port);
    const start = Date.now();
    const request = `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Slow: ${'a'.repeat(200)}`;
    let sent = 0;
    // One byte every 20 ms: never idle for as long as the timeout, never done within 4 s.
    const trickle = setInterval(() => {
      if (sent < request.length && !raw.ended) raw.write(request[sent++]!);
    }, 20);
    t.after(() => clearInterval(trickle));
    const head = await raw.readHead(4000);
    clearInterval(trickle);
    assert.equal(head.status, 408);
    await raw.waitClosed(2000);
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 250 && elapsed < 2000, `closed after ${elapsed} ms`);
    assert.ok(sent < request.length, 'the whole head was sent before the server refused it');
  });

  it('a half-sent request still gets 408 after close(), and close() then completes', T, async (t) => {
    const server = await startServer(t, { handshakeTimeout: 300 });
    const raw = await RawClient.connect(t, server.port);
    raw.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n`);
    await delay(50);
    const closed = new Promise<void>((resolve) => server.wss.close(() => resolve()));
    const head = await raw.readHead(3000);
    assert.equal(head.status, 408);
    await raw.waitClosed(2000);
    await withTimeout(closed, 3000, 'wss.close()');
  });

  it('connections that complete their head in time are not refused by the deadline sweep', T, async (t) => {
    const server = await startServer(t, { handshakeTimeout: 200 });
    const clients = await Promise.all(Array.from({ length: 5 }, () => RawClient.open(t, server.port)));
    // Well past the deadline: the sweep must have run and left them alone.
    await delay(600);
    for (const client of clients) assert.equal(client.ended, false);
  });
});

describe('WebSocketServer close()', () => {
  it('with no clients: calls the callback, emits close, and refuses new connections', T, async (t) => {
    const server = await startServer(t);
    const closeEvent = once(server.wss, 'close');
    let called = false;
    await new Promise<void>((resolve) =>
      server.wss.close((err) => {
        assert.equal(err, undefined);
        called = true;
        resolve();
      }),
    );
    await closeEvent;
    assert.ok(called);
    const error = await connectionError(t, server.url);
    assert.equal(error.code, 'ECONNREFUSED');
  });

  it('with a client: stops accepting, leaves the client open, emits close when it is gone', T, async (t) => {
    const server = await startServer(t);
    server.wss.on('connection', echo);
    const [client] = await connectPair(t, server);
    let closedEvent = false;
    server.wss.on('close', () => (closedEvent = true));
    const done = new Promise<void>((resolve) => server.wss.close(() => resolve()));
    const error = await connectionError(t, server.url);
    assert.equal(error.code, 'ECONNREFUSED');
    assert.equal(await echoOnce(client, 'still here'), 'still here');
    await delay(50);
    assert.equal(closedEvent, false);
    client.close(1000);
    await withTimeout(done, 5000, 'close callback');
    assert.equal(closedEvent, true);
  });

  it('noServer: close() emits close; handleUpgrade afterwards answers 503', T, async (t) => {
    const wss = new WebSocketServer({ noServer: true });
    const httpServer = http.createServer();
    t.after(() => closeHttp(httpServer, wss));
    httpServer.on('upgrade', (req, socket: Duplex, head: Buffer) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
    await new Promise<void>((r) => httpServer.listen(0, HOST, r));
    const port = (httpServer.address() as AddressInfo).port;
    await new Promise<void>((r) => wss.close(() => r()));
    const { head, raw } = await rawRequest(t, port, upgradeRequest('/'));
    assert.equal(head.status, 503);
    await raw.waitClosed();
  });
});

describe('WebSocketServer shutdown()', () => {
  it('closes every client with the code and reason and resolves when all are gone', T, async (t) => {
    const server = await startServer(t);
    const [a] = await connectPair(t, server);
    const [b] = await connectPair(t, server);
    const closes = [closed(a), closed(b)];
    const serverClosed = once(server.wss, 'close');
    await withTimeout(server.wss.shutdown({ code: 1001, reason: 'bye', timeout: 3000 }), 5000, 'shutdown()');
    assert.deepEqual(await Promise.all(closes), [
      [1001, 'bye'],
      [1001, 'bye'],
    ]);
    assert.equal(server.wss.clients.size, 0);
    await serverClosed;
    const error = await connectionError(t, server.url);
    assert.equal(error.code, 'ECONNREFUSED');
  });

  it('terminates a client that never answers at the timeout, and still resolves', T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const serverClose = once<[number, Buffer]>(ws, 'close');
    const [good] = await connectPair(t, server);
    const goodClosed = closed(good);
    const start = Date.now();
    await withTimeout(server.wss.shutdown({ code: 1001, reason: 'bye', timeout: 300 }), 4000, 'shutdown()');
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 250, `resolved after ${elapsed} ms, before the timeout`);
    assert.deepEqual(await goodClosed, [1001, 'bye']);
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.equal(frame.payload.readUInt16BE(0), 1001);
    await raw.waitClosed(2000);
    const [code] = await serverClose;
    assert.equal(code, 1006);
  });

  it('closes the clients of a server with clientTracking: false too', T, async (t) => {
    const server = await startServer(t, { clientTracking: false });
    const [client] = await connectPair(t, server);
    const clientClosed = closed(client);
    await withTimeout(server.wss.shutdown({ code: 1012, reason: 'restart', timeout: 2000 }), 4000, 'shutdown()');
    assert.deepEqual(await clientClosed, [1012, 'restart']);
  });

  it('shutdown of a server without clients resolves at once', T, async (t) => {
    const server = await startServer(t);
    const start = Date.now();
    await withTimeout(server.wss.shutdown({ timeout: 3000 }), 2000, 'shutdown()');
    assert.ok(Date.now() - start < 1000);
  });
});
