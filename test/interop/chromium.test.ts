// Chromium's native WebSocket (via playwright-core and the system browser,
// /usr/bin/chromium) against Switchboard's echo server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { EventEmitter } from 'node:events';
import { IMPL_NAME } from '../helpers/impl.js';
import { listenEcho, type Listening } from '../helpers/server.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { MessageLog } from '../helpers/messages.js';
import { ChromiumPage, assertClosedCleanly, echoPage, type EchoPageResult } from '../helpers/chromium.js';

// The page sends four messages and checks their echoes in order.
const PAGE = echoPage(
  'switchboard echo',
  `
const MiB = 1024 * 1024;
const bin = new Uint8Array(256).map((_, i) => 255 - i);
const bigBin = new Uint8Array(MiB).map((_, i) => (i * 31 + 7) & 255);
const bigText = 'Switchboard ✓ '.repeat(Math.ceil(MiB / 14)).slice(0, MiB);
window.__result = echoRoundTrip([
  { type: 'text', data: 'hello from chromium – ✓' },
  { type: 'binary', data: bin.buffer },
  { type: 'binary', data: bigBin.buffer },
  { type: 'text', data: bigText },
]);
`,
);

describe(`Chromium WebSocket -> ${IMPL_NAME} echo server`, { timeout: 90_000 }, () => {
  const page = new ChromiumPage('/echo.html', PAGE);
  let echo: Listening | undefined;

  before(async () => {
    echo = await listenEcho();
    await page.serve();
  });

  after(async () => {
    await page.close();
    await echo?.close();
  });

  test('text, ArrayBuffer and 1 MiB messages echo in order; clean close 1000', { timeout: 75_000 }, async () => {
    // Attach the server-side observers inside the 'connection' event, before any message can arrive.
    const conn = new Promise<{ req: IncomingMessage; log: MessageLog; close: Promise<[number, Buffer]> }>((resolve) =>
      echo!.wss.once('connection', (ws: EventEmitter, req: IncomingMessage) =>
        resolve({ req, log: new MessageLog(ws), close: onceEvent<[number, Buffer]>(ws, 'close', 30_000) }),
      ),
    );
    await page.open(`${echo!.base}/chromium`, 20_000);
    const { req, log: serverLog, close: serverClose } = await withTimeout(conn, 20_000, 'the server to see the connection');

    const r = await page.result<EchoPageResult>(30_000);
    const pageErrors = page.errors;
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
    await assertClosedCleanly(r, serverClose, info);
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
