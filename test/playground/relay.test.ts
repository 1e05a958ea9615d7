// The playground's relay without a browser: which targets and clients it
// accepts, and its protocol (control messages as JSON text, data as tagged
// binary frames) against upstream servers of the test's own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WsClient from 'ws';
import { WebSocketServer, type WebSocket } from '../../packages/switchboard/src/index.js';
import { DATA_BINARY, DATA_TEXT, RELAY_PATH, type RelayToPage } from '../../packages/cli/shared/playground-protocol.js';
import { checkTarget, isLoopbackHost, MAX_RELAY_HEADERS, MAX_RELAY_SESSIONS, MAX_RELAY_UPSTREAM_BUFFERED, PlaygroundRelay, shortReason } from '../../packages/cli/src/playground-relay.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { HOST } from '../helpers/net.js';

test('loopback hosts: 127.0.0.0/8, ::1 (also IPv4-mapped), localhost; nothing else', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '[::1]', '::1', '::ffff:127.0.0.1', '[::ffff:7f00:1]', '0:0:0:0:0:0:0:1']) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (const host of ['10.0.0.1', '0.0.0.0', '128.0.0.1', 'example.com', 'localhost.example.com', '::', '[::2]', '::ffff:10.0.0.1', '169.254.169.254', '']) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});

test('shortReason: at most 123 bytes of UTF-8, whole characters, "…" when cut', () => {
  assert.equal(shortReason('short'), 'short');
  for (const text of ['x'.repeat(200), 'é'.repeat(100), '😀'.repeat(50), `a${'€'.repeat(80)}`]) {
    const reason = shortReason(text);
    assert.ok(Buffer.byteLength(reason) <= 123, reason);
    assert.ok(reason.endsWith('…') && text.startsWith(reason.slice(0, -1)), reason);
    assert.ok(!reason.includes('\ufffd'));
  }
  assert.equal(Buffer.byteLength(shortReason('x'.repeat(200))), 123);
});

test('targets: loopback by default, allowed hosts, "*"; URL spellings of 127.0.0.1 are normalised first', () => {
  assert.ok('url' in checkTarget('ws://127.0.0.1:9001/chat', []));
  assert.ok('url' in checkTarget('ws://localhost/', []));
  assert.ok('url' in checkTarget('wss://[::1]:8443/', []));
  assert.ok('url' in checkTarget('ws://2130706433:80/', []), 'a decimal IPv4 address is 127.0.0.1');
  assert.ok('url' in checkTarget('http://127.0.0.1/', []), 'http:// means ws://');
  const refused = checkTarget('ws://intranet.example:80/', []);
  assert.ok('refused' in refused && /--relay-allow intranet\.example/.test(refused.refused), JSON.stringify(refused));
  assert.ok('refused' in checkTarget('ws://169.254.169.254/', []));
  assert.ok('url' in checkTarget('ws://intranet.example:80/', ['intranet.example']));
  assert.ok('url' in checkTarget('ws://10.1.2.3/', ['10.1.2.3']));
  assert.ok('url' in checkTarget('ws://[fd00::1]/', ['fd00::1']));
  assert.ok('url' in checkTarget('wss://anything.example/', ['*']));
  assert.ok('refused' in checkTarget('ftp://127.0.0.1/', []));
  assert.ok('refused' in checkTarget('not a url', []));
  for (const relay of [`ws://127.0.0.1:8080${RELAY_PATH}`, `ws://127.0.0.1:8080${RELAY_PATH}?x=1#y`, `http://localhost${RELAY_PATH}`, `wss://other.example${RELAY_PATH}`]) {
    const checked = checkTarget(relay, ['*']);
    assert.ok('refused' in checked && /does not connect to a relay/.test(checked.refused), `${relay}: a relay is never a target (no chains)`);
  }
});

