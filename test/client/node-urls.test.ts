// `welcome.nodes` (docs/protocol.md, section 1): a hub with `nodeUrls` sends
// its nodes' URLs in every welcome; switchboard/client adds those its
// `nodeUrls` policy accepts to the URLs it fails over between. A server must
// not be able to send the client (and its hello credentials) to any host:
// by default only a host the application named, with the same scheme.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { parseServerMessage } from '../../packages/switchboard/src/wire/index.js';
import { Hub } from '../../packages/switchboard/src/hub/index.js';
import type { ClientOptions } from '../../packages/switchboard/src/client/index.js';
import { withTimeout } from '../helpers/async.js';
import { hubClient, startHub, type TestHub } from '../hub/helpers.js';

const OTHER_PORT = 'ws://127.0.0.1:1/hub';
const SECURE = 'wss://127.0.0.1:2/hub';
const ELSEWHERE = 'ws://evil.example/hub';
const OTHER_NAME = 'ws://localhost:3/hub';

describe('welcome.nodes: the wire module', () => {
  test('keeps the ws:/wss: URLs, skips other entries, takes at most 16', () => {
    const nodes = ['wss://a.example/hub', 'http://b.example/', 'javascript:alert(1)', 42, 'WS://C.example:8/x', `ws://${'d'.repeat(2100)}`];
    const m = parseServerMessage(JSON.stringify({ t: 'welcome', id: 'c1', user: null, nodes }));
    assert.deepEqual(m.t === 'welcome' && m.nodes, ['wss://a.example/hub', 'WS://C.example:8/x']);
    const many = Array.from({ length: 40 }, (_, i) => `ws://n${i}.example/hub`);
    const bounded = parseServerMessage(JSON.stringify({ t: 'welcome', id: 'c1', user: null, nodes: many }));
    assert.equal(bounded.t === 'welcome' && bounded.nodes?.length, 16);
    assert.throws(() => parseServerMessage('{"t":"welcome","id":"c1","user":null,"nodes":"ws://a/hub"}'), { code: 'bad_message' });
  });
});

describe('welcome.nodes: hub and client', { timeout: 30_000 }, () => {
  const hubs: TestHub[] = [];
  const clients: Array<{ close(): void }> = [];
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(hubs.map((h) => h.close()));
  });

  async function urlsLearnt(options: ClientOptions): Promise<{ own: string; urls: readonly string[] }> {
    const hub = await startHub({ nodeUrls: [OTHER_PORT, SECURE, ELSEWHERE, OTHER_NAME] });
    hubs.push(hub);
    const client = hubClient(hub.url, { reconnect: false, ...options });
    clients.push(client);
    await withTimeout(client.ready(), 5000, 'the client connected');
    return { own: hub.url, urls: client.urls };
  }

  test('default (same-host): only a URL on the host the client was given, same scheme; the client stays on its URL', async () => {
    const { own, urls } = await urlsLearnt({});
    assert.deepEqual(urls, [own, OTHER_PORT]);
  });

  test("'any': every URL the hub sends; false: none; a function: those it accepts", async () => {
    assert.deepEqual((await urlsLearnt({ nodeUrls: 'any' })).urls.slice(1), [OTHER_PORT, SECURE, ELSEWHERE, OTHER_NAME]);
    const none = await urlsLearnt({ nodeUrls: false });
    assert.deepEqual(none.urls, [none.own]);
    const picked = await urlsLearnt({ nodeUrls: (url) => new URL(url).hostname === 'localhost' });
    assert.deepEqual(picked.urls.slice(1), [OTHER_NAME]);
  });

  test('a hub refuses nodeUrls that clients would not take', () => {
    assert.throws(() => new Hub({ server: http.createServer(), nodeUrls: ['http://a.example/hub'] }), { code: 'WS_ERR_INVALID_OPTION' });
    assert.throws(() => new Hub({ server: http.createServer(), nodeUrls: Array.from({ length: 17 }, (_, i) => `ws://n${i}.example/hub`) }), { code: 'WS_ERR_INVALID_OPTION' });
  });
});
