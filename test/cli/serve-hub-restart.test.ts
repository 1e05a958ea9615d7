// A one-node `switchboard serve --hub` killed (kill -9) and started again on
// the same port while HTTP fallback clients (sse, polling) are in a room: the
// client reconnects by itself, the new process's room has a new epoch, so the
// client is told with a `gap` carrying `reset` (never silence), and every
// message published before and after arrives once, in order
// (docs/transports.md, "Nothing lost"; the two-node case with Redis is
// test/redis/fallback-two-nodes.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubClient } from '../../packages/switchboard/src/client/index.js';
import { assertBuilt, startServe, stopAll, until, type Served } from './helpers.js';

const KEY = 'restart-key';

async function publish(port: number, data: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/api/publish`, {
    method: 'POST',
    headers: { authorization: `apikey ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ room: 'r', event: 'tick', data }),
  });
  assert.equal(res.status, 200, await res.text());
}

describe('serve --hub restarted under HTTP fallback clients', { timeout: 120_000 }, () => {
  before(assertBuilt);
  const clients: Array<HubClient<any, any>> = [];
  after(async () => {
    for (const c of clients) c.close();
    await stopAll();
  });

  for (const transport of ['sse', 'polling'] as const) {
    test(`${transport}: kill -9 and a new process on the same port: gap with reset, then every message once, in order`, async () => {
      const first: Served = await startServe(['--hub', '--api-key', KEY]);
      const client = new HubClient<any, any>(`ws://127.0.0.1:${first.port}/hub`, {
        transports: [transport],
        upgrade: false,
        rememberTransport: false,
        reconnect: { initialDelay: 50, maxDelay: 300 },
      });
      clients.push(client);
      const got: number[] = [];
      const gaps: Array<{ room: string; from: number; to: number; reset?: boolean }> = [];
      let reconnections = 0;
      client.on('error', () => {});
      client.on('gap', (g) => gaps.push(g));
      client.on('connect', (info) => {
        if (info.reconnected) reconnections++;
      });
      client.on('tick', (n: number) => got.push(n));
      await client.join('r');
      assert.equal(client.transport, transport);

      for (let i = 0; i < 100; i++) await publish(first.port, i);
      await until(() => got.length >= 100, 'the first 100 messages', 20_000);

      await first.child.stop('SIGKILL', 1000);
      const second = await startServe(['--hub', '--api-key', KEY, '--port', String(first.port)]);
      assert.equal(second.port, first.port);
      await until(() => reconnections === 1 && gaps.length === 1, 'the reconnection and its gap notice', 20_000);
      assert.equal(gaps[0]!.room, 'r');
      assert.equal(gaps[0]!.reset, true, `the new process's epoch must be announced: ${JSON.stringify(gaps)}`);

      for (let i = 100; i < 200; i++) await publish(second.port, i);
      await until(() => got.length >= 200, 'the next 100 messages', 20_000);
      // A last message and a pause, so that a duplicate would have arrived before the check.
      await publish(second.port, 200);
      await until(() => got.includes(200), 'the last message', 20_000);
      assert.deepEqual(got, Array.from({ length: 201 }, (_, i) => i));
      assert.equal(client.transport, transport);
      client.close();
      await second.child.stop('SIGTERM', 5000);
    });
  }
});