describe('relay protocol', { timeout: 60_000 }, () => {
  let server: Server;
  let relay: PlaygroundRelay;
  let base = '';
  let upstream: WebSocketServer;
  let upstreamUrl = '';
  const heard: IncomingMessage[] = [];

  before(async () => {
    relay = new PlaygroundRelay({ allow: [], maxPayload: 1024 * 1024 });
    server = createServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (req.url === RELAY_PATH) relay.handleUpgrade(req, socket, head, false);
      else socket.destroy();
    });
    server.listen(0, HOST);
    await onceEvent(server, 'listening');
    base = `ws://${HOST}:${(server.address() as AddressInfo).port}${RELAY_PATH}`;

    upstream = new WebSocketServer({
      port: 0,
      host: HOST,
      verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string) => void) => {
        heard.push(info.req);
        if (info.req.url === '/refuse') done(false, 403, 'go away');
        else done(true);
      },
    });
    await onceEvent(upstream, 'listening');
    upstreamUrl = `ws://${HOST}:${(upstream.address() as AddressInfo).port}`;
    upstream.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      if (req.url === '/stall') ws.pause(); // a server that never reads
      ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    });
  });

  after(async () => {
    await relay.shutdown(1000);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    for (const ws of upstream.clients) ws.terminate();
    await new Promise((r) => upstream.close(r));
  });

  const p0Error = (control: RelayToPage[]): string | undefined => {
    const error = control.find((m) => m.type === 'error');
    return error?.type === 'error' ? error.message : undefined;
  };

  /** A page: the relay's messages, control ones parsed. */
  async function page(connect: Record<string, unknown>, headers: Record<string, string> = {}) {
    // As a browser does: the page's own origin (http://HOST:PORT, the Host of the request).
    const ws = new WsClient(base, { headers, origin: new URL(base.replace(/^ws/, 'http')).origin });
    const control: RelayToPage[] = [];
    const data: Array<{ tag: number; body: Buffer }> = [];
    let notify = (): void => {};
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      if (isBinary) data.push({ tag: raw[0]!, body: raw.subarray(1) });
      else control.push(JSON.parse(raw.toString()) as RelayToPage);
      notify();
    });
    const closed = onceEvent<[number, Buffer]>(ws, 'close', 10_000);
    await onceEvent(ws, 'open');
    ws.send(JSON.stringify({ type: 'connect', ...connect }));
    const until = async (check: () => boolean, what: string): Promise<void> => {
      await withTimeout(
        (async () => {
          while (!check()) await new Promise<void>((r) => (notify = r));
        })(),
        5000,
        `${what}: ${JSON.stringify(control)}`,
      );
    };
    return { ws, control, data, closed, until };
  }

  test('handshake, open, text and binary both ways, ping/pong, close passed upstream', async () => {
    const p = await page({ url: `${upstreamUrl}/x`, protocols: [], headers: [['X-One', 'a'], ['x-one', 'b'], ['Authorization', 'Bearer t']] });
    await p.until(() => p.control.some((m) => m.type === 'open'), 'open');
    const hs = p.control.find((m) => m.type === 'handshake');
    assert.ok(hs && hs.type === 'handshake' && hs.status === 101 && hs.headers.some(([n]) => n.toLowerCase() === 'sec-websocket-accept'));
    const req = heard.at(-1)!;
    assert.equal(req.headers['x-one'], 'a, b', 'repeated headers are joined');
    assert.equal(req.headers.authorization, 'Bearer t');

    p.ws.send(Buffer.concat([Buffer.from([DATA_TEXT]), Buffer.from('héllo')]));
    p.ws.send(Buffer.from([DATA_BINARY, 0, 255]));
    await p.until(() => p.data.length === 2, 'two echoes');
    assert.deepEqual(p.data.map((d) => [d.tag, d.body.toString('hex')]), [
      [DATA_TEXT, Buffer.from('héllo').toString('hex')],
      [DATA_BINARY, '00ff'],
    ]);

    p.ws.send(JSON.stringify({ type: 'ping', data: 'abcd' }));
    await p.until(() => p.control.some((m) => m.type === 'pong'), 'the pong');
    assert.deepEqual(p.control.find((m) => m.type === 'pong'), { type: 'pong', data: 'abcd' });

    const upstreamSide = [...upstream.clients].at(-1)!;
    const upstreamClosed = onceEvent<[number, Buffer]>(upstreamSide, 'close');
    p.ws.send(JSON.stringify({ type: 'close', code: 4000, reason: 'bye' }));
    const [code, reason] = await upstreamClosed;
    assert.deepEqual([code, reason.toString()], [4000, 'bye']);
    await p.until(() => p.control.some((m) => m.type === 'close'), 'the close report');
    assert.deepEqual(p.control.find((m) => m.type === 'close'), { type: 'close', code: 4000, reason: 'bye', wasClean: true });
    assert.equal((await p.closed)[0], 1000);
  });

  test('a refused handshake: status, headers and body reach the page before the close', async () => {
    const p = await page({ url: `${upstreamUrl}/refuse`, protocols: [], headers: [] });
    await p.until(() => p.control.some((m) => m.type === 'close'), 'the close');
    const types = p.control.map((m) => m.type);
    assert.ok(types.indexOf('handshake') < types.indexOf('close'), types.join());
    const hs = p.control.find((m) => m.type === 'handshake');
    assert.ok(hs && hs.type === 'handshake');
    assert.equal(hs.status, 403);
    assert.match(hs.body ?? '', /go away/);
    assert.ok(p.control.some((m) => m.type === 'error'));
  });

  test('refused: other hosts, reserved headers, bad subprotocols, line breaks in values; an unreachable port is an error, then a close', async () => {
    for (const [connect, pattern] of [
      [{ url: 'ws://intranet.example/', protocols: [], headers: [] }, /only to this machine/],
      [{ url: `${upstreamUrl}/`, protocols: [], headers: [['Sec-WebSocket-Key', 'x']] }, /set by the WebSocket client/],
      [{ url: `${upstreamUrl}/`, protocols: ['bad protocol'], headers: [] }, /protocols must be tokens/],
      [{ url: `${upstreamUrl}/`, protocols: [], headers: [['X-A', 'line\r\nbreak']] }, /line break/],
    ] as const) {
      const p = await page(connect);
      const [code, reason] = await p.closed;
      assert.equal(code, 1008);
      const error = p.control.find((m) => m.type === 'error');
      assert.ok(error && error.type === 'error' && pattern.test(error.message), `${JSON.stringify(connect)}: ${JSON.stringify(p.control)} ${reason.toString()}`);
      assert.ok(Buffer.byteLength(reason) <= 123);
    }
    const free = createServer();
    free.listen(0, HOST);
    await onceEvent(free, 'listening');
    const port = (free.address() as AddressInfo).port;
    await new Promise((r) => free.close(r));
    const p = await page({ url: `ws://${HOST}:${port}/`, protocols: [], headers: [] });
    await p.closed;
    assert.ok(p.control.some((m) => m.type === 'error' && m.code === 'ECONNREFUSED'), JSON.stringify(p.control));
    assert.ok(p.control.some((m) => m.type === 'close' && m.code === 1006));
  });

  test('only this machine\'s pages: a foreign Origin or a DNS name as Host gets 403', async () => {
    for (const headers of [{ Origin: 'http://evil.example' }, { Host: 'rebound.example:1234', Origin: 'http://rebound.example:1234' }]) {
      const ws = new WsClient(base, { headers });
      ws.on('error', () => {});
      const [, res] = await onceEvent<[unknown, IncomingMessage]>(ws, 'unexpected-response');
      assert.equal(res.statusCode, 403, JSON.stringify(headers));
      ws.terminate();
    }
  });

  test('no Origin (a client that is not a page), or a request forwarded by a proxy on this machine: 403', async () => {
    const origin = new URL(base.replace(/^ws/, 'http')).origin;
    const attempts: Array<Record<string, string>> = [
      {},
      { Host: `127.0.0.2:${new URL(base).port}` },
      { Origin: origin, 'X-Forwarded-For': '203.0.113.7' },
      { Origin: origin, Forwarded: 'for=203.0.113.7' },
      { Origin: origin, Via: '1.1 proxy' },
      { Origin: origin, 'X-Real-IP': '203.0.113.7' },
    ];
    for (const headers of attempts) {
      const ws = new WsClient(base, { headers });
      ws.on('error', () => {});
      const [, res] = await onceEvent<[unknown, IncomingMessage]>(ws, 'unexpected-response');
      assert.equal(res.statusCode, 403, JSON.stringify(headers));
      ws.terminate();
    }
  });

  test('an 80 KB bad target URL and 8,000 headers are answered at once (linear, bounded), and the relay still serves', async () => {
    const started = performance.now();
    const longUrl = await page({ url: `not a url ${'x'.repeat(80_000)}`, protocols: [], headers: [] });
    const [code1, reason1] = await longUrl.closed;
    assert.equal(code1, 1008);
    assert.match(reason1.toString(), /longer than 8192 characters/);
    const badUrl = await page({ url: `not a url ${'x'.repeat(8000)}`, protocols: [], headers: [] });
    const [code2, reason2] = await badUrl.closed;
    assert.equal(code2, 1008);
    assert.match(reason2.toString(), /^not a URL: not a url x+…$/);
    assert.ok(Buffer.byteLength(reason2) <= 123);
    const manyHeaders = await page({ url: `${upstreamUrl}/`, protocols: [], headers: Array.from({ length: 8000 }, (_, i) => [`X-H${i}`, 'v']) });
    const [code3, reason3] = await manyHeaders.closed;
    assert.equal(code3, 1008);
    assert.match(reason3.toString(), new RegExp(`at most ${MAX_RELAY_HEADERS} request headers`));
    const elapsed = performance.now() - started;
    // Before: 27 s for the URL (quadratic shortReason), 3 s for the headers. Generous: the point is linear vs quadratic.
    assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);

    // Many headers within the limit, repeated in different cases, are joined in linear time too.
    const joined = await page({ url: `${upstreamUrl}/joined`, protocols: [], headers: Array.from({ length: MAX_RELAY_HEADERS }, (_, i) => [i % 2 ? 'x-rep' : 'X-Rep', String(i)]) });
    await joined.until(() => joined.control.some((m) => m.type === 'open'), 'open');
    assert.equal(heard.at(-1)!.headers['x-rep'], Array.from({ length: MAX_RELAY_HEADERS }, (_, i) => String(i)).join(', '));
    joined.ws.close();
  });

  test('no chains: the relay as a target, or the headers its checks trust (Origin, Host, forwarding, Sec-WebSocket-*), are refused', async () => {
    const origin = new URL(base.replace(/^ws/, 'http')).origin;
    const before = heard.length;
    for (const [connect, pattern] of [
      // The red team's chain: the relay's own URL with the page's own Origin, so that the hop passes the Origin check.
      [{ url: base, protocols: [], headers: [['Origin', origin]] }, /a page may not send it/],
      [{ url: base, protocols: [], headers: [] }, /does not connect to a relay/],
      [{ url: `${base}?hop=2`, protocols: [], headers: [] }, /does not connect to a relay/],
      [{ url: `${upstreamUrl}/`, protocols: [], headers: [['origin', origin]] }, /a page may not send it/],
      [{ url: `${upstreamUrl}/`, protocols: [], headers: [['Host', `${HOST}:1`]] }, /a page may not send it/],
      [{ url: `${upstreamUrl}/`, protocols: [], headers: [['X-Forwarded-Proto', 'https']] }, /a page may not send it/],
      [{ url: `${upstreamUrl}/`, protocols: [], headers: [['Forwarded', 'for=1.2.3.4']] }, /a page may not send it/],
      [{ url: `${upstreamUrl}/`, protocols: [], headers: [['Sec-WebSocket-Anything', 'x']] }, /a page may not send it/],
    ] as const) {
      const p = await page(connect);
      const [code] = await p.closed;
      assert.equal(code, 1008, JSON.stringify(connect));
      const error = p.control.find((m) => m.type === 'error');
      assert.ok(error?.type === 'error' && ['RELAY_BAD_REQUEST', 'RELAY_REFUSED'].includes(error.code), JSON.stringify(p.control));
      assert.match(error.message, pattern, JSON.stringify(connect));
    }
    assert.equal(heard.length, before, 'no upstream request was made');
  });

  test(`at most ${MAX_RELAY_SESSIONS} upstream connections at once (one per page connection): the next gets RELAY_BUSY and 1013`, async () => {
    const pages = [];
    for (let i = 0; i < MAX_RELAY_SESSIONS; i++) {
      const p = await page({ url: `${upstreamUrl}/many`, protocols: [], headers: [] });
      await p.until(() => p.control.some((m) => m.type === 'open'), 'open');
      pages.push(p);
    }
    const second = pages[0]!;
    second.ws.send(JSON.stringify({ type: 'connect', url: `${upstreamUrl}/again`, protocols: [], headers: [] }));
    await second.until(() => p0Error(second.control) !== undefined, 'already connected');
    assert.match(p0Error(second.control)!, /already connected/);

    const busy = await page({ url: `${upstreamUrl}/one-too-many`, protocols: [], headers: [] });
    const [code] = await busy.closed;
    assert.equal(code, 1013);
    assert.ok(busy.control.some((m) => m.type === 'error' && m.code === 'RELAY_BUSY'), JSON.stringify(busy.control));

    const closedOne = pages.pop()!;
    closedOne.ws.close();
    await closedOne.closed;
    await withTimeout(
      (async () => {
        for (;;) {
          const again = await page({ url: `${upstreamUrl}/after`, protocols: [], headers: [] });
          await again.until(() => again.control.some((m) => m.type === 'open' || m.type === 'error'), 'open or busy');
          if (again.control.some((m) => m.type === 'open')) return again.ws.close();
          await again.closed; // its upstream has not finished closing yet
        }
      })(),
      5000,
      'a session after one closed',
    );
    for (const p of pages) p.ws.close();
    await Promise.all(pages.map((p) => p.closed));
  });

  test('a target that never reads: what waits to go upstream is bounded, then the upstream connection fails (1013)', async () => {
    const p = await page({ url: `${upstreamUrl}/stall`, protocols: [], headers: [] });
    await p.until(() => p.control.some((m) => m.type === 'open'), 'open');
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    chunk[0] = DATA_BINARY;
    const total = MAX_RELAY_UPSTREAM_BUFFERED * 3;
    for (let sent = 0; sent < total && p.ws.readyState === p.ws.OPEN; sent += chunk.length) {
      p.ws.send(chunk);
      await new Promise((r) => setImmediate(r));
    }
    await p.until(() => p.control.some((m) => m.type === 'close'), 'the upstream connection failed');
    const close = p.control.find((m) => m.type === 'close');
    assert.ok(close && close.type === 'close' && close.code === 1013, JSON.stringify(p.control.slice(-3)));
    assert.ok(p.control.some((m) => m.type === 'error' && m.code === 'WS_ERR_BUFFERED_AMOUNT_EXCEEDED'), JSON.stringify(p.control.slice(-3)));
  });

  test('a control message over 256 KiB closes the page with 1009', async () => {
    const p = await page({ url: `${upstreamUrl}/`, protocols: [], headers: [] });
    await p.until(() => p.control.some((m) => m.type === 'open'), 'open');
    p.ws.send(JSON.stringify({ type: 'ping', data: 'a'.repeat(300 * 1024) }));
    const [code] = await p.closed;
    assert.equal(code, 1009);
  });

  test('a page that goes away closes its upstream connection', async () => {
    const p = await page({ url: `${upstreamUrl}/`, protocols: [], headers: [] });
    await p.until(() => p.control.some((m) => m.type === 'open'), 'open');
    const upstreamSide = [...upstream.clients].at(-1)!;
    const closed = onceEvent<[number, Buffer]>(upstreamSide, 'close');
    p.ws.terminate();
    assert.equal((await closed)[0], 1000);
  });
});
