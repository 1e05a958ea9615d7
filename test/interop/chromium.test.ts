// Chromium's native WebSocket (via playwright-core and the system browser,
// /usr/bin/chromium) against Switchboard's echo server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { IMPL_NAME } from '../helpers/impl.js';
import { listenEcho, type Listening } from '../helpers/server.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { MessageLog } from '../helpers/messages.js';
import { HOST } from '../helpers/net.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// The page connects to ?ws=URL, sends four messages, checks their echoes in
// order, closes with 1000 and reports everything as JSON-able data.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>switchboard echo</title>
<link rel="icon" href="data:,">
<script>
window.__result = (async () => {
  const MiB = 1024 * 1024;
  const log = [];
  const url = new URLSearchParams(location.search).get('ws');
  const bin = new Uint8Array(256).map((_, i) => 255 - i);
  const bigBin = new Uint8Array(MiB).map((_, i) => (i * 31 + 7) & 255);
  const bigText = 'Switchboard ✓ '.repeat(Math.ceil(MiB / 14)).slice(0, MiB);
  const sent = [
    { type: 'text', data: 'hello from chromium – ✓' },
    { type: 'binary', data: bin.buffer },
    { type: 'binary', data: bigBin.buffer },
    { type: 'text', data: bigText },
  ];
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const received = [];
  let gotAll;
  const allReceived = new Promise((r) => (gotAll = r));
  const closed = new Promise((r) => ws.addEventListener('close', (e) => r({ code: e.code, reason: e.reason, wasClean: e.wasClean })));
  ws.addEventListener('error', () => log.push('error event'));
  ws.addEventListener('message', (e) => {
    received.push(e.data);
    if (received.length === sent.length) gotAll();
  });
  const opened = await Promise.race([
    new Promise((r) => ws.addEventListener('open', () => r(true))),
    closed.then(() => false),
  ]);
  if (!opened) return { opened, log, close: await closed };
  const protocol = ws.protocol, extensions = ws.extensions;
  for (const m of sent) ws.send(m.data);
  await Promise.race([allReceived, closed]);
  const same = (a, b) => {
    if (typeof a === 'string' || typeof b === 'string') return a === b;
    const x = new Uint8Array(a), y = new Uint8Array(b);
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  };
  const echoes = received.map((d, i) => ({
    type: typeof d === 'string' ? 'text' : 'binary',
    length: typeof d === 'string' ? d.length : d.byteLength,
    matches: i < sent.length && same(d, sent[i].data),
  }));
  ws.close(1000, 'done');
  return { opened, protocol, extensions, echoes, expected: sent.map((m) => m.type), close: await closed, log };
})();
</script>
`;

describe(`Chromium WebSocket -> ${IMPL_NAME} echo server`, { timeout: 90_000 }, () => {
  let browser: Browser | undefined;
  let echo: Listening | undefined;
  let web: http.Server | undefined;
  let webPort = 0;

  before(async () => {
    echo = await listenEcho();
    web = http.createServer((req, res) => {
      if (req.url?.startsWith('/echo.html')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(PAGE);
      } else {
        res.writeHead(404).end();
      }
    });
    web.listen(0, HOST);
    await onceEvent(web, 'listening');
    webPort = (web.address() as AddressInfo).port;
  });

  after(async () => {
    await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, 'closing Chromium').catch((e) => {
      process.stderr.write(`chromium close: ${e}\n`);
    });
    await echo?.close();
    web?.closeAllConnections();
    await new Promise((r) => (web ? web.close(r) : r(undefined)));
  });

  test('text, ArrayBuffer and 1 MiB messages echo in order; clean close 1000', { timeout: 75_000 }, async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));

    // Attach the server-side observers inside the 'connection' event, before any message can arrive.
    const conn = new Promise<{ req: IncomingMessage; log: MessageLog; close: Promise<[number, Buffer]> }>((resolve) =>
      echo!.wss.once('connection', (ws: EventEmitter, req: IncomingMessage) =>
        resolve({ req, log: new MessageLog(ws), close: onceEvent<[number, Buffer]>(ws, 'close', 30_000) }),
      ),
    );
    const wsUrl = `${echo!.base}/chromium`;
    await page.goto(`http://${HOST}:${webPort}/echo.html?ws=${encodeURIComponent(wsUrl)}`);
    const { req, log: serverLog, close: serverClose } = await withTimeout(conn, 20_000, 'the server to see the connection');

    const r = (await withTimeout(page.evaluate('window.__result'), 30_000, 'the page script')) as {
      opened: boolean;
      echoes?: Array<{ type: string; length: number; matches: boolean }>;
      expected?: string[];
      close: { code: number; reason: string; wasClean: boolean };
      log: string[];
      protocol?: string;
      extensions?: string;
    };
    const info = `page result ${JSON.stringify(r)}; page errors ${JSON.stringify(pageErrors)}`;
    assert.equal(req.url, '/chromium');
    assert.equal(r.opened, true, `the connection did not open: ${info}`);
    assert.deepEqual(r.echoes?.map((e) => e.type), r.expected, `echo types/order: ${info}`);
    assert.deepEqual(
      r.echoes?.map((e) => e.matches),
      [true, true, true, true],
      `echoes must be intact and in order: ${info}`,
    );
    assert.deepEqual(r.echoes?.map((e) => e.length), [23, 256, 1024 * 1024, 1024 * 1024]);
    assert.deepEqual(r.log, [], `unexpected events in the page: ${info}`);
    assert.equal(r.close.code, 1000, info);
    assert.equal(r.close.wasClean, true, info);

    const [code, reason] = await serverClose;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'done');
    assert.deepEqual(
      serverLog.messages.map((m) => [m.isBinary, m.data.length]),
      [
        [false, Buffer.byteLength('hello from chromium – ✓')],
        [true, 256],
        [true, 1024 * 1024],
        [false, Buffer.byteLength('Switchboard ✓ '.repeat(Math.ceil((1024 * 1024) / 14)).slice(0, 1024 * 1024))],
      ],
      'what the server received from Chromium',
    );
    assert.deepEqual(pageErrors, []);
  });
});
