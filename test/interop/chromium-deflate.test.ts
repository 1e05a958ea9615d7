// Chromium's native WebSocket (via playwright-core and the system browser,
// /usr/bin/chromium) against Switchboard's echo server with permessage-deflate:
// Chromium offers the extension by default, the server accepts it, and large
// JSON messages travel compressed both ways and come back intact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { IMPL_NAME } from '../helpers/impl.js';
import { listenEcho, type Listening } from '../helpers/server.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { MessageLog } from '../helpers/messages.js';
import { HOST } from '../helpers/net.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const KiB = 1024;
const MiB = 1024 * 1024;

// The page builds JSON documents of about 200 KiB and 2 MiB (plus a small
// one, under the server's threshold, and a binary one), sends them, checks
// the echoes in order, closes with 1000 and reports everything.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>switchboard deflate echo</title>
<link rel="icon" href="data:,">
<script>
function jsonOf(size, tag) {
  const rows = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const row = { tag, i, name: 'row ' + (i % 101), price: (i * 7) % 1000 / 10, tags: ['a' + (i % 5), 'b' + (i % 3)], ok: i % 2 === 0, note: 'Switchboard ✓ ' + (i % 13) };
    const s = JSON.stringify(row);
    rows.push(s);
    length += s.length + 1;
  }
  return '[' + rows.join(',') + ']';
}
window.__result = (async () => {
  const log = [];
  const url = new URLSearchParams(location.search).get('ws');
  const bin = new Uint8Array(300 * 1024).map((_, i) => (i % 251) & 0xf0);
  const sent = [
    { type: 'text', data: jsonOf(200 * 1024, 'j200k') },
    { type: 'text', data: jsonOf(2 * 1024 * 1024, 'j2m') },
    { type: 'text', data: '{"small":true}' },
    { type: 'binary', data: bin.buffer },
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
  const extensions = ws.extensions;
  for (const m of sent) ws.send(m.data);
  await Promise.race([allReceived, closed]);
  const same = (a, b) => {
    if (typeof a === 'string' || typeof b === 'string') return a === b;
    const x = new Uint8Array(a), y = new Uint8Array(b);
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  };
  let parsedOk = true;
  for (let i = 0; i < 2; i++) {
    try {
      const doc = JSON.parse(received[i]);
      parsedOk = parsedOk && Array.isArray(doc) && doc[0].tag === (i === 0 ? 'j200k' : 'j2m');
    } catch (e) {
      parsedOk = false;
    }
  }
  const echoes = received.map((d, i) => ({
    type: typeof d === 'string' ? 'text' : 'binary',
    length: typeof d === 'string' ? d.length : d.byteLength,
    matches: i < sent.length && same(d, sent[i].data),
  }));
  ws.close(1000, 'done');
  return {
    opened, extensions, echoes, parsedOk,
    expected: sent.map((m) => m.type),
    sentLengths: sent.map((m) => (typeof m.data === 'string' ? m.data.length : m.data.byteLength)),
    close: await closed, log,
  };
})();
</script>
`;

interface PageResult {
  opened: boolean;
  extensions?: string;
  echoes?: Array<{ type: string; length: number; matches: boolean }>;
  parsedOk?: boolean;
  expected?: string[];
  sentLengths?: number[];
  close: { code: number; reason: string; wasClean: boolean };
  log: string[];
}

describe(`Chromium WebSocket -> ${IMPL_NAME} echo server with perMessageDeflate: true`, { timeout: 120_000 }, () => {
  let browser: Browser | undefined;
  let echo: Listening | undefined;
  let web: http.Server | undefined;
  let webPort = 0;

  before(async () => {
    echo = await listenEcho({ perMessageDeflate: true });
    web = http.createServer((req, res) => {
      if (req.url?.startsWith('/deflate.html')) {
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

  test('permessage-deflate negotiated; 200 KiB and 2 MiB JSON (and binary) echo intact, compressed on the wire both ways', { timeout: 100_000 }, async (t) => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));

    const conn = new Promise<{ ws: EventEmitter & { extensions: string; _socket: Socket }; req: IncomingMessage; log: MessageLog; close: Promise<[number, Buffer]> }>(
      (resolve) =>
        echo!.wss.once('connection', (ws: EventEmitter & { extensions: string; _socket: Socket }, req: IncomingMessage) =>
          resolve({ ws, req, log: new MessageLog(ws), close: onceEvent<[number, Buffer]>(ws, 'close', 60_000) }),
        ),
    );
    const wsUrl = `${echo!.base}/deflate`;
    await page.goto(`http://${HOST}:${webPort}/deflate.html?ws=${encodeURIComponent(wsUrl)}`);
    const { ws, req, log: serverLog, close: serverClose } = await withTimeout(conn, 30_000, 'the server to see the connection');
    const socket = ws._socket;

    const r = (await withTimeout(page.evaluate('window.__result'), 60_000, 'the page script')) as PageResult;
    const info = `page result ${JSON.stringify(r)}; page errors ${JSON.stringify(pageErrors)}`;

    // Negotiation, as both ends see it.
    const offer = String(req.headers['sec-websocket-extensions'] ?? '');
    assert.match(offer, /permessage-deflate/, `Chromium's offer: ${offer}`);
    assert.equal(r.opened, true, `the connection did not open: ${info}`);
    assert.match(r.extensions ?? '', /^permessage-deflate/, `ws.extensions in the page: ${info}`);
    assert.ok(ws.extensions !== '', 'the server-side socket has no extension');
    assert.match(ws.extensions, /^permessage-deflate/);

    // The echoes.
    assert.deepEqual(r.echoes?.map((e) => e.type), r.expected, `echo types/order: ${info}`);
    assert.deepEqual(r.echoes?.map((e) => e.matches), [true, true, true, true], `echoes must be intact and in order: ${info}`);
    assert.equal(r.parsedOk, true, 'the echoed JSON parses');
    const [l200k, l2m] = r.sentLengths!;
    assert.ok(l200k! >= 200 * KiB && l200k! < 210 * KiB, `first document is ${l200k} characters`);
    assert.ok(l2m! >= 2 * MiB && l2m! < 2 * MiB + 10 * KiB, `second document is ${l2m} characters`);
    assert.deepEqual(r.log, [], `unexpected events in the page: ${info}`);
    assert.equal(r.close.code, 1000, info);
    assert.equal(r.close.wasClean, true, info);
    const [code, reason] = await serverClose;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), 'done');

    // What the server received: the same documents...
    const received = serverLog.messages;
    assert.deepEqual(
      received.map((m) => [m.isBinary, m.data.length]),
      [
        [false, Buffer.byteLength(received[0]!.data.toString())],
        [false, Buffer.byteLength(received[1]!.data.toString())],
        [false, 14],
        [true, 300 * KiB],
      ],
    );
    assert.equal(JSON.parse(received[0]!.data.toString())[0].tag, 'j200k');
    assert.equal(JSON.parse(received[1]!.data.toString())[0].tag, 'j2m');
    // ...but far fewer bytes on the wire than the messages hold, in both directions:
    // Chromium compressed what it sent, and the server what it echoed.
    const payload = received.reduce((n, m) => n + m.data.length, 0);
    t.diagnostic(`offer "${offer}", answer "${ws.extensions}"; ${payload} bytes of messages; TCP bytes read by the server ${socket.bytesRead}, written ${socket.bytesWritten}`);
    assert.ok(socket.bytesRead < payload / 3, `the server read ${socket.bytesRead} bytes for ${payload} bytes of messages: not compressed`);
    assert.ok(socket.bytesWritten < payload / 3, `the server wrote ${socket.bytesWritten} bytes for ${payload} bytes of messages: not compressed`);
    assert.deepEqual(pageErrors, []);
  });
});
