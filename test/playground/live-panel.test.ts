// The playground's live panel in Chromium, with real traffic: a real
// `switchboard serve --echo` serves the page, the page connects to it through
// the relay, sends messages, pings every second and disconnects; the charts'
// uPlot series (the instance is on its element) receive the numbers, the
// round trip shows, the close code is listed. GET /__stats answers on the
// serve port and not on `switchboard playground`. UPDATE_SCREENSHOTS=1 also
// writes docs/playground-live.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import path from 'node:path';
import { assertBuilt, closeBrowser, DOCS, launchChromium, startSwitchboard, stopChildren, UPDATE_SCREENSHOTS, type Running } from './helpers.js';

// Browser globals, for the functions that run in the page.
declare const document: { querySelector(selector: string): unknown };

const T = { timeout: 90_000 };

/** The series of the chart `name` as uPlot holds them: [times, ...series]. */
function chartData(page: Page, name: string): Promise<Array<Array<number | null>> | null> {
  return page.evaluate((chart) => {
    const el = document.querySelector(`[data-chart="${chart}"]`) as { uplot?: { data: Array<Array<number | null>> } } | null;
    return el?.uplot ? el.uplot.data.map((s) => [...s]) : null;
  }, name);
}

/** Waits until every series of chart `name` has a value above 0 (`min` 0: any value, 0 included, in a series that had none). */
async function waitForSeries(page: Page, name: string, what: string, min = Number.MIN_VALUE): Promise<Array<Array<number | null>>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const data = await chartData(page, name);
    if (data !== null && data.length > 1 && data.slice(1).every((series) => series.some((v) => v !== null && v >= min))) return data;
    if (Date.now() > deadline) throw new Error(`chart ${name}: no ${what}; its data: ${JSON.stringify(data)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function sendText(page: Page, text: string): Promise<void> {
  await page.getByLabel('Text', { exact: true }).check();
  await page.getByLabel('Text message').fill(text);
  await page.getByLabel('Text message').press('Control+Enter');
}

describe('playground live panel (switchboard serve --echo + Chromium)', { timeout: 180_000 }, () => {
  let browser: Browser | undefined;
  let served: Running;

  before(async () => {
    assertBuilt();
    served = await startSwitchboard('serve', ['--echo']);
    browser = await launchChromium();
  });

  after(async () => {
    await closeBrowser(browser);
    await stopChildren();
  });

  test('GET /__stats: the serving server\'s counters, as JSON (the hub\'s too with --hub); `switchboard playground` has none', T, async () => {
    const res = await fetch(new URL('/__stats', served.page));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const stats = (await res.json()) as Record<string, number>;
    for (const field of ['time', 'connections', 'handshakesAccepted', 'handshakesRefused', 'messagesReceived', 'messagesSent', 'bytesReceived', 'bytesSent', 'bufferedBytes']) {
      assert.equal(typeof stats[field], 'number', field);
    }
    assert.equal(stats.hub, undefined);
    // With --hub, the hub's part too.
    const hub = await startSwitchboard('serve', ['--hub']);
    const hubStats = (await (await fetch(new URL('/__stats', hub.page))).json()) as { hub?: Record<string, number> };
    assert.deepEqual(hubStats.hub, { connections: 0, rooms: 0, members: 0 });
    const playgroundOnly = await startSwitchboard('playground');
    assert.equal((await fetch(new URL('/__stats', playgroundOnly.page))).status, 404);
  });

  test('messages, bytes, server connections and traffic, ping round trips and a close code reach the charts', T, async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    try {
      await page.goto(served.page);
      assert.equal(await page.getByTestId('live-panel').count(), 0, 'no panel before the first connection');
      await page.getByLabel(/Relay through switchboard/).check();
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await page.getByTestId('state').filter({ hasText: /^Connected/ }).waitFor();
      await page.getByTestId('live-panel').waitFor();

      // The server the page came from: its connections (the relay's one upstream). Its first snapshot is the
      // baseline of its rates, so the messages go after it.
      await waitForSeries(page, 'server-connections', 'connections', 1);
      for (let i = 0; i < 5; i++) await sendText(page, `live ${i} ${'x'.repeat(100)}`);
      const messages = await waitForSeries(page, 'messages', 'messages in and out');
      const bytes = await waitForSeries(page, 'bytes', 'bytes in and out');
      // What this page sent: 5 messages of 107 bytes (and their echoes back), spread over the seconds they fell in.
      const sum = (series: Array<number | null>) => series.reduce<number>((a, v) => a + (v ?? 0), 0);
      assert.ok(sum(messages[2]!) <= 5 && sum(bytes[2]!) <= 5 * 107, JSON.stringify(bytes));
      // And the server's traffic over all its clients (the relay's upstream connection among them).
      await waitForSeries(page, 'server-messages', 'server traffic in and out');

      assert.match(await page.getByTestId('live-rtt').innerText(), /no pong yet/);
      await page.getByLabel('Ping every second').check();
      const rtt = await waitForSeries(page, 'rtt', 'round trip', 0);
      assert.ok(rtt[1]!.every((v) => v === null || (v >= 0 && v < 10_000)), JSON.stringify(rtt));
      assert.match(await page.getByTestId('live-rtt').innerText(), /^Round trip \d+(\.\d)? ms$/);
      if (UPDATE_SCREENSHOTS) {
        // A few more seconds of traffic, so that the picture has a shape.
        for (let i = 0; i < 6; i++) {
          for (let j = 0; j <= i; j++) await sendText(page, `live ${i}.${j} ${'y'.repeat(40 * i)}`);
          await page.waitForTimeout(1000);
        }
        await page.getByTestId('live-panel').screenshot({ path: path.join(DOCS, 'playground-live.png') });
      }

      await page.getByRole('button', { name: 'Disconnect' }).click();
      await page.getByTestId('state').filter({ hasText: /^Closed/ }).waitFor();
      const closeCodes = page.getByTestId('close-codes');
      await closeCodes.filter({ hasText: /1000 \(normal closure\)\s*1$/i }).waitFor();
      // The panel stays after the close, and the server charts go (the page is no longer connected to it).
      assert.equal(await page.locator('[data-chart="server-connections"]').count(), 0);
      assert.ok((await chartData(page, 'messages')) !== null);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
