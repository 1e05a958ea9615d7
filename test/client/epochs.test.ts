// switchboard/client keeps each room's epoch (from the join answer, then
// from a `gap` with `reset`) and sends it with its last id on every resume,
// so that a hub that restarted can tell its ids from the old run's.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hub, InProcessAdapter, type HistoryResult } from '../../packages/switchboard/src/hub/index.js';
import { withTimeout } from '../helpers/async.js';
import { HOST, delay, dropClient, hubClient, until } from '../hub/helpers.js';

/** The in-process adapter, noting the position each join asks history for. */
class RecordingAdapter extends InProcessAdapter {
  readonly asked: Array<{ room: string; since?: number; epoch?: string }> = [];

  override history(room: string, since?: number, epoch?: string): Promise<HistoryResult> {
    if (since !== undefined) this.asked.push({ room, since, epoch });
    return super.history(room, since, epoch);
  }
}

async function runHub(port: number, adapter: RecordingAdapter, beforeListen?: (hub: Hub<any, any>) => Promise<void>): Promise<{ hub: Hub<any, any>; port: number; close(): Promise<void> }> {
  const server = http.createServer((_, res) => res.writeHead(404).end());
  const hub = new Hub({ server, adapter, rateLimit: false });
  hub.on('error', () => {});
  await beforeListen?.(hub);
  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
  return {
    hub,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await withTimeout(hub.close(), 5000, 'hub.close()').catch(() => {});
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('switchboard/client: epochs', { timeout: 60_000 }, () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const close of closers) await close();
  });

  test('the epoch travels with the last id across reconnections, and a reset switches it to the new run', async () => {
    const firstAdapter = new RecordingAdapter();
    const first = await runHub(0, firstAdapter);
    closers.push(first.close);
    const url = `ws://${HOST}:${first.port}/hub`;
    const client = hubClient(url, { reconnect: { initialDelay: 20, maxDelay: 100, jitter: 0 } });
    closers.unshift(async () => client.close());
    const firstEpoch = firstAdapter.epoch; // closing the adapter draws another
    const got: string[] = [];
    const gaps: unknown[] = [];
    client.on('n', (n: string) => got.push(n));
    client.on('gap', (g) => gaps.push(g));
    await client.ready();
    await client.join('r');
    await first.hub.to('r').emit('n', 'a1');
    await first.hub.to('r').emit('n', 'a2');
    await until(() => got.length === 2);

    // Dropped, back on the same hub: the resume names the epoch of the join answer.
    dropClient(client);
    await until(() => firstAdapter.asked.length === 1, 5000, 'the resume');
    assert.deepEqual(firstAdapter.asked, [{ room: 'r', since: 2, epoch: firstEpoch }]);

    // The hub restarts: a new run, which reached mid 3 before the client is back.
    await first.close();
    const secondAdapter = new RecordingAdapter();
    const second = await runHub(first.port, secondAdapter, async (hub) => {
      for (const n of ['b1', 'b2', 'b3']) await hub.to('r').emit('n', n);
    });
    closers.push(second.close);
    await until(() => got.includes('b3'), 10_000, 'the replay of the new run up to b3');
    assert.deepEqual(secondAdapter.asked, [{ room: 'r', since: 2, epoch: firstEpoch }]);
    assert.deepEqual(gaps, [{ room: 'r', from: 1, to: 2, reset: true }]);
    assert.deepEqual(got, ['a1', 'a2', 'b1', 'b2', 'b3']);

    // Dropped again: it now resumes in the new run's epoch (named by the reset), and gets no second reset.
    dropClient(client);
    await until(() => secondAdapter.asked.length === 2, 5000, 'the second resume');
    assert.deepEqual(secondAdapter.asked[1], { room: 'r', since: 3, epoch: secondAdapter.epoch });
    await second.hub.to('r').emit('n', 'b4');
    await until(() => got.length === 6);
    await delay(50);
    assert.deepEqual(gaps.length, 1);
    assert.deepEqual(got, ['a1', 'a2', 'b1', 'b2', 'b3', 'b4']);
    client.close();
  });

  test('a room joined with history: true resumes in the epoch of its join answer', async () => {
    const adapter = new RecordingAdapter();
    const r = await runHub(0, adapter, async (hub) => void (await hub.to('h').emit('n', 'old')));
    closers.push(r.close);
    const client = hubClient(`ws://${HOST}:${r.port}/hub`, { reconnect: { initialDelay: 20, jitter: 0 } });
    closers.unshift(async () => client.close());
    const got: string[] = [];
    client.on('n', (n: string) => got.push(n));
    await client.ready();
    await client.join('h', { history: true });
    await until(() => got.length === 1);
    dropClient(client);
    await until(() => adapter.asked.length === 2, 5000, 'the resume');
    assert.deepEqual(adapter.asked, [
      { room: 'h', since: 0, epoch: undefined },
      { room: 'h', since: 1, epoch: adapter.epoch },
    ]);
    client.close();
  });
});
