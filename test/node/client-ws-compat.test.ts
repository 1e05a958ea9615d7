// What the client does the way ws 8.21 does it (issue #15): URL and subprotocol SyntaxErrors,
// unexpected-response ownership, invalid redirect locations, finishRequest, the port given to
// createConnection, a bad 101 failing on a later tick, handshake error texts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type ClientRequest, type IncomingMessage, type Server } from 'node:http';
import { createConnection, type AddressInfo, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer, createWebSocketStream } from '../../packages/switchboard/src/index.js';
import { HANDSHAKE_GUID } from '../../packages/switchboard/src/protocol/index.js';
import { delay, once } from './helpers.js';

const T = { timeout: 15_000 };

/** An http server whose upgrade requests `answer` handles with the raw socket; closed when the test ends. */
async function rawServer(t: TestContext, answer: (req: IncomingMessage, socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer();
  const sockets = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    answer(req, socket);
  });
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

const accept = (req: IncomingMessage): string =>
  createHash('sha1')
    .update(String(req.headers['sec-websocket-key']) + HANDSHAKE_GUID)
    .digest('base64');

describe('constructor errors, as in ws', () => {
  it('a bad URL or subprotocol is a SyntaxError (its name also what the WHATWG DOMException has)', () => {
    for (const [make, message] of [
      [() => new WebSocket('not a url'), 'Invalid URL: not a url'],
      [() => new WebSocket('ftp://example.test'), 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"'],
      [() => new WebSocket('ws://example.test/#x'), 'The URL contains a fragment identifier'],
      [() => new WebSocket('ws://example.test', ['a', 'a']), 'An invalid or duplicated subprotocol was specified'],
      [() => new WebSocket('ws://example.test', null as unknown as string), 'An invalid or duplicated subprotocol was specified'],
      [() => new WebSocket('ws://example.test', ''), 'An invalid or duplicated subprotocol was specified'],
    ] as const) {
      assert.throws(make, (error: Error) => {
        assert.ok(error instanceof SyntaxError, `${message}: a SyntaxError`);
        assert.equal(error.name, 'SyntaxError');
        assert.equal(error.message, message);
        return true;
      });
    }
  });
});

describe("'unexpected-response'", () => {
  it("a listener owns the response: no 'error', and close() afterwards ends the attempt as in ws", T, async (t) => {
    const { port } = await rawServer(t, (_req, socket) => {
      socket.write('HTTP/1.1 401 Unauthorized\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nfoo');
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const errors: Error[] = [];
    ws.on('error', (error) => errors.push(error));
    const [request, response] = await once<[ClientRequest, IncomingMessage]>(ws, 'unexpected-response');
    assert.equal(response.statusCode, 401);
    assert.equal(ws._req, request);
    let body = '';
    response.on('data', (chunk: Buffer) => (body += chunk));
    await once(response, 'end');
    assert.equal(body, 'foo');
    await delay(50);
    assert.equal(errors.length, 0);
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    const closed = once<[number]>(ws, 'close');
    ws.close();
    assert.equal((await closed)[0], 1006);
    assert.deepEqual(
      errors.map((error) => error.message),
      ['WebSocket was closed before the connection was established'],
    );
    // The keep-alive socket went with the request.
    assert.ok(request.socket === null || request.socket.destroyed);
  });

  it("without a listener, 'error' says Unexpected server response", T, async (t) => {
    const { port } = await rawServer(t, (_req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const [error] = await once<[Error & { code?: string }]>(ws, 'error');
    assert.equal(error.message, 'Unexpected server response: 403');
    assert.equal(error.code, 'WS_ERR_UNEXPECTED_RESPONSE');
  });
});

describe('followRedirects', () => {
  for (const [location, message] of [
    ['ws://', 'Invalid URL: ws://'],
    ['bad-scheme://localhost', 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"'],
  ]) {
    it(`an invalid Location (${location}) is a SyntaxError, after one redirect`, T, async (t) => {
      const { port } = await rawServer(t, (_req, socket) => socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\n\r\n`));
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, { followRedirects: true });
      const [error] = await once<[Error]>(ws, 'error');
      assert.ok(error instanceof SyntaxError);
      assert.equal(error.message, message);
      assert.equal(ws._redirects, 1);
    });
  }
});

describe('request options', () => {
  it('finishRequest gets the request before it is sent and sends it itself', T, async (t) => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    t.after(() => {
      for (const client of wss.clients) client.terminate();
      wss.close();
    });
    await once(wss, 'listening');
    const connection = once<[WebSocket, IncomingMessage]>(wss, 'connection');
    let given: ClientRequest | undefined;
    let givenSocket: WebSocket | undefined;
    const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {
      finishRequest(request: ClientRequest, socket: WebSocket) {
        given = request;
        givenSocket = socket;
        request.setHeader('Cookie', 'foo=bar');
        request.end();
      },
    });
    t.after(() => ws.terminate());
    const [, req] = await connection;
    assert.equal(req.headers.cookie, 'foo=bar');
    assert.ok(given);
    assert.equal(givenSocket, ws);
    await once(ws, 'open');
  });

  it('createConnection gets the port as the URL writes it (a string), as in ws', T, async (t) => {
    const { port } = await rawServer(t, (req, socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(req)}\r\n\r\n`);
    });
    let givenPort: unknown;
    let givenHost: unknown;
    const ws = new WebSocket('ws://example.test:22/x', {
      perMessageDeflate: false,
      createConnection: (options: Record<string, unknown>) => {
        givenPort = options.port;
        givenHost = options.host;
        return createConnection({ host: '127.0.0.1', port });
      },
    });
    t.after(() => ws.terminate());
    await once(ws, 'open');
    assert.equal(givenPort, '22');
    assert.equal(givenHost, 'example.test');
  });
});

describe('a 101 that breaks the rules', () => {
  it("is CLOSING at once, and 'error' comes on a later tick, after a stream's end() reached _final", T, async (t) => {
    const { port } = await rawServer(t, (_req, socket) => {
      socket.on('end', () => socket.end());
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: foo\r\n\r\n');
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    const duplex = createWebSocketStream(ws);
    const events: string[] = [];
    const final = duplex._final.bind(duplex);
    duplex._final = (callback) => {
      events.push(`final ${ws.readyState}`);
      final(callback);
    };
    duplex.on('error', (error) => events.push(`error ${error.message}`));
    ws.on('upgrade', () => {
      events.push(`upgrade ${ws.readyState}`);
      process.nextTick(() => duplex.end());
    });
    await once(duplex, 'close');
    assert.deepEqual(events, ['upgrade 0', 'final 2', 'error Invalid Sec-WebSocket-Accept header']);
  });
});
