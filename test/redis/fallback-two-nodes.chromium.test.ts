// The HTTP fallback in Chromium (playwright-core, /usr/bin/chromium) with the
// built browser client, on two hub nodes sharing a real redis-server, behind
// a proxy that refuses WebSocket upgrades and round-robins every HTTP request
// between the nodes (no sticky sessions): the page falls back to SSE and
// chats with a Node WebSocket client on node A; presence, a request with an
// ack, a 1,000-message burst with no loss or duplicate, in order.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { withTimeout } from '../helpers/async.js';
import { repoRoot } from '../helpers/env.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { HubNode, Recorder, range, startNode, until } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const DIST = path.join(repoRoot, 'packages/switchboard/dist/esm');

const PAGE = `<!doctype html><script type="module">
import { HubClient } from '/dist/client/index.js';
window.connectHub = async () => {
  const client = new HubClient(location.origin.replace('http', 'ws') + '/hub', { auth: { user: 'page' } });
  window.client = client;
  window.got = [];
  window.presence = [];
  window.disconnects = 0;
  client.on('said', (d) => window.got.push(d));
  client.on('n', (n) => window.got.push(n));
  client.on('presence', (p) => p.join && window.presence.push(p.join.id));
  client.on('disconnect', () => window.disconnects++);
  await client.ready();
  return { transport: client.transport, id: client.id };
};
</script>`;

/** The page and the built client, served by the proxy itself (same origin as the hub endpoints behind it). */
function servePage(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const url = req.url ?? '/';
  if (url === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    return true;
  }
  if (!url.startsWith('/dist/')) return false;
  const file = path.join(DIST, url.slice('/dist/'.length));
  if (file.startsWith(DIST) && existsSync(file)) res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
  else res.writeHead(404).end();
  return true;
}

describe('HTTP fallback in Chromium on two nodes, no sticky sessions', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let browser: Browser | undefined;
  const nodes: HubNode[] = [];
  const clients: Recorder[] = [];
  let proxy: RoundRobinProxy | undefined;

  before(async () => {
    assert.ok(existsSync(path.join(DIST, 'client/index.js')), 'the built client is missing: run node scripts/build.mjs --lib');
    redis = await startRedis();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  });
  after(async () => {
    for (const c of clients) c.close();
    await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, 'closing Chromium').catch(() => {});
    await Promise.all(nodes.map((n) => n.stop()));
    await proxy?.close();
    await redis?.stop();
  });

  test('WebSockets refused: the page falls back to SSE; chat with a WebSocket client on node A, presence, a request with an ack, 1,000 messages', { timeout: 90_000 }, async () => {
    const [a, b] = await Promise.all([startNode({ url: redis.url }), startNode({ url: redis.url })]);
    nodes.push(a!, b!);
    proxy = await startRoundRobinProxy([a!.port, b!.port], servePage);
    const ws = new Recorder(a!.url, { auth: { user: 'ws' }, transports: ['websocket'] }).listen('said');
    clients.push(ws);
    await ws.client.ready();

    const page = await browser!.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${proxy.url}/`);
    await page.waitForFunction(() => typeof (globalThis as any).connectHub === 'function');
    const info = (await page.evaluate(() => (globalThis as any).connectHub())) as { transport: string; id: string };
    assert.equal(info.transport, 'sse');
    assert.ok(proxy.upgrades >= 1, 'the upgrade was refused');

    // Presence: the page joins first, then the WebSocket client; the page hears it arrive.
    await page.evaluate(() => (globalThis as any).client.join('chat'));
    await ws.client.join('chat');
    await page.waitForFunction((id) => (globalThis as any).presence.includes(id), ws.client.id);
    // Chat both ways.
    await page.evaluate(() => (globalThis as any).client.publish('chat', 'said', 'from chromium'));
    await until(() => ws.messages.length === 1, 10_000, 'the WebSocket client heard the page');
    assert.equal(ws.messages[0]!.data, 'from chromium');
    await ws.client.publish('chat', 'said', 'from node');
    await page.waitForFunction(() => (globalThis as any).got.includes('from node'));
    // A request with an ack.
    assert.equal(await page.evaluate(() => (globalThis as any).client.request('add', { a: 40, b: 2 })), 42);
    // A burst from the WebSocket client on node A.
    await page.evaluate(() => ((globalThis as any).got = []));
    await Promise.all(range(1000).map((i) => ws.client.publish('chat', 'n', i)));
    await page.waitForFunction(() => (globalThis as any).got.length >= 1000);
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would come now
    assert.deepEqual(await page.evaluate(() => (globalThis as any).got), range(1000), 'every message once, in order');

    // One session all along, though both nodes served its requests.
    assert.equal(await page.evaluate(() => (globalThis as any).disconnects), 0, 'no reconnection');
    assert.equal(await page.evaluate(() => (globalThis as any).client.id), info.id);
    const holders = await Promise.all([a!, b!].map((n) => n.call<boolean>('holds', { client: info.id })));
    assert.equal(holders.filter(Boolean).length, 1, 'one node holds the session');
    assert.ok((proxy.served.get(a!.port) ?? 0) >= 2 && (proxy.served.get(b!.port) ?? 0) >= 2, `both nodes served requests: ${JSON.stringify([...proxy.served])}`);
    await page.close();
  });
});
