// The examples in headless Chromium (/usr/bin/chromium via playwright-core):
// each example server runs as its own process, exactly as `node
// examples/<name>/server.js` starts it, and serves the built browser client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { HubClient } from '../../packages/switchboard/src/client/index.js';
import { repoRoot } from '../helpers/env.js';
import { startNode, type Child } from '../helpers/process.js';
import { withTimeout } from '../helpers/async.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const BUILT_CLIENT = path.join(repoRoot, 'packages/switchboard/dist/esm/client/index.js');

async function startExample(name: string): Promise<{ child: Child; base: string }> {
  const child = startNode(path.join(repoRoot, 'examples', name, 'server.js'), [], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1' } });
  const m = await child.waitForLine(/listening on (http:\/\/127\.0\.0\.1:\d+)$/, 15_000);
  return { child, base: m[1]! };
}

function watchErrors(page: Page, errors: string[]): void {
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
}

describe('examples in Chromium', { timeout: 120_000 }, () => {
  let browser: Browser | undefined;
  const children: Child[] = [];

  before(async () => {
    assert.ok(existsSync(BUILT_CLIENT), `${BUILT_CLIENT} is missing: run npm run build first`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  });
  after(async () => {
    await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, 'closing Chromium').catch(() => {});
    for (const c of children) await c.stop();
  });

  test('chat: two pages chat in a room, with presence, typing notices and history on join', { timeout: 90_000 }, async () => {
    const { child, base } = await startExample('chat');
    children.push(child);
    const errors: string[] = [];
    const alice = await browser!.newPage();
    const bob = await browser!.newPage();
    for (const p of [alice, bob]) {
      p.setDefaultTimeout(15_000);
      watchErrors(p, errors);
    }
    const enter = async (page: Page, name: string): Promise<void> => {
      await page.goto(base);
      await page.getByTestId('name').fill(name);
      await page.getByTestId('room').fill('general');
      await page.getByTestId('enter').click();
      await page.getByTestId('text').waitFor({ state: 'visible' });
    };
    const say = async (page: Page, text: string): Promise<void> => {
      await page.getByTestId('text').fill(text);
      await page.getByTestId('send').click();
    };

    await enter(alice, 'alice');
    await say(alice, 'first, before bob came');
    await enter(bob, 'bob');
    // History on join: bob sees what was said before he came.
    await bob.getByTestId('log').getByText('first, before bob came').waitFor();
    // Presence on both pages.
    await alice.getByTestId('members').getByText('bob').waitFor();
    assert.deepEqual(await bob.getByTestId('members').locator('li').allTextContents(), ['alice', 'bob']);
    // Typing notice, then messages both ways.
    await bob.getByTestId('text').pressSequentially('hel');
    await alice.getByTestId('typing').getByText('bob is typing').waitFor();
    await say(bob, 'hello alice');
    await alice.getByTestId('log').getByText('hello alice').waitFor();
    await say(alice, 'hi bob!');
    await bob.getByTestId('log').getByText('hi bob!').waitFor();
    assert.deepEqual(await alice.getByTestId('log').locator('li').allTextContents(), ['alicefirst, before bob came', 'bobhello alice', 'alicehi bob!']);
    assert.deepEqual(await bob.getByTestId('log').locator('li').allTextContents(), ['alicefirst, before bob came', 'bobhello alice', 'alicehi bob!']);
    // Bob leaves: alice's member list follows.
    await bob.close();
    await alice.getByTestId('members').getByText('bob').waitFor({ state: 'detached' });
    assert.deepEqual(errors, []);
    await alice.close();
  });

  test('leaderboard: a page updates live when another client posts a score', { timeout: 90_000 }, async () => {
    const { child, base } = await startExample('leaderboard');
    children.push(child);
    const errors: string[] = [];
    const viewer = await browser!.newPage();
    viewer.setDefaultTimeout(15_000);
    watchErrors(viewer, errors);
    await viewer.goto(base);
    await viewer.getByTestId('status').getByText('live').waitFor();
    assert.equal(await viewer.getByTestId('board').locator('tr').count(), 0);

    // Another client (Node, switchboard/client on Switchboard's WebSocket) posts scores.
    const poster = new HubClient(base.replace('http:', 'ws:') + '/hub', { WebSocket });
    await poster.ready();
    assert.deepEqual(await poster.request('score', { player: 'ada', score: 120 }), { best: 120 });
    await viewer.getByTestId('board').getByText('ada').waitFor();
    await poster.request('score', { player: 'grace', score: 300 });
    await poster.request('score', { player: 'ada', score: 90 }); // not better: unchanged
    await viewer.getByTestId('board').getByText('grace').waitFor();
    const rows = async (): Promise<string[][]> =>
      viewer.getByTestId('board').locator('tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
    await withTimeout(
      (async () => {
        while (JSON.stringify(await rows()) !== JSON.stringify([['1', 'grace', '300'], ['2', 'ada', '120']])) await new Promise((r) => setTimeout(r, 50));
      })(),
      10_000,
      'the board to show grace then ada',
    );
    // And from a second page, through the form.
    const other = await browser!.newPage();
    other.setDefaultTimeout(15_000);
    watchErrors(other, errors);
    await other.goto(base);
    await other.getByTestId('status').getByText('live').waitFor();
    await other.getByTestId('player').fill('linus');
    await other.getByTestId('score').fill('200');
    await other.getByTestId('post').click();
    await withTimeout(
      (async () => {
        while (JSON.stringify(await rows()) !== JSON.stringify([['1', 'grace', '300'], ['2', 'linus', '200'], ['3', 'ada', '120']])) await new Promise((r) => setTimeout(r, 50));
      })(),
      10_000,
      'the board to show linus second',
    );
    poster.close();
    assert.deepEqual(errors, []);
    await viewer.close();
    await other.close();
  });
});
