// Chromium's native WebSocket in tests: the system browser (/usr/bin/chromium,
// or CHROMIUM_PATH) driven through playwright-core, which brings no browser
// of its own, on a page served from 127.0.0.1.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { onceEvent, withTimeout } from './async.js';
import { HOST } from './net.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The system Chromium, launched within 30 s. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
}

/** Closes a Chromium (if it was launched), giving up after 15 s: a test's `after` must end. */
export async function closeChromium(browser: Browser | undefined): Promise<void> {
  await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, 'closing Chromium').catch(() => {});
}

/**
 * One HTML page, served at `pagePath` by a web server of its own and opened
 * in a Chromium of its own. The page's script reports by setting
 * `window.__result` (a value or a promise of one).
 */
export class ChromiumPage {
  /** What the page reported as errors: uncaught exceptions and console.error messages. */
  readonly errors: string[] = [];
  private web: http.Server | undefined;
  private webPort = 0;
  private browser: Browser | undefined;
  private page: Page | undefined;

  constructor(
    private readonly pagePath: string,
    private readonly html: string,
  ) {}

  /** Starts the web server (in a `before` hook; Chromium is launched by `open`). */
  async serve(): Promise<void> {
    const web = http.createServer((req, res) => {
      if (req.url?.startsWith(this.pagePath)) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(this.html);
      } else {
        res.writeHead(404).end();
      }
    });
    this.web = web;
    web.listen(0, HOST);
    await onceEvent(web, 'listening');
    this.webPort = (web.address() as AddressInfo).port;
  }

  /** Launches Chromium and opens the page with `?ws=wsUrl`; `timeoutMs` bounds each of Playwright's steps from then on. */
  async open(wsUrl: string, timeoutMs: number): Promise<void> {
    this.browser = await launchChromium();
    const page = await this.browser.newPage();
    this.page = page;
    page.setDefaultTimeout(timeoutMs);
    page.on('pageerror', (e) => this.errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && this.errors.push(m.text()));
    await page.goto(`http://${HOST}:${this.webPort}${this.pagePath}?ws=${encodeURIComponent(wsUrl)}`);
  }

  /** Waits for the page's `window.__result`. */
  async result<T>(timeoutMs: number): Promise<T> {
    if (this.page === undefined) throw new Error('the page was not opened');
    return (await withTimeout(this.page.evaluate('window.__result'), timeoutMs, 'the page script')) as T;
  }

  /** Closes Chromium and the web server (in an `after` hook); a Chromium that will not close is reported, not thrown. */
  async close(): Promise<void> {
    await withTimeout(this.browser?.close() ?? Promise.resolve(), 15_000, 'closing Chromium').catch((e) => {
      process.stderr.write(`chromium close: ${e}\n`);
    });
    const web = this.web;
    web?.closeAllConnections();
    await new Promise((r) => (web ? web.close(r) : r(undefined)));
  }
}

/** What `echoRoundTrip` in an `echoPage` reports, plus what its `inspect` adds. */
export interface EchoPageResult {
  opened: boolean;
  protocol?: string;
  extensions?: string;
  echoes?: Array<{ type: string; length: number; matches: boolean }>;
  expected?: string[];
  sentLengths?: number[];
  close: { code: number; reason: string; wasClean: boolean };
  log: string[];
}

/**
 * The end of every echo round trip: no error event in the page, and a clean
 * close with 1000 'done' as the page and the server (`serverClose`, the
 * arguments of its 'close' event) saw it. `info` goes into the messages.
 */
export async function assertClosedCleanly(r: EchoPageResult, serverClose: Promise<[number, Buffer]>, info: string): Promise<void> {
  assert.deepEqual(r.log, [], `unexpected events in the page: ${info}`);
  assert.equal(r.close.code, 1000, info);
  assert.equal(r.close.wasClean, true, info);
  const [code, reason] = await serverClose;
  assert.equal(code, 1000);
  assert.equal(reason.toString(), 'done');
}

/**
 * A page whose `script` can call `echoRoundTrip(sent, inspect?)`: it connects
 * to `?ws=URL` with binaryType 'arraybuffer', sends every `{ type, data }` of
 * `sent`, waits for as many echoes and checks them in order, closes with
 * 1000 'done', and resolves to an `EchoPageResult`. `inspect(received)` may
 * add fields of its own, computed from the echoes in the page (so that large
 * messages need not travel back to the test).
 */
export function echoPage(title: string, script: string): string {
  return `<!doctype html>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="data:,">
<script>
async function echoRoundTrip(sent, inspect) {
  const log = [];
  const url = new URLSearchParams(location.search).get('ws');
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
  const inspected = inspect ? inspect(received) : {};
  const echoes = received.map((d, i) => ({
    type: typeof d === 'string' ? 'text' : 'binary',
    length: typeof d === 'string' ? d.length : d.byteLength,
    matches: i < sent.length && same(d, sent[i].data),
  }));
  ws.close(1000, 'done');
  return {
    opened, protocol, extensions, echoes, ...inspected,
    expected: sent.map((m) => m.type),
    sentLengths: sent.map((m) => (typeof m.data === 'string' ? m.data.length : m.data.byteLength)),
    close: await closed, log,
  };
}
${script}
</script>
`;
}
