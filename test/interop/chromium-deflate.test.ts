// Chromium's native WebSocket (via playwright-core and the system browser,
// /usr/bin/chromium) against Switchboard's echo server with permessage-deflate:
// Chromium offers the extension by default, the server accepts it, and large
// JSON messages travel compressed both ways and come back intact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { IMPL_NAME } from '../helpers/impl.js';
import { listenEcho, type Listening } from '../helpers/server.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { MessageLog } from '../helpers/messages.js';
import { ChromiumPage, assertClosedCleanly, echoPage, type EchoPageResult } from '../helpers/chromium.js';

const KiB = 1024;
const MiB = 1024 * 1024;

// The page builds JSON documents of about 200 KiB and 2 MiB (plus a small
// one, under the server's threshold, and a binary one), sends them and checks
// the echoes in order, and that the echoed documents parse.
const PAGE = echoPage(
  'switchboard deflate echo',
  `
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
const bin = new Uint8Array(300 * 1024).map((_, i) => (i % 251) & 0xf0);
const sent = [
  { type: 'text', data: jsonOf(200 * 1024, 'j200k') },
  { type: 'text', data: jsonOf(2 * 1024 * 1024, 'j2m') },
  { type: 'text', data: '{"small":true}' },
  { type: 'binary', data: bin.buffer },
];
window.__result = echoRoundTrip(sent, (received) => {
  let parsedOk = true;
  for (let i = 0; i < 2; i++) {
    try {
      const doc = JSON.parse(received[i]);
      parsedOk = parsedOk && Array.isArray(doc) && doc[0].tag === (i === 0 ? 'j200k' : 'j2m');
    } catch (e) {
      parsedOk = false;
    }
  }
  return { parsedOk };
});
`,
);

interface PageResult extends EchoPageResult {
  parsedOk?: boolean;
}

describe(`Chromium WebSocket -> ${IMPL_NAME} echo server with perMessageDeflate: true`, { timeout: 120_000 }, () => {
  const page = new ChromiumPage('/deflate.html', PAGE);
  let echo: Listening | undefined;

  before(async () => {
    echo = await listenEcho({ perMessageDeflate: true });
    await page.serve();
  });

  after(async () => {
    await page.close();
    await echo?.close();
  });

  test('permessage-deflate negotiated; 200 KiB and 2 MiB JSON (and binary) echo intact, compressed on the wire both ways', { timeout: 100_000 }, async (t) => {
    const conn = new Promise<{ ws: EventEmitter & { extensions: string; _socket: Socket }; req: IncomingMessage; log: MessageLog; close: Promise<[number, Buffer]> }>(
      (resolve) =>
        echo!.wss.once('connection', (ws: EventEmitter & { extensions: string; _socket: Socket }, req: IncomingMessage) =>
          resolve({ ws, req, log: new MessageLog(ws), close: onceEvent<[number, Buffer]>(ws, 'close', 60_000) }),
        ),
    );
    await page.open(`${echo!.base}/deflate`, 30_000);
    const { ws, req, log: serverLog, close: serverClose } = await withTimeout(conn, 30_000, 'the server to see the connection');
    const socket = ws._socket;

    const r = await page.result<PageResult>(60_000);
    const pageErrors = page.errors;
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
    await assertClosedCleanly(r, serverClose, info);

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
