// The playground over HTTP/2: `switchboard serve --echo --tls-cert --tls-key`
// (a self-signed certificate made at test time) serves the page to Chromium
// over HTTP/2, and the page's WebSockets, to the echo server and to the
// relay, ride that connection as RFC 8441 streams: the server's log says so
// (`connect ... (HTTP/2)`, `relay-connect ... page HTTP/2`).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { selfSignedCert } from '../helpers/tls.js';
import { assertBuilt, closeBrowser, launchChromium, startSwitchboard, stopChildren, type Running } from './helpers.js';

const T = { timeout: 90_000 };

declare const window: unknown;
/** The page's Performance API, as far as used here. */
interface BrowserPerformance {
  getEntriesByType(type: string): Array<{ nextHopProtocol: string }>;
}

/** Whether the page's log holds an incoming message with this text (window.__playground.store). */
async function received(page: Page, text: string): Promise<void> {
  await page.waitForFunction((wanted) => {
    const store = (window as { __playground: { store: { flush(): void; entries: Array<{ dir: string; text?: string }> } } }).__playground.store;
    store.flush();
    return store.entries.some((e) => e.dir === 'in' && e.text === wanted);
  }, text, { timeout: 15_000 });
}

async function sendText(page: Page, text: string): Promise<void> {
  await page.getByLabel('Text', { exact: true }).check();
  await page.getByLabel('Text message').fill(text);
  await page.getByLabel('Text message').press('Control+Enter');
}

describe('the playground over HTTP/2', T, () => {
  let browser: Browser | undefined;
  let served: Running;

  before(async () => {
    assertBuilt();
    const { certPath, keyPath } = selfSignedCert();
    served = await startSwitchboard('serve', ['--echo', '--tls-cert', certPath, '--tls-key', keyPath]);
    browser = await launchChromium();
  });

  after(async () => {
    await closeBrowser(browser);
    await stopChildren();
  });

  test('the page loads over HTTP/2; its WebSocket to the echo server and its relay connection are streams of that connection', async () => {
    const context = await browser!.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      const response = await page.goto(served.page);
      assert.equal(response?.status(), 200);
      assert.equal(await page.evaluate(() => (performance as unknown as BrowserPerformance).getEntriesByType('navigation')[0]?.nextHopProtocol), 'h2');
      assert.equal(await page.getByLabel('URL').inputValue(), served.ws);

      // Directly: the browser's own WebSocket, as a stream of the page's HTTP/2 connection.
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await page.getByTestId('state').filter({ hasText: /^Connected/ }).waitFor();
      await sendText(page, 'straight over h2');
      await received(page, 'straight over h2');
      await served.child.waitForLine(/#1 connect 127\.0\.0\.1:\d+ \/ \(HTTP\/2\)/);
      await page.getByRole('button', { name: 'Disconnect' }).click();
      await page.getByTestId('close-info').filter({ hasText: '1000' }).waitFor();

      // Through the relay: the page's relay connection is a stream too; the relay reaches the echo server over HTTP/1.1.
      await page.getByLabel('Relay through switchboard').check();
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await page.getByTestId('state').filter({ hasText: 'Connected through the relay' }).waitFor();
      await sendText(page, 'relayed over h2');
      await received(page, 'relayed over h2');
      await served.child.waitForLine(/relay-connect relay 1, target wss:\/\/127\.0\.0\.1:\d+\/, page HTTP\/2/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
