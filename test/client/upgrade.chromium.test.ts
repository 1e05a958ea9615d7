// Moving back up to WebSocket in Chromium (playwright-core, /usr/bin/chromium)
// with the built browser client: the page connects behind a proxy that
// refuses WebSocket upgrades (SSE), the proxy starts letting them through
// while a Node publisher sends a burst, and the page moves to 'websocket'
// with every message exactly once and in order, and a request with an ack in
// flight during the move completes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import type { Hub } from '../../packages/switchboard/src/hub/index.js';
import { HubClient } from '../../packages/switchboard/src/client/index.js';
import { startBlockingProxy, type BlockingProxy } from '../helpers/blocking-proxy.js';
import { closeChromium, launchChromium } from '../helpers/chromium.js';
import { until } from '../hub/helpers.js';
import { startPageHub, type PageHub } from './helpers/page-hub.js';

const PAGE = `<!doctype html><script type="module">
import { HubClient } from '/dist/client/index.js';
window.connectHub = async (remember = false) => {
  const started = performance.now();
  // Tries every 100 ms, no growth, no jitter: refused until the proxy changes its mind. Remembering: no tries.
  const options = remember ? { upgrade: false } : { upgrade: { delay: 100, factor: 1, jitter: 0 }, rememberTransport: false };
  const client = new HubClient(location.origin.replace('http', 'ws') + '/hub', options);
  window.client = client;
  window.got = [];
  window.moves = [];
  client.on('n', (n) => window.got.push(n));
  client.on('transport', (info) => window.moves.push(info));
  await client.ready();
  await client.join('room');
  window.took = performance.now() - started;
  return client.transport;
};
window.ask = () => { window.answer = null; window.client.request('hold', 21, { timeout: 30000 }).then((r) => (window.answer = r), (e) => (window.answer = String(e))); };
</script>`;

describe('moving back up to WebSocket in Chromium', { timeout: 120_000 }, () => {
  let browser: Browser | undefined;
  let pageHub: PageHub;
  let hub: Hub;
  let proxy: BlockingProxy;
  let base = '';
  const held: Array<() => void> = [];
  const clients: HubClient[] = [];

  before(async () => {
    // No rate limit: the burst is the point.
    pageHub = await startPageHub(PAGE, { rateLimit: false });
    ({ hub, base } = pageHub);
    hub.on('connection', (client) => client.on('hold', (n: number, reply) => held.push(() => reply(n * 2))));
    proxy = await startBlockingProxy(base, { upgrade: 'refuse' });
    browser = await launchChromium();
  });
  after(async () => {
    for (const c of clients) c.close();
    await closeChromium(browser);
    await proxy?.close();
    await pageHub?.close();
  });

  test('SSE, then the proxy lets upgrades through during a burst: the page moves to websocket; every message once, in order; a request in flight completes', async () => {
    const page = await browser!.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${proxy.url}/`);
    await page.waitForFunction(() => typeof (globalThis as any).connectHub === 'function');
    assert.equal(await page.evaluate(() => (globalThis as any).connectHub()), 'sse');
    const publisher = new HubClient(`${base.replace('http', 'ws')}/hub`, { WebSocket, transports: ['websocket'] });
    clients.push(publisher);
    await publisher.ready();
    await publisher.join('room');

    // The publisher sends on every turn of the event loop, without waiting for acks, until well after the move.
    let sent = 0;
    let stop = false;
    const acks: Array<Promise<number>> = [];
    const pump = (async () => {
      while (!stop && sent < 20_000) {
        for (let i = 0; i < 10; i++) acks.push(publisher.publish('room', 'n', sent++));
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await page.waitForFunction(() => (globalThis as any).got.length >= 200);
    assert.equal(await page.evaluate(() => (globalThis as any).moves.length), 0, 'no move while the proxy refuses upgrades');
    await page.evaluate(() => (globalThis as any).ask());
    await until(() => held.length === 1, 10_000, 'the request reached the hub');
    proxy.upgrade = 'pass';
    await page.waitForFunction(() => (globalThis as any).moves.length === 1);
    const movedAt = sent;
    await until(() => sent >= movedAt + 300, 10_000, 'the burst going on after the move');
    stop = true;
    await pump;
    held[0]!();
    await Promise.all(acks);
    await page.waitForFunction(() => (globalThis as any).answer !== null);
    assert.equal(await page.evaluate(() => (globalThis as any).answer), 42);
    await page.waitForFunction((n) => (globalThis as any).got.length >= n, sent);
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would come now
    const state = (await page.evaluate(() => ({ got: (globalThis as any).got, moves: (globalThis as any).moves, transport: (globalThis as any).client.transport, id: (globalThis as any).client.id }))) as {
      got: number[];
      moves: Array<{ transport: string; previous: string; id: string }>;
      transport: string;
      id: string;
    };
    console.log(`# Chromium, sse -> websocket during a burst: ${sent} messages, the move after about ${movedAt}`);
    assert.equal(state.transport, 'websocket');
    assert.deepEqual(state.moves, [{ transport: 'websocket', previous: 'sse', id: state.id }]);
    assert.deepEqual(state.got, Array.from({ length: sent }, (_, i) => i));
    // The SSE session closed once its request was answered: the publisher and the page's WebSocket remain.
    await until(() => hub.clients.size === 2, 10_000, `${hub.clients.size} connections on the hub`);
    await page.close();
  });

  test('the fallback that worked is remembered across a reload (sessionStorage): no WebSocket attempt the second time', async () => {
    const refusing = await startBlockingProxy(base, { upgrade: 'refuse' });
    try {
      const page = await browser!.newPage();
      page.setDefaultTimeout(30_000);
      await page.goto(`${refusing.url}/`);
      await page.waitForFunction(() => typeof (globalThis as any).connectHub === 'function');
      assert.equal(await page.evaluate(() => (globalThis as any).connectHub(true)), 'sse');
      const first = (await page.evaluate(() => (globalThis as any).took)) as number;
      assert.equal(refusing.upgrades, 1);
      await page.reload();
      await page.waitForFunction(() => typeof (globalThis as any).connectHub === 'function');
      assert.equal(await page.evaluate(() => (globalThis as any).connectHub(true)), 'sse');
      const second = (await page.evaluate(() => (globalThis as any).took)) as number;
      assert.equal(refusing.upgrades, 1, 'the reloaded page did not try WebSocket');
      console.log(`# Chromium, upgrade refused: sse in ${first.toFixed(0)} ms, after a reload (remembered) in ${second.toFixed(0)} ms`);
      await page.close();
    } finally {
      await refusing.close();
    }
  });
});
