// `switchboard serve --metrics [ADDR]`: the real command, real clients on
// 127.0.0.1, /metrics scraped with fetch, on the serve port or on an address
// of its own; with --hub too.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { assertBuilt, startServe, stopAll, until } from './helpers.js';
import { sample, scrape } from '../metrics/exposition.js';

assertBuilt();
after(stopAll);

describe('serve --metrics', { timeout: 60_000 }, () => {
  test('on the serve port: connections, refusals, messages and closes of real clients', async () => {
    const served = await startServe(['--echo', '--path', '/ws', '--metrics']);
    const metricsUrl = `http://127.0.0.1:${served.port}/metrics`;
    assert.equal(sample(await scrape(metricsUrl), 'switchboard_connections'), 0);

    const a = await WebSocket.connect(`${served.url}ws`);
    const b = await WebSocket.connect(`${served.url}ws`);
    await assert.rejects(WebSocket.connect(`${served.url}elsewhere`)); // 400: no endpoint there
    const echoed = new Promise((resolve) => a.once('message', resolve));
    a.send('x'.repeat(3000));
    await echoed;

    const open = await scrape(metricsUrl);
    assert.equal(sample(open, 'switchboard_connections'), 2);
    assert.equal(sample(open, 'switchboard_connections_total', { result: 'accepted' }), 2);
    assert.equal(sample(open, 'switchboard_connections_total', { result: 'refused' }), 1);
    assert.equal(sample(open, 'switchboard_messages_received_total', { type: 'text' }), 1);
    assert.equal(sample(open, 'switchboard_message_received_size_bytes_sum'), 3000);
    assert.equal(sample(open, 'switchboard_messages_sent_total', { type: 'text' }), 1);

    const closed = Promise.all([a, b].map((ws) => new Promise((resolve) => ws.once('close', resolve))));
    a.close(1000);
    b.close(1001);
    await closed;
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = await scrape(metricsUrl);
      if (sample(text, 'switchboard_connections') === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(sample(text, 'switchboard_connections'), 0);
    assert.equal(sample(text, 'switchboard_disconnections_total', { code: '1000' }), 1);
    assert.equal(sample(text, 'switchboard_disconnections_total', { code: '1001' }), 1);
    // The playground is still served beside it.
    assert.equal((await fetch(`http://127.0.0.1:${served.port}/`)).status, 200);
  });

  test('on an address of its own: the serve port does not answer /metrics', async () => {
    const served = await startServe(['--echo', '--metrics', '127.0.0.1:0']);
    await until(() => /metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/.test(served.child.stderr), 'the metrics line on stderr');
    const metricsUrl = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(served.child.stderr)![1]!;
    assert.notEqual(new URL(metricsUrl).port, String(served.port));
    const ws = await WebSocket.connect(served.url);
    assert.equal(sample(await scrape(metricsUrl), 'switchboard_connections'), 1);
    assert.notEqual((await fetch(`http://127.0.0.1:${served.port}/metrics`)).headers.get('content-type')?.startsWith('text/plain; version=0.0.4'), true);
    assert.equal((await fetch(metricsUrl.replace('/metrics', '/'))).status, 404);
    ws.close();
  });

  test('--hub: rooms and members', async () => {
    const served = await startServe(['--hub', '--metrics']);
    const metricsUrl = `http://127.0.0.1:${served.port}/metrics`;
    const ws = await WebSocket.connect(`${served.url}hub`, { protocols: ['switchboard.v1'] });
    const answers: any[] = [];
    ws.on('message', (data: Buffer) => answers.push(JSON.parse(data.toString())));
    ws.send(JSON.stringify({ t: 'hello' }));
    await until(() => answers.some((m) => m.t === 'welcome'), 'welcome');
    ws.send(JSON.stringify({ t: 'join', room: 'a', id: 1 }));
    ws.send(JSON.stringify({ t: 'join', room: 'b', id: 2 }));
    await until(() => answers.filter((m) => m.t === 'ack').length === 2, 'two joins');
    const text = await scrape(metricsUrl);
    assert.equal(sample(text, 'switchboard_hub_rooms'), 2);
    assert.equal(sample(text, 'switchboard_hub_members'), 2);
    assert.equal(sample(text, 'switchboard_hub_connections'), 1);
    assert.equal(sample(text, 'switchboard_hub_request_duration_seconds_count', { kind: 'join', result: 'ok' }), 2);
    ws.close();
  });
});
