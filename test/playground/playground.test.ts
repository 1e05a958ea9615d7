// The browser playground, end to end: Chromium (playwright-core, the system
// /usr/bin/chromium) on the page that a real `switchboard serve` child serves
// on its WebSocket port. Connect, send text, JSON and binary, read the
// tutorial's replies in the log, disconnect and read the close code; saved
// messages; the relay with a request header that an upstream server of the
// test's own checks, and the handshake response on the page; a stream of
// 1,000 messages a second. UPDATE_SCREENSHOTS=1 also writes docs/playground*.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { WebSocketServer, type WebSocket } from '../../packages/switchboard/src/index.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { HOST } from '../helpers/net.js';
import { assertBuilt, closeBrowser, DOCS, launchChromium, startSwitchboard, stopChildren, UPDATE_SCREENSHOTS, type Running } from './helpers.js';

const T = { timeout: 60_000 };

// Browser globals, for the functions that run in the page (page.evaluate, page.waitForFunction).
declare const window: unknown;
declare const document: { querySelectorAll(selector: string): { length: number } };

interface StoreEntry {
  dir: 'in' | 'out' | 'event';
  kind: string;
  text?: string;
  size: number;
}

/** The log's entries as the page holds them (window.__playground.store). */
async function entries(page: Page): Promise<StoreEntry[]> {
  return page.evaluate(() => {
    const store = (window as unknown as { __playground: { store: { flush(): void; entries: Array<Record<string, unknown>> } } }).__playground.store;
    store.flush();
    return store.entries.map((e) => ({ dir: e.dir, kind: e.kind, text: e.text, size: e.size })) as StoreEntry[];
  });
}

