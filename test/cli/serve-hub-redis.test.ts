// `switchboard serve --hub --redis URL`: hub servers (separate processes, and
// the workers of one) sharing rooms through a real redis-server started here;
// and the message a user gets when @switchboard/redis is not installed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { HubClient } from '../../packages/switchboard/src/client/index.js';
import { withTimeout } from '../helpers/async.js';
import { repoRoot } from '../helpers/env.js';
import { startServe, withServedRedis, type Served } from './helpers.js';

const clients: HubClient<any, any>[] = [];

async function member(s: Served, room: string): Promise<{ client: HubClient<any, any>; got: unknown[] }> {
  const client = new HubClient(`${s.url}hub`, { WebSocket, reconnect: false });
  clients.push(client);
  const got: unknown[] = [];
  client.on('say', (data: unknown, _reply: unknown, meta: { room?: string }) => {
    if (meta.room === room) got.push(data);
  });
  await withTimeout(client.ready(), 5000, 'the hub client ready');
  await client.join(room);
  return { client, got };
}

async function until(check: () => boolean, label: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('serve --hub --redis', { timeout: 90_000 }, () => {
  const setup = withServedRedis(clients);

  test('two hub processes on one Redis are one hub: a room message and a POST /api/publish reach members on both', async () => {
    const a = await startServe(['--hub', '--redis', setup.redis.url, '--api-key', 'k']);
    const b = await startServe(['--hub', '--redis', setup.redis.url, '--api-key', 'k']);
    const onA = await member(a, 'lobby');
    const onB = await member(b, 'lobby');
    await onA.client.publish('lobby', 'say', 'from a');
    const res = await fetch(`http://127.0.0.1:${b.port}/api/publish`, {
      method: 'POST',
      headers: { authorization: 'apikey k', 'content-type': 'application/json' },
      body: JSON.stringify({ room: 'lobby', event: 'say', data: 'from the backend' }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    // A member's own publish is not sent back to it (as socket.io's socket.to(room).emit).
    await until(() => onA.got.length >= 1 && onB.got.length >= 2, 'the messages on both nodes');
    assert.deepEqual(onB.got, ['from a', 'from the backend']);
    assert.deepEqual(onA.got, ['from the backend']);
  });

  test('--workers 2: members on either worker get every room message', async () => {
    const s = await startServe(['--hub', '--redis', setup.redis.url, '--workers', '2'], 20_000);
    const members: Array<{ client: HubClient<any, any>; got: unknown[] }> = [];
    for (let i = 0; i < 6; i++) members.push(await member(s, 'w'));
    await members[0]!.client.publish('w', 'say', 'one');
    await members[5]!.client.publish('w', 'say', 'two');
    // Each publisher gets the other's message only; everyone else gets both, in order.
    await until(() => members.every((m, i) => m.got.length >= (i === 0 || i === 5 ? 1 : 2)), 'the messages on every member');
    assert.deepEqual(members[0]!.got, ['two']);
    assert.deepEqual(members[5]!.got, ['one']);
    for (const m of members.slice(1, 5)) assert.deepEqual(m.got, ['one', 'two']);
    // The six connections were spread over both workers (the primary hands them out in turn).
    await until(() => /\bw1#/.test(s.child.stdout) && /\bw2#/.test(s.child.stdout), 'connections logged by both workers');
  });

  test('--workers 2: HTTP fallback clients (sse, polling) keep one session though the workers take their connections in turn', async () => {
    // A rate limit above the burst this test publishes.
    const s = await startServe(['--hub', '--redis', setup.redis.url, '--workers', '2', '--rate', '1000', '--burst', '1000'], 20_000);
    const ws = new HubClient(`${s.url}hub`, { WebSocket, reconnect: false });
    clients.push(ws);
    await withTimeout(ws.ready(), 5000, 'the WebSocket client ready');
    await ws.join('fb');
    for (const transport of ['sse', 'polling'] as const) {
      const fallback = new HubClient(`${s.url}hub`, { transports: [transport], reconnect: false });
      clients.push(fallback);
      const got: number[] = [];
      fallback.on('n', (n: number) => got.push(n));
      let disconnects = 0;
      fallback.on('disconnect', () => disconnects++);
      await withTimeout(fallback.ready(), 5000, `the ${transport} client ready`);
      await withTimeout(fallback.join('fb'), 5000, `the ${transport} client joined`);
      await Promise.all(Array.from({ length: 200 }, (_, i) => ws.publish('fb', 'n', i)));
      await until(() => got.length >= 200, `${transport}: the messages (${got.length}/200)`, 20_000);
      assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i), transport);
      assert.equal(disconnects, 0, `${transport}: one session all along`);
      fallback.close();
    }
  });
});

describe('serve --hub --redis without @switchboard/redis', { timeout: 30_000 }, () => {
  test('exits 1 saying what to install', () => {
    // The command as a user who installed only @switchboard/cli has it: the CLI's files, the
    // library and commander beside it, and no @switchboard/redis.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-alone-'));
    try {
      const cli = path.join(dir, 'node_modules/@switchboard/cli');
      mkdirSync(cli, { recursive: true });
      for (const part of ['bin', 'dist', 'package.json']) cpSync(path.join(repoRoot, 'packages/cli', part), path.join(cli, part), { recursive: true });
      symlinkSync(path.join(repoRoot, 'packages/switchboard'), path.join(dir, 'node_modules/switchboard'), 'dir');
      symlinkSync(path.join(repoRoot, 'node_modules/commander'), path.join(dir, 'node_modules/commander'), 'dir');
      const r = spawnSync(process.execPath, [path.join(cli, 'bin/switchboard.js'), 'serve', '--hub', '--redis', 'redis://127.0.0.1:1', '--port', '0'], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 15_000,
        env: { ...process.env, NO_COLOR: '1' },
      });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /--redis needs the Redis adapter, which is not installed: npm install @switchboard\/redis/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
