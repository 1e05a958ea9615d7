// @switchboard/metrics with the real thing: a WebSocketServer and a Hub on
// 127.0.0.1, real clients that connect, send, get refused and close, and
// /metrics scraped over HTTP with fetch; the numbers must match what happened.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type VerifyClientInfo } from '../../packages/switchboard/src/index.js';
import { SwitchboardMetrics, closeCodeLabel } from '../../packages/metrics/src/index.js';
import { RawClient, startHub, until, type TestHub } from '../hub/helpers.js';
import { scrape, sample } from './exposition.js';

const HOST = '127.0.0.1';

describe('@switchboard/metrics on a WebSocketServer', { timeout: 30_000 }, () => {
  let metrics: SwitchboardMetrics;
  let server: http.Server;
  let wss: WebSocketServer;
  let url: string;
  let metricsUrl: string;

  before(async () => {
    metrics = new SwitchboardMetrics();
    server = http.createServer((req, res) => {
      if (!metrics.handle(req, res)) res.writeHead(404).end();
    });
    wss = new WebSocketServer({ server, path: '/ws', verifyClient: (info: VerifyClientInfo) => info.req.headers.authorization === 'Bearer ok' });
    metrics.track(wss);
    wss.on('connection', (ws) => ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary })));
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    const port = (server.address() as AddressInfo).port;
    url = `ws://${HOST}:${port}/ws`;
    metricsUrl = `http://${HOST}:${port}/metrics`;
  });
  after(async () => {
    metrics.close();
    for (const ws of wss.clients) ws.terminate();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('connections, refusals, messages, sizes and close codes', async () => {
    const empty = await scrape(metricsUrl);
    assert.equal(sample(empty, 'switchboard_connections'), 0);

    const headers = { authorization: 'Bearer ok' };
    const clients = await Promise.all([1, 2, 3].map(() => WebSocket.connect(url, { headers })));
    // Refused twice: by verifyClient (401), and for a path with no endpoint (400).
    await assert.rejects(WebSocket.connect(url));
    await assert.rejects(WebSocket.connect(url.replace('/ws', '/nowhere'), { headers }));

    let echoes = 0;
    for (const c of clients) c.on('message', () => echoes++);
    clients[0]!.send('hello'); // 5 bytes
    clients[1]!.send(Buffer.alloc(2000)); // 2,000 bytes
    clients[2]!.send(Buffer.alloc(100_000)); // 100,000 bytes
    await until(() => echoes === 3, 5000, 'three echoes');

    const open = await scrape(metricsUrl);
    assert.equal(sample(open, 'switchboard_connections'), 3);
    assert.equal(sample(open, 'switchboard_connections_total', { result: 'accepted' }), 3);
    assert.equal(sample(open, 'switchboard_connections_total', { result: 'refused' }), 2);
    assert.equal(sample(open, 'switchboard_handshake_refusals_total', { code: 'WS_ERR_CLIENT_REFUSED' }), 1);
    // The path check is done before verifyClient runs.
    assert.equal(sample(open, 'switchboard_handshake_refusals_total', { code: 'WS_ERR_INVALID_PATH' }), 1);
    assert.equal(sample(open, 'switchboard_messages_received_total', { type: 'text' }), 1);
    assert.equal(sample(open, 'switchboard_messages_received_total', { type: 'binary' }), 2);
    assert.equal(sample(open, 'switchboard_messages_sent_total', { type: 'binary' }), 2);
    assert.equal(sample(open, 'switchboard_message_received_size_bytes_count'), 3);
    assert.equal(sample(open, 'switchboard_message_received_size_bytes_sum'), 102_005);
    assert.equal(sample(open, 'switchboard_message_sent_size_bytes_sum'), 102_005);
    // Cumulative buckets: 5 B in the first (64), 2,000 B by 4,096, 100,000 B by 262,144.
    assert.equal(sample(open, 'switchboard_message_received_size_bytes_bucket', { le: '64' }), 1);
    assert.equal(sample(open, 'switchboard_message_received_size_bytes_bucket', { le: '4096' }), 2);
    assert.equal(sample(open, 'switchboard_message_received_size_bytes_bucket', { le: '65536' }), 2);
    assert.equal(sample(open, 'switchboard_message_received_size_bytes_bucket', { le: '262144' }), 3);

    const closed = clients.map((c) => new Promise((resolve) => c.once('close', resolve)));
    clients[0]!.close(1000);
    clients[1]!.close(4321, 'app');
    clients[2]!.terminate();
    await Promise.all(closed);
    await until(() => wss.clients.size === 0, 5000, 'the server to see every close');

    const gone = await scrape(metricsUrl);
    assert.equal(sample(gone, 'switchboard_connections'), 0);
    assert.equal(sample(gone, 'switchboard_disconnections_total', { code: '1000' }), 1);
    assert.equal(sample(gone, 'switchboard_disconnections_total', { code: '4xxx' }), 1, 'application codes are folded into their class');
    assert.equal(sample(gone, 'switchboard_disconnections_total', { code: '1006' }), 1);
    assert.equal(sample(gone, 'switchboard_connection_duration_seconds_count'), 3);
    assert.equal(sample(gone, 'switchboard_buffered_bytes'), 0);
  });

  test('only GET and HEAD; other paths are left to the caller', async () => {
    assert.equal((await fetch(metricsUrl, { method: 'POST' })).status, 405);
    const head = await fetch(metricsUrl, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal((await fetch(metricsUrl.replace('/metrics', '/other'))).status, 404);
  });

  test('close codes become bounded labels', () => {
    assert.deepEqual([1000, 1001, 1006, 1015, 3000, 3999, 4000, 4999, 1016, 2000, 5000].map(closeCodeLabel), ['1000', '1001', '1006', '1015', '3xxx', '3xxx', '4xxx', '4xxx', 'other', 'other', 'other']);
  });
});

describe('@switchboard/metrics on a Hub', { timeout: 30_000 }, () => {
  let metrics: SwitchboardMetrics;
  let h: TestHub;
  let metricsServer: http.Server;
  let metricsUrl: string;

  before(async () => {
    metrics = new SwitchboardMetrics();
    h = await startHub({ rateLimit: { rate: 1, burst: 20 } });
    metrics.track(h.hub);
    h.hub.on('connection', (c) => c.on('echo', (data, reply) => reply(data)));
    metricsServer = http.createServer((req, res) => void metrics.handle(req, res));
    await new Promise<void>((resolve) => metricsServer.listen(0, HOST, resolve));
    metricsUrl = `http://${HOST}:${(metricsServer.address() as AddressInfo).port}/metrics`;
  });
  after(async () => {
    metrics.close();
    await h.close();
    metricsServer.closeAllConnections();
    await new Promise((resolve) => metricsServer.close(resolve));
  });

  test('rooms, members, publishes, requests and rate-limit hits; no room name in any label', async () => {
    const a = await RawClient.open(h.url);
    const b = await RawClient.open(h.url);
    await a.call({ t: 'join', room: 'secret-room-name' }, 1);
    await b.call({ t: 'join', room: 'secret-room-name' }, 1);
    await b.call({ t: 'join', room: 'other' }, 2);
    await a.call({ t: 'pub', room: 'secret-room-name', ev: 'say', data: 'hi' }, 2);
    await b.next((m) => m.t === 'msg');
    await a.call({ t: 'req', ev: 'echo', data: 1 }, 3);
    await a.call({ t: 'req', ev: 'user-chosen-event', data: 1 }, 4); // no handler

    const text = await scrape(metricsUrl);
    assert.equal(sample(text, 'switchboard_hub_rooms'), 2);
    assert.equal(sample(text, 'switchboard_hub_members'), 3);
    assert.equal(sample(text, 'switchboard_hub_connections'), 2);
    assert.equal(sample(text, 'switchboard_hub_joins_total'), 3);
    assert.equal(sample(text, 'switchboard_hub_publishes_total'), 1);
    assert.equal(sample(text, 'switchboard_hub_deliveries_total'), 1);
    assert.equal(sample(text, 'switchboard_hub_request_duration_seconds_count', { kind: 'join', result: 'ok' }), 3);
    assert.equal(sample(text, 'switchboard_hub_request_duration_seconds_count', { kind: 'pub', result: 'ok' }), 1);
    assert.equal(sample(text, 'switchboard_hub_request_duration_seconds_count', { kind: 'req', result: 'ok' }), 1);
    assert.equal(sample(text, 'switchboard_hub_request_duration_seconds_count', { kind: 'req', result: 'error' }), 1);
    assert.ok((sample(text, 'switchboard_hub_adapter_duration_seconds_count', { operation: 'publish', result: 'ok' }) ?? 0) >= 1);
    assert.ok(!text.includes('secret-room-name') && !text.includes('user-chosen-event'), 'room and event names never become labels');

    // Over the rate limit: 20 tokens, most already spent; a burst of 30 pings cannot all pass.
    for (let i = 0; i < 30; i++) a.send({ t: 'req', id: 100 + i, ev: 'echo', data: i });
    await a.next((m) => m.id === 129);
    const limited = await scrape(metricsUrl);
    assert.ok((sample(limited, 'switchboard_hub_rate_limited_total', { action: 'reject' }) ?? 0) >= 10);

    b.ws.close();
    await until(() => h.hub.clients.size === 1, 5000, 'b to be gone');
    const after = await scrape(metricsUrl);
    assert.equal(sample(after, 'switchboard_hub_rooms'), 1);
    assert.equal(sample(after, 'switchboard_hub_members'), 1);
    assert.equal(sample(after, 'switchboard_hub_leaves_total'), 2);
    a.ws.close();
  });
});
