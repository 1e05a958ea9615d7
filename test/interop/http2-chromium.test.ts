// Chromium's native WebSocket over HTTP/2 (RFC 8441): a page loaded over
// HTTP/2 from an http2.createSecureServer (allowHTTP1, self-signed
// certificate made at test time) opens several WebSockets to the same
// origin; the server counts sessions and streams to prove they rode the
// page's connection. With `http2: false` they fall back to HTTP/1.1.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { WebSocket, WebSocketServer } from '../../packages/switchboard/src/index.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { portOf } from '../helpers/h2.js';
import { HOST } from '../helpers/net.js';
import { selfSignedCert } from '../helpers/tls.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const T = { timeout: 90_000 };

// The page: three WebSockets at once, each echoing text, binary and 3 MiB, then closing with 1000.
const PAGE = `<!doctype html><meta charset="utf-8"><title>h2</title><link rel="icon" href="data:,">
<script>
function echoOne(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const big = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const results = [];
    const log = [];
    ws.onerror = () => log.push('error');
    ws.onopen = () => { ws.send('hello'); ws.send(new Uint8Array([1, 2, 3])); ws.send(big); };
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') results.push(e.data === 'hello');
      else {
        const got = new Uint8Array(e.data);
        if (got.length === 3) results.push(got[0] === 1 && got[2] === 3);
        else results.push(got.length === big.length && got.every((b, i) => b === big[i]));
      }
      if (results.length === 3) ws.close(1000, 'done');
    };
    ws.onclose = (e) => resolve({ results, log, extensions: ws.extensions, code: e.code, wasClean: e.wasClean });
  });
}
window.runEchoes = (url) => Promise.all([echoOne(url), echoOne(url), echoOne(url)]);
</script>`;

interface Fixture {
  url: string;
  sessions: () => number;
  /** For each WebSocket: its HTTP version, and the session and stream id when over HTTP/2. */
  connections: Array<{ httpVersion: string; session?: http2.ServerHttp2Session; streamId?: number; code?: number }>;
  pageSessions: Set<http2.ServerHttp2Session>;
  close: () => Promise<void>;
}

async function fixture(options: { perMessageDeflate: boolean; http2?: boolean }): Promise<Fixture> {
  const { key, cert } = selfSignedCert();
  const pageSessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createSecureServer({ key, cert, allowHTTP1: true, settings: { initialWindowSize: 1024 * 1024 } }, (req, res) => {
    if (req.httpVersion === '2.0') pageSessions.add(req.stream.session as http2.ServerHttp2Session);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE);
  });
  let sessions = 0;
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions++;
    open.add(s);
    s.setLocalWindowSize(16 * 1024 * 1024);
    s.on('close', () => open.delete(s));
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: options.perMessageDeflate, http2: options.http2 });
  const connections: Fixture['connections'] = [];
  wss.on('connection', (ws: WebSocket, req: http2.Http2ServerRequest) => {
    const entry: Fixture['connections'][number] = { httpVersion: req.httpVersion };
    if (req.httpVersion === '2.0') {
      entry.session = req.stream.session as http2.ServerHttp2Session;
      entry.streamId = req.stream.id;
    }
    connections.push(entry);
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on('close', (code) => (entry.code = code));
  });
  server.listen(0, HOST);
  await onceEvent(server, 'listening');
  return {
    url: `https://${HOST}:${portOf(server)}/`,
    sessions: () => sessions,
    connections,
    pageSessions,
    close: async () => {
      wss.close();
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface EchoResult {
  results: boolean[];
  log: string[];
  extensions: string;
  code: number;
  wasClean: boolean;
}

describe('Chromium: WebSockets over HTTP/2 (RFC 8441)', () => {
  let browser: Browser;
  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  });
  after(async () => {
    await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, 'closing Chromium').catch(() => {});
  });

  async function run(f: Fixture): Promise<EchoResult[]> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);
      await page.goto(f.url);
      const wsUrl = f.url.replace('https:', 'wss:') + 'echo';
      return (await withTimeout(page.evaluate(`window.runEchoes(${JSON.stringify(wsUrl)})`), 60_000, 'the page')) as EchoResult[];
    } finally {
      await context.close();
    }
  }

  for (const perMessageDeflate of [false, true]) {
    it(`three WebSockets ride the page's HTTP/2 connection (permessage-deflate ${perMessageDeflate ? 'on' : 'off'}): text, binary, 3 MiB, clean closes`, T, async (t) => {
      const f = await fixture({ perMessageDeflate });
      t.after(() => f.close());
      const results = await run(f);
      for (const r of results) {
        assert.deepEqual(r.log, []);
        assert.deepEqual(r.results, [true, true, true]);
        assert.equal(r.code, 1000);
        assert.equal(r.wasClean, true);
        if (perMessageDeflate) assert.match(r.extensions, /permessage-deflate/);
        else assert.equal(r.extensions, '');
      }
      assert.equal(f.connections.length, 3);
      assert.deepEqual(f.connections.map((c) => c.httpVersion), ['2.0', '2.0', '2.0']);
      // One HTTP/2 connection: the page's, with three streams of its own.
      assert.equal(f.sessions(), 1);
      assert.equal(f.pageSessions.size, 1);
      const [pageSession] = f.pageSessions;
      for (const c of f.connections) assert.equal(c.session, pageSession);
      assert.equal(new Set(f.connections.map((c) => c.streamId)).size, 3);
      await withTimeout(
        (async () => {
          while (f.connections.some((c) => c.code === undefined)) await new Promise((r) => setTimeout(r, 20));
        })(),
        10_000,
        'server-side closes',
      );
      assert.deepEqual(f.connections.map((c) => c.code), [1000, 1000, 1000]);
    });
  }

  it('falls back to HTTP/1.1 upgrades when the server does not advertise the setting (http2: false)', T, async (t) => {
    const f = await fixture({ perMessageDeflate: true, http2: false });
    t.after(() => f.close());
    const results = await run(f);
    for (const r of results) {
      assert.deepEqual(r.results, [true, true, true]);
      assert.equal(r.code, 1000);
    }
    assert.equal(f.pageSessions.size, 1, 'the page itself came over HTTP/2');
    assert.deepEqual(f.connections.map((c) => c.httpVersion), ['1.1', '1.1', '1.1']);
  });
});
