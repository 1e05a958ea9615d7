// The playground's session export and import, in the command's recording
// format (docs/cli.md#recording-format), end to end: Chromium on the page a
// real `switchboard serve` serves; the exported file replayed green by
// `switchboard replay` against the same server (and red against another);
// a `connect --record` file (with an Authorization header) imported into the
// page, run there through the relay, exported again and replayed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { runCli, startServe, stopAll } from '../cli/helpers.js';
import { assertBuilt, closeBrowser, launchChromium, startSwitchboard, stopChildren, type Running } from './helpers.js';

const T = { timeout: 90_000 };

declare const window: unknown;

interface StoreEntry {
  dir: string;
  kind: string;
  text?: string;
}

async function entries(page: Page): Promise<StoreEntry[]> {
  return page.evaluate(() => {
    const store = (window as { __playground: { store: { flush(): void; entries: Array<Record<string, unknown>> } } }).__playground.store;
    store.flush();
    return store.entries.map((e) => ({ dir: e.dir, kind: e.kind, text: e.text })) as StoreEntry[];
  });
}

async function waitForEntries(page: Page, match: (e: StoreEntry) => boolean, count: number, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await entries(page)).filter(match).length < count) {
    if (Date.now() > deadline) throw new Error(`waiting for ${what}; the log: ${JSON.stringify(await entries(page)).slice(0, 3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function openPage(browser: Browser, url: string): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  return { context, page, errors };
}

async function exportTo(page: Page, file: string): Promise<Array<Record<string, unknown>>> {
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export session' }).click();
  const saved = await download;
  assert.match(saved.suggestedFilename(), /^session-.*\.jsonl$/);
  await saved.saveAs(file);
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The lines without their times (which differ from one run to the next). */
const timeless = (lines: Array<Record<string, unknown>>) => lines.slice(1).map(({ time: _time, ...rest }) => rest);

describe('playground session export and import (Chromium) with switchboard replay', { timeout: 300_000 }, () => {
  let browser: Browser | undefined;
  let served: Running;
  let dir: string;

  before(async () => {
    assertBuilt();
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-session-'));
    served = await startSwitchboard('serve');
    browser = await launchChromium();
  });

  after(async () => {
    await closeBrowser(browser);
    await stopChildren();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a session and its saved messages exported from the page replay green against the server they were recorded on, and back into the page unchanged', T, async () => {
    const { context, page, errors } = await openPage(browser!, served.page);
    const exported = path.join(dir, 'page.jsonl');
    try {
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await page.getByTestId('state').filter({ hasText: /^Connected/ }).waitFor();
      await page.getByLabel('Text message').fill('hello');
      await page.getByLabel('Text message').press('Control+Enter');
      await page.getByLabel('Binary', { exact: true }).check();
      await page.getByLabel('Bytes in hex').fill('00 ff 48 69');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.getByLabel('Text', { exact: true }).check();
      await page.getByLabel('Text message').fill('{"type":"ping","n":1}');
      await page.getByLabel('Text message').press('Control+Enter');
      await waitForEntries(page, (e) => e.dir === 'in', 3, 'three replies');
      await page.getByLabel('Text message').fill('saved one');
      await page.getByLabel('Save as').fill('greeting');
      await page.getByRole('button', { name: 'Save message' }).click();
      await page.getByRole('button', { name: 'Send greeting' }).waitFor();

      const lines = await exportTo(page, exported);
      assert.deepEqual(lines[0], { ...lines[0], format: 'switchboard-session', version: 1, url: served.ws, source: 'playground' });
      assert.deepEqual(
        lines.slice(1).map((l) => [l.event, l.direction ?? l.name, l.opcode, l.data]),
        [
          ['handshake', undefined, undefined, undefined],
          ['message', 'out', 'text', 'hello'],
          ['message', 'in', 'text', 'We have recieved a message: hello'],
          ['message', 'out', 'binary', Buffer.from([0, 0xff, 0x48, 0x69]).toString('base64')],
          ['message', 'in', 'text', `We have recieved a message: ${Buffer.from([0, 0xff, 0x48, 0x69]).toString('utf8')}`],
          ['message', 'out', 'text', '{"type":"ping","n":1}'],
          ['message', 'in', 'text', 'We have recieved a message: {"type":"ping","n":1}'],
          ['saved', 'greeting', 'text', 'saved one'],
        ],
      );

      const green = await runCli(['replay', exported, '--fast']);
      assert.equal(green.code, 0, green.child.describe());
      assert.equal(green.stdout, 'replay: ok, 3 messages sent, 3 replies matched\n');
      const echo = await startServe(['--echo', '--quiet']);
      const red = await runCli(['replay', exported, echo.url, '--fast']);
      assert.equal(red.code, 1, red.child.describe());
      assert.match(red.stdout, /^replay: mismatch at .*page\.jsonl:4/);

      // Back into a fresh page (its own storage): settings, saved messages and log; exported again, the same file.
      const fresh = await openPage(browser!, served.page);
      try {
        await fresh.page.getByTestId('import-session').setInputFiles(exported);
        await fresh.page.getByRole('button', { name: 'Send greeting' }).waitFor();
        await waitForEntries(fresh.page, (e) => e.dir === 'in', 3, 'the imported replies in the log');
        const again = await exportTo(fresh.page, path.join(dir, 'again.jsonl'));
        assert.deepEqual(timeless(again), timeless(lines));
        assert.deepEqual(fresh.errors, []);
      } finally {
        await fresh.context.close();
      }
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('a connect --record file with an Authorization header imports into the page (URL, header, its sent messages saved), runs there through the relay, and exports a file that replays green', T, async () => {
    const recorded = path.join(dir, 'cli.jsonl');
    const record = await runCli(['connect', served.ws, '--record', recorded, '-H', 'Authorization: Bearer t0k3n', '-x', 'one', '-x', 'two', '--wait', '0.3']);
    assert.equal(record.code, 0, record.child.describe());

    const { context, page, errors } = await openPage(browser!, served.page);
    try {
      await page.getByTestId('import-session').setInputFiles(recorded);
      await page.getByRole('button', { name: 'Send cli #1' }).waitFor();
      await page.getByRole('button', { name: 'Send cli #2' }).waitFor();
      assert.equal(await page.locator('#url').inputValue(), served.ws);
      assert.equal(await page.getByLabel('Header 1 name').inputValue(), 'authorization');
      assert.equal(await page.getByLabel('Header 1 value').inputValue(), 'Bearer t0k3n');

      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await page.getByTestId('state').filter({ hasText: /^Connected through the relay/ }).waitFor();
      await page.getByRole('button', { name: 'Send cli #1' }).click();
      await page.getByRole('button', { name: 'Send cli #2' }).click();
      await waitForEntries(page, (e) => e.dir === 'in' && e.text?.startsWith('We have recieved a message: ') === true, 4, 'the two imported and two new replies');
      const lines = await exportTo(page, path.join(dir, 'from-page.jsonl'));
      const handshake = lines.find((l) => l.event === 'handshake') as { request: { headers: Record<string, string> }; response: { status: number } };
      assert.equal(handshake.request.headers.authorization, 'Bearer t0k3n');
      assert.equal(handshake.response.status, 101, 'the relay\'s handshake response is kept');
      assert.deepEqual(
        lines.filter((l) => l.event === 'message').map((l) => [l.direction, l.data]),
        [['out', 'one'], ['in', 'We have recieved a message: one'], ['out', 'two'], ['in', 'We have recieved a message: two']],
        'only the last connection\'s messages',
      );
      const green = await runCli(['replay', path.join(dir, 'from-page.jsonl'), '--fast']);
      assert.equal(green.code, 0, green.child.describe());
      assert.equal(green.stdout, 'replay: ok, 2 messages sent, 2 replies matched\n');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  test('a file that is not a recording is refused with its reason', T, async () => {
    const { context, page } = await openPage(browser!, served.page);
    try {
      await page.getByTestId('import-session').setInputFiles({ name: 'notes.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from('{"hello":1}\n') });
      await page.getByTestId('problem').filter({ hasText: 'notes.jsonl is not a switchboard session recording' }).waitFor();
    } finally {
      await context.close();
    }
  });
});
