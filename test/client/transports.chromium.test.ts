// The HTTP fallback transports in Chromium (playwright-core, /usr/bin/chromium)
// with the built browser client, behind a real proxy that refuses WebSocket
// upgrades (and one that also buffers streamed responses): the page falls
// back, and chats with a Node WebSocket client in the same room.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import type { Hub } from '../../packages/switchboard/src/hub/index.js';
import { HubClient } from '../../packages/switchboard/src/client/index.js';
import { startBlockingProxy, type BlockingProxy } from '../helpers/blocking-proxy.js';
import { closeChromium, launchChromium } from '../helpers/chromium.js';
import { startPageHub, type PageHub } from './helpers/page-hub.js';

const PAGE = `<!doctype html><script type="module">
import { HubClient } from '/dist/client/index.js';
window.connectHub = async (timeout) => {
  const started = performance.now();
  const client = new HubClient(location.origin.replace('http', 'ws') + '/hub', { transportTimeout: timeout });
  window.client = client;
  window.got = [];
  window.presence = [];
  client.on('said', (d) => window.got.push(d));
  client.on('n', (n) => window.got.push(n));
  client.on('presence', (p) => p.join && window.presence.push(p.join.id));
  await client.ready();
  return { transport: client.transport, ms: performance.now() - started, id: client.id };
};
</script>`;

describe('fallback transports in Chromium', { timeout: 120_000 }, () => {
  let browser: Browser | undefined;
  let pageHub: PageHub;
  let hub: Hub;
  let base = '';
  const proxies: BlockingProxy[] = [];
  const clients: HubClient[] = [];

  before(async () => {
    pageHub = await startPageHub(PAGE);
    ({ hub, base } = pageHub);
    hub.on('connection', (client) => client.on('add', (d: { a: number; b: number }, reply) => reply(d.a + d.b)));
    browser = await launchChromium();
  });
  after(async () => {
    for (const c of clients) c.close();
    await closeChromium(browser);
    for (const p of proxies) await p.close();
    await pageHub?.close();
  });

  async function pageBehind(options: { upgrade: 'refuse' | 'hang'; buffer?: boolean }, timeout: number): Promise<{ page: Page; info: { transport: string; ms: number; id: string } }> {
    const proxy = await startBlockingProxy(base, options);
    proxies.push(proxy);
    const page = await browser!.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${proxy.url}/`);
    await page.waitForFunction(() => typeof (globalThis as any).connectHub === 'function');
    const info = await page.evaluate((t) => (globalThis as any).connectHub(t), timeout);
    return { page, info };
  }

  test('WebSockets refused: the page falls back to SSE; chat, presence, a request with an ack, 1,000 messages', async () => {
    const { page, info } = await pageBehind({ upgrade: 'refuse' }, 2500);
    console.log(`# Chromium, upgrade refused -> ${info.transport} in ${info.ms.toFixed(0)} ms`);
    assert.equal(info.transport, 'sse');
    const ws = new HubClient(`${base.replace('http', 'ws')}/hub`, { WebSocket, transports: ['websocket'] });
    clients.push(ws);
    await ws.ready();
    // The page joins first, then the Node client: the page is told it arrived (presence).
    await page.evaluate(() => (globalThis as any).client.join('chat'));
    await ws.join('chat');
    await page.waitForFunction((id) => (globalThis as any).presence.includes(id), ws.id);
    const heard = new Promise<unknown>((resolve) => ws.on('said', (d) => resolve(d)));
    await page.evaluate(() => (globalThis as any).client.publish('chat', 'said', 'from chromium'));
    assert.equal(await heard, 'from chromium');
    await ws.publish('chat', 'said', 'from node');
    await page.waitForFunction(() => (globalThis as any).got.includes('from node'));
    assert.equal(await page.evaluate(() => (globalThis as any).client.request('add', { a: 40, b: 2 })), 42);
    await page.evaluate(() => ((globalThis as any).got = []));
    for (let i = 0; i < 1000; i++) void hub.to('chat').emit('n', i);
    await page.waitForFunction(() => (globalThis as any).got.length >= 1000);
    await new Promise((r) => setTimeout(r, 200));
    const got = (await page.evaluate(() => (globalThis as any).got)) as number[];
    assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i));
    await page.close();
  });

  test('WebSockets refused and streams buffered: the page falls back to polling', async () => {
    const { page, info } = await pageBehind({ upgrade: 'refuse', buffer: true }, 1000);
    console.log(`# Chromium, upgrade refused + stream buffered -> ${info.transport} in ${info.ms.toFixed(0)} ms (transportTimeout 1000)`);
    assert.equal(info.transport, 'polling');
    assert.equal(await page.evaluate(() => (globalThis as any).client.request('add', { a: 1, b: 1 })), 2);
    await page.evaluate(() => (globalThis as any).client.join('poll-room'));
    for (let i = 0; i < 1000; i++) void hub.to('poll-room').emit('n', i);
    await page.waitForFunction(() => (globalThis as any).got.length >= 1000);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await page.evaluate(() => (globalThis as any).got), Array.from({ length: 1000 }, (_, i) => i));
    await page.close();
  });
});