async function waitForEntry(page: Page, match: (e: StoreEntry) => boolean, what: string, timeoutMs = 10_000): Promise<StoreEntry> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await entries(page)).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no log entry: ${what}; the log: ${JSON.stringify(await entries(page)).slice(0, 3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A new page (own context, so its own localStorage) that reports its errors. */
async function openPage(browser: Browser, url: string, viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport, colorScheme: 'light' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(url);
  return { context, page, errors };
}

const connectButton = (page: Page) => page.getByRole('button', { name: 'Connect', exact: true });
const state = (page: Page) => page.getByTestId('state');

async function connect(page: Page): Promise<void> {
  await connectButton(page).click();
  await page.getByTestId('state').filter({ hasText: /^Connected/ }).waitFor();
}

async function sendText(page: Page, text: string): Promise<void> {
  await page.getByLabel('Text', { exact: true }).check();
  await page.getByLabel('Text message').fill(text);
  await page.getByLabel('Text message').press('Control+Enter');
}

/** An upstream server of the test's own (Switchboard's, from src/), for the relay and the burst. */
async function upstream(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{ wss: WebSocketServer; url: string }> {
  const wss = new WebSocketServer({ port: 0, host: HOST, ...options });
  await onceEvent(wss, 'listening');
  return { wss, url: `ws://${HOST}:${(wss.address() as AddressInfo).port}/` };
}

describe('playground (switchboard serve + Chromium)', { timeout: 300_000 }, () => {
  let browser: Browser | undefined;
  let served: Running;
  const servers: WebSocketServer[] = [];

  before(async () => {
    assertBuilt();
    served = await startSwitchboard('serve');
    browser = await launchChromium();
  });

  after(async () => {
    await closeBrowser(browser);
    await stopChildren();
    for (const wss of servers) {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((r) => wss.close(r));
    }
  });

  test('GET / is the page (the WebSocket server keeps its port); other paths get 426; the relay refuses other origins', T, async () => {
    const page = await fetch(served.page);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await page.text();
    assert.match(html, /<title>Switchboard playground<\/title>/);
    assert.match(html, /name="switchboard-playground" content="\{&quot;defaultUrl&quot;:&quot;\/&quot;/);
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    const js = await fetch(new URL(script, served.page));
    assert.equal(js.status, 200);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    const other = await fetch(new URL('/chat', served.page));
    assert.equal(other.status, 426);
    assert.equal(other.headers.get('upgrade'), 'websocket');

    const { default: WsClient } = await import('ws');
    const refused = new WsClient(`${served.ws}__relay`, { origin: 'http://evil.example' });
    refused.on('error', () => {});
    const [, res] = await onceEvent<[unknown, IncomingMessage]>(refused, 'unexpected-response');
    assert.equal(res.statusCode, 403);
    refused.terminate();
  });

  test('connect, send text, JSON and binary, read the tutorial replies, disconnect with 1000', T, async () => {
    const { context, page, errors } = await openPage(browser!, served.page);
    try {
      assert.equal(await page.getByLabel('URL').inputValue(), served.ws, 'the URL field starts with the serving server');
      await connect(page);

      await sendText(page, 'hello playground');
      await waitForEntry(page, (e) => e.dir === 'in' && e.text === 'We have recieved a message: hello playground', 'the reply to the text');
      await page.getByTestId('log-row').filter({ hasText: 'We have recieved a message: hello playground' }).waitFor();

      // JSON: invalid JSON is refused and not sent; valid JSON is pretty-printed and sent.
      await page.getByLabel('JSON', { exact: true }).check();
      await page.getByLabel('JSON message').fill('{"type": "greeting", "to": ');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.getByTestId('composer-error').filter({ hasText: 'Invalid JSON' }).waitFor();
      assert.equal((await entries(page)).filter((e) => e.dir === 'out').length, 1, 'invalid JSON was not sent');
      await page.getByLabel('JSON message').fill('{"type":"greeting","to":["world",42],"ok":true,"nested":{"deep":null}}');
      await page.getByLabel('JSON message').press('Control+Enter');
      const pretty = JSON.stringify({ type: 'greeting', to: ['world', 42], ok: true, nested: { deep: null } }, null, 2);
      await waitForEntry(page, (e) => e.dir === 'out' && e.text === pretty, 'the pretty-printed JSON, sent');
      assert.equal(await page.getByLabel('JSON message').inputValue(), pretty, 'the composer shows what was sent');
      await waitForEntry(page, (e) => e.dir === 'in' && e.text === `We have recieved a message: ${pretty}`, 'the reply to the JSON');

      // Binary from hex.
      await page.getByLabel('Binary', { exact: true }).check();
      await page.getByLabel('Bytes in hex').fill('48 69 21');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await waitForEntry(page, (e) => e.dir === 'out' && e.kind === 'binary' && e.size === 3, 'the binary message');
      await waitForEntry(page, (e) => e.dir === 'in' && e.text === 'We have recieved a message: Hi!', 'the reply to the binary message');
      await page.getByLabel('Bytes in hex').fill('4');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.getByTestId('composer-error').filter({ hasText: 'Odd number of hex digits' }).waitFor();

      // Counters: 3 messages each way.
      await page.getByTestId('sent-count').filter({ hasText: /^3 msg/ }).waitFor();
      await page.getByTestId('received-count').filter({ hasText: /^3 msg/ }).waitFor();

      // The JSON message in full: a collapsible tree; copy.
      await page.getByTestId('log-row').filter({ hasText: '"greeting"' }).first().click();
      const tree = page.getByTestId('detail').getByTestId('json-tree');
      await tree.waitFor();
      const nested = tree.locator('details').filter({ hasText: '"nested"' }).last();
      assert.equal(await nested.getAttribute('open'), '');
      await nested.locator('summary').first().click();
      assert.equal(await nested.getAttribute('open'), null, 'the node collapses');
      await page.getByTestId('detail').getByRole('button', { name: 'Copy' }).click();
      await page.getByTestId('detail').getByRole('button', { name: 'Copied' }).waitFor();

      // Search and filter.
      await page.getByLabel('Search messages').fill('hello playground');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length === 2);
      await page.getByLabel('Show').selectOption('in');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length === 1);
      await page.getByLabel('Search messages').fill('');
      await page.getByLabel('Show').selectOption('all');

      // Keyboard: the list takes focus and arrow keys select.
      await page.getByTestId('log-list').focus();
      await page.keyboard.press('End');
      await page.keyboard.press('ArrowUp');
      assert.ok(await page.getByTestId('log-list').getAttribute('aria-activedescendant'));

      if (UPDATE_SCREENSHOTS) {
        await page.getByLabel('JSON', { exact: true }).check();
        await page.getByLabel('Save as').fill('greeting');
        await page.getByRole('button', { name: 'Save message' }).click();
        await page.getByRole('button', { name: 'Send greeting' }).click();
        await page.getByTestId('received-count').filter({ hasText: /^4 msg/ }).waitFor();
        await page.getByTestId('log-row').filter({ hasText: '"greeting"' }).first().click();
        await page.screenshot({ path: path.join(DOCS, 'playground.png'), fullPage: true });
        await page.setViewportSize({ width: 420, height: 900 });
        await page.screenshot({ path: path.join(DOCS, 'playground-narrow.png'), fullPage: true });
        await page.setViewportSize({ width: 1280, height: 900 });
      }

      await page.getByRole('button', { name: 'Disconnect' }).click();
      await state(page).filter({ hasText: 'Closed: 1000 (normal closure)' }).waitFor();
      await page.getByTestId('close-info').filter({ hasText: 'Closed with 1000 (normal closure)' }).waitFor();
      await waitForEntry(page, (e) => e.kind === 'close' && /1000/.test(e.text ?? ''), 'the close in the log');

      await served.child.waitForLine(/^Client Has send us the data: hello playground$/);
      await served.child.waitForLine(/^Client has disconnected!$/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('a saved message is kept across reloads and sent again with one click; reconnect', T, async () => {
    const { context, page, errors } = await openPage(browser!, served.page);
    try {
      await page.getByLabel('Text message').fill('saved hello');
      await page.getByLabel('Save as').fill('greeting');
      await page.getByRole('button', { name: 'Save message' }).click();
      await page.reload();
      const saved = page.getByRole('button', { name: 'Send greeting' });
      await saved.waitFor();

      await saved.click();
      await page.getByTestId('composer-error').filter({ hasText: 'Not connected' }).waitFor();
      await connect(page);
      await saved.click();
      await saved.click();
      const replies = async () => (await entries(page)).filter((e) => e.dir === 'in' && e.text === 'We have recieved a message: saved hello').length;
      await waitForEntry(page, (e) => e.dir === 'in' && e.text === 'We have recieved a message: saved hello', 'the reply to the saved message');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length >= 6);
      assert.equal(await replies(), 2);

      // Reconnect: a new connection, then the saved message again.
      await page.getByRole('button', { name: 'Reconnect' }).click();
      await waitForEntry(page, (e) => e.kind === 'close', 'the first connection closed');
      await page.getByTestId('state').filter({ hasText: /^Connected/ }).waitFor();
      await saved.click();
      const deadline = Date.now() + 10_000;
      while ((await replies()) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await replies(), 3);

      // Delete.
      await page.getByRole('button', { name: 'Delete greeting' }).click();
      await saved.waitFor({ state: 'detached' });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('relay: a request header the upstream server checks, the handshake response, pings and pongs; a refused target', T, async () => {
    const seen: Array<string | undefined> = [];
    const up = await upstream({
      verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string) => void) => {
        seen.push(info.req.headers['x-playground-token'] as string | undefined);
        if (info.req.headers['x-playground-token'] === 's3cret') done(true);
        else done(false, 401, 'Missing or wrong X-Playground-Token');
      },
      handleProtocols: (protocols: Set<string>) => (protocols.has('chat.v1') ? 'chat.v1' : false),
    });
    servers.push(up.wss);
    up.wss.on('headers', (headers: string[]) => headers.push('X-Upstream: switchboard-test'));
    const pings: Buffer[] = [];
    up.wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      ws.send(`welcome, ${String(req.headers['x-playground-token'])}`);
      ws.on('ping', (data: Buffer) => pings.push(data));
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary && data.toString() === 'ping me') ws.ping(Buffer.from('from upstream'));
        else ws.send(data, { binary: isBinary });
      });
    });

    const { context, page, errors } = await openPage(browser!, served.page);
    try {
      await page.getByLabel('URL').fill(up.url);
      await page.getByLabel('Subprotocols').fill('chat.v2, chat.v1');
      await page.getByText('Request headers').click();
      await page.getByRole('button', { name: 'Add header' }).click();
      await page.getByLabel('Header 1 name').fill('X-Playground-Token');
      await page.getByLabel('Header 1 value').fill('wrong');
      await connectButton(page).click();

      // Refused: the page shows the 401 and its body, which a browser's own WebSocket never sees.
      const handshake = page.getByTestId('handshake');
      await handshake.filter({ hasText: 'HTTP/1.1 401 Unauthorized' }).waitFor();
      await handshake.filter({ hasText: 'Missing or wrong X-Playground-Token' }).waitFor();
      await state(page).filter({ hasText: /^Closed/ }).waitFor();

      await page.getByLabel('Header 1 value').fill('s3cret');
      await connectButton(page).click();
      await page.getByTestId('state').filter({ hasText: 'Connected through the relay' }).waitFor();
      await handshake.filter({ hasText: 'HTTP/1.1 101 Switching Protocols' }).waitFor();
      await handshake.getByRole('row').filter({ hasText: 'X-Upstream' }).filter({ hasText: 'switchboard-test' }).waitFor();
      await handshake.getByRole('row').filter({ hasText: 'Sec-WebSocket-Protocol' }).filter({ hasText: 'chat.v1' }).waitFor();
      await page.getByTestId('status-detail').filter({ hasText: 'subprotocol chat.v1' }).waitFor();
      assert.deepEqual(seen, ['wrong', 's3cret'], 'the header reached the upstream server');
      await waitForEntry(page, (e) => e.dir === 'in' && e.text === 'welcome, s3cret', 'the upstream greeting');

      // Data both ways through the relay: text and binary.
      await sendText(page, 'through the relay ✓');
      await waitForEntry(page, (e) => e.dir === 'in' && e.text === 'through the relay ✓', 'the text echo');
      await page.getByLabel('Binary', { exact: true }).check();
      await page.getByLabel('Bytes in hex').fill('00 ff 10');
      await page.getByLabel('Bytes in hex').press('Control+Enter');
      await waitForEntry(page, (e) => e.dir === 'in' && e.kind === 'binary' && e.size === 3, 'the binary echo');

      // Pings: from the page (the upstream sees it, the relay shows the pong), and from upstream.
      await page.getByLabel('Ping payload (hex)').fill('68 69');
      await page.getByRole('button', { name: 'Send ping' }).click();
      await waitForEntry(page, (e) => e.dir === 'in' && e.kind === 'pong' && e.text === 'payload 6869', 'the pong');
      assert.deepEqual(pings.map((p) => p.toString()), ['hi']);
      await sendText(page, 'ping me');
      await waitForEntry(page, (e) => e.dir === 'in' && e.kind === 'ping' && e.text === `payload ${Buffer.from('from upstream').toString('hex')}`, 'the upstream ping');

      if (UPDATE_SCREENSHOTS) await page.screenshot({ path: path.join(DOCS, 'playground-relay.png'), fullPage: true });

      const upstreamClosed = new Promise<[number, string]>((resolve) => {
        for (const ws of up.wss.clients) ws.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()]));
      });
      await page.getByRole('button', { name: 'Disconnect' }).click();
      await page.getByTestId('close-info').filter({ hasText: 'Closed with 1000 (normal closure)' }).waitFor();
      assert.equal((await withTimeout(upstreamClosed, 5000, 'the upstream close'))[0], 1000);

      // A host that is not this machine is refused, with the reason on the page.
      await page.getByLabel('URL').fill('ws://example.invalid/');
      await connectButton(page).click();
      await page.getByTestId('problem').filter({ hasText: 'the relay connects only to this machine' }).waitFor();
      await page.getByTestId('close-info').filter({ hasText: '1008' }).waitFor();
      await served.child.waitForLine(/relay-refused .*example\.invalid/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('keeps up with 1,000 messages a second: batched rendering, a bounded DOM, frames keep coming', T, async () => {
    const SECONDS = 3;
    const PER_SECOND = 1000;
    const up = await upstream();
    servers.push(up.wss);
    up.wss.on('connection', (ws: WebSocket) => {
      let sent = 0;
      const timer = setInterval(() => {
        for (let i = 0; i < PER_SECOND / 100 && sent < SECONDS * PER_SECOND; i++) {
          sent++;
          ws.send(sent % 3 === 0 ? JSON.stringify({ n: sent, tick: 'json' }) : `message ${sent}`);
        }
        if (sent >= SECONDS * PER_SECOND) clearInterval(timer);
      }, 10);
      ws.on('close', () => clearInterval(timer));
    });

    const { context, page, errors } = await openPage(browser!, served.page);
    try {
      await page.getByLabel('URL').fill(up.url);
      // Frame gaps while the stream runs: the page must keep painting.
      // (A string: tsx would wrap a named function in a helper the page does not have.)
      await page.evaluate(`(() => {
        window.__frames = [];
        const tick = (t) => {
          window.__frames.push(t);
          if (window.__frames.length < 100000) requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      })()`);
      await connect(page);
      await page.getByTestId('received-count').filter({ hasText: /^3,000 msg/ }).waitFor({ timeout: 20_000 });
      const result = await page.evaluate(() => {
        const frames = (window as unknown as { __frames: number[] }).__frames;
        let maxGap = 0;
        for (let i = 1; i < frames.length; i++) maxGap = Math.max(maxGap, frames[i]! - frames[i - 1]!);
        return { frames: frames.length, maxGap, rows: document.querySelectorAll('[data-testid="log-row"]').length };
      });
      assert.ok(result.rows > 0 && result.rows < 80, `only the rows on screen are in the DOM: ${JSON.stringify(result)}`);
      assert.ok(result.frames > SECONDS * 20, `frames kept coming: ${JSON.stringify(result)}`);
      assert.ok(result.maxGap < 500, `no long freeze: ${JSON.stringify(result)}`);
      // The newest message is on screen (the list follows the stream).
      await page.getByTestId('log-row').filter({ hasText: 'message 2999' }).waitFor();
      const last = (await entries(page)).filter((e) => e.dir === 'in').at(-1);
      assert.equal(last?.text, JSON.stringify({ n: 3000, tick: 'json' }));
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});

describe('switchboard playground (the page and the relay only)', { timeout: 120_000 }, () => {
  let browser: Browser | undefined;
  let served: Running;
  let playground: Running;

  before(async () => {
    assertBuilt();
    served = await startSwitchboard('serve', ['--echo', '--no-playground']);
    playground = await startSwitchboard('playground', ['--url', served.ws]);
    browser = await launchChromium();
  });

  after(async () => {
    await closeBrowser(browser);
    await stopChildren();
  });

  test('serve --no-playground answers plain requests with 426, as before', T, async () => {
    const res = await fetch(served.page);
    assert.equal(res.status, 426);
  });

  test('the page starts with --url, connects to another server, and reaches it through the relay too', T, async () => {
    const { context, page, errors } = await openPage(browser!, playground.page);
    try {
      assert.equal(await page.getByLabel('URL').inputValue(), served.ws);
      await connect(page);
      await sendText(page, 'echo me');
      await waitForEntry(page, (e) => e.dir === 'in' && e.text === 'echo me', 'the echo');
      await page.getByRole('button', { name: 'Disconnect' }).click();
      await page.getByTestId('close-info').filter({ hasText: '1000' }).waitFor();

      await page.getByLabel('Relay through switchboard').check();
      await connectButton(page).click();
      await page.getByTestId('state').filter({ hasText: 'Connected through the relay' }).waitFor();
      await page.getByTestId('handshake').filter({ hasText: '101 Switching Protocols' }).waitFor();
      await sendText(page, 'echo me again');
      await waitForEntry(page, (e) => e.dir === 'in' && e.text === 'echo me again', 'the echo through the relay');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
    const other = await fetch(new URL('/nope', playground.page));
    assert.equal(other.status, 404);
  });
});
