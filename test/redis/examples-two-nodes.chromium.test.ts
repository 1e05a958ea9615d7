// The examples on two nodes sharing a real redis-server, in headless Chromium
// (/usr/bin/chromium via playwright-core): each example server runs twice, as
// `REDIS_URL=... PORT=... node examples/<name>/server.js` starts it, and a
// page on node A and a page on node B see each other's messages and scores.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../helpers/env.js';
import { startNode, type Child } from '../helpers/process.js';
import { withTimeout } from '../helpers/async.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const BUILT = ['packages/switchboard/dist/esm/client/index.js', 'packages/redis/dist/index.js'].map((f) => path.join(repoRoot, f));

let redis: RedisServer;
let browser: Browser | undefined;
const children: Child[] = [];

async function startExample(name: string): Promise<string> {
  const child = startNode(path.join(repoRoot, 'examples', name, 'server.js'), [], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', REDIS_URL: redis.url } });
  children.push(child);
  const m = await child.waitForLine(/listening on (http:\/\/127\.0\.0\.1:\d+)$/, 15_000);
  return m[1]!;
}

async function openPage(errors: string[]): Promise<Page> {
  const page = await browser!.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  return page;
}

/** Polls until `read()` gives `expected` (compared as JSON), at most 10 s. */
async function eventually<T>(read: () => Promise<T>, expected: T, label: string): Promise<void> {
  const want = JSON.stringify(expected);
  let last = '';
  await withTimeout(
    (async () => {
      while ((last = JSON.stringify(await read())) !== want) await new Promise((r) => setTimeout(r, 50));
    })(),
    10_000,
    label,
  ).catch((error: Error) => assert.fail(`${error.message}; last seen ${last}`));
}

describe('the examples on two nodes sharing a Redis, in Chromium', { timeout: 150_000 }, () => {
  before(async () => {
    for (const file of BUILT) assert.ok(existsSync(file), `${file} is missing: run node scripts/build.mjs --lib first`);
    redis = await startRedis();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  });
  after(async () => {
    await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, 'closing Chromium').catch(() => {});
    for (const c of children) await c.stop();
    await redis?.stop();
  });

  test('chat: a message typed on a page of node A appears on a page of node B, with history and presence from both', { timeout: 90_000 }, async () => {
    const [nodeA, nodeB] = await Promise.all([startExample('chat'), startExample('chat')]);
    assert.notEqual(nodeA, nodeB);
    const errors: string[] = [];
    const alice = await openPage(errors);
    const bob = await openPage(errors);
    const enter = async (page: Page, base: string, name: string): Promise<void> => {
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
    const log = (page: Page): Promise<string[]> => page.getByTestId('log').locator('li').allTextContents();

    await enter(alice, nodeA, 'alice');
    await say(alice, 'said on node A before bob came');
    await alice.getByTestId('log').getByText('said on node A before bob came').waitFor();
    await enter(bob, nodeB, 'bob');
    // History on join comes from Redis: bob, on node B, sees what was said on node A.
    await bob.getByTestId('log').getByText('said on node A before bob came').waitFor();
    // Presence is the same from both nodes.
    await alice.getByTestId('members').getByText('bob').waitFor();
    await eventually(() => bob.getByTestId('members').locator('li').allTextContents(), ['alice', 'bob'], 'bob\'s member list');
    // Typing notices (volatile) and messages both ways, across the nodes.
    await bob.getByTestId('text').pressSequentially('hel');
    await alice.getByTestId('typing').getByText('bob is typing').waitFor();
    await say(alice, 'typed on node A');
    await bob.getByTestId('log').getByText('typed on node A').waitFor();
    await say(bob, 'typed on node B');
    await alice.getByTestId('log').getByText('typed on node B').waitFor();
    const expected = ['alicesaid on node A before bob came', 'alicetyped on node A', 'bobtyped on node B'];
    await eventually(() => log(alice), expected, 'alice\'s log');
    await eventually(() => log(bob), expected, 'bob\'s log');
    // Bob leaves node B: alice's member list on node A follows.
    await bob.close();
    await alice.getByTestId('members').getByText('bob').waitFor({ state: 'detached' });
    assert.deepEqual(errors, []);
    await alice.close();
  });

  test('leaderboard: a score posted on one node shows on a page of the other, and both nodes answer with the same table', { timeout: 90_000 }, async () => {
    const [nodeA, nodeB] = await Promise.all([startExample('leaderboard'), startExample('leaderboard')]);
    const errors: string[] = [];
    const viewerA = await openPage(errors);
    const viewerB = await openPage(errors);
    const rows = (page: Page): Promise<string[][]> =>
      page.getByTestId('board').locator('tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
    const post = async (page: Page, player: string, score: number): Promise<void> => {
      await page.getByTestId('player').fill(player);
      await page.getByTestId('score').fill(String(score));
      await page.getByTestId('post').click();
      await eventually(() => page.getByTestId('score').inputValue(), '', `the post of ${player} ${score} to be accepted`);
    };
    await viewerA.goto(nodeA);
    await viewerB.goto(nodeB);
    for (const page of [viewerA, viewerB]) await page.getByTestId('status').getByText('live').waitFor();

    // A score posted on node A shows on node B's page, and the other way round.
    await post(viewerA, 'ada', 120);
    await eventually(() => rows(viewerB), [['1', 'ada', '120']], 'node B\'s page to show ada');
    await post(viewerB, 'grace', 300);
    await post(viewerB, 'ada', 90); // not better: unchanged
    await eventually(() => rows(viewerA), [['1', 'grace', '300'], ['2', 'ada', '120']], 'node A\'s page to show grace, then ada');
    await post(viewerA, 'linus', 200);
    const table = [['1', 'grace', '300'], ['2', 'linus', '200'], ['3', 'ada', '120']];
    await eventually(() => rows(viewerB), table, 'node B\'s page to show linus second');
    await eventually(() => rows(viewerA), table, 'node A\'s page to show linus second');
    // A page opened later on either node gets the whole table from that node.
    for (const base of [nodeA, nodeB]) {
      const late = await openPage(errors);
      await late.goto(base);
      await eventually(() => rows(late), table, `a new page on ${base}`);
      await late.close();
    }
    assert.deepEqual(errors, []);
    await viewerA.close();
    await viewerB.close();
  });
});
