// Bytes allocated per echoed message, counted rather than timed (issue #17):
// what each message leaves for the young generation's scavenges, which stop
// every connection at once and so show in the tail latency. V8 reports the
// bytes allocated between collections (--trace-gc-nvp), which does not depend
// on the machine's load. The echo of a 32 B message on 100 connections took
// 904-919 bytes before the send and receive paths stopped allocating a
// closure context, a batch array, a mask view and an argument array per
// message, and 524-542 after; uWebSockets.js takes about 97, ws about 2,300.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers/env.js';

describe('allocation per echoed message', () => {
  it('a 32 B echo on 100 connections allocates under 700 bytes per message', { timeout: 180_000 }, () => {
    const run = spawnSync(
      process.execPath,
      ['bench/alloc-per-message.mjs', '--json', '--connections', '100', '--size', '32', '--warmup', '20000', '--messages', '200000', '--timeout', '150', '--',
        process.execPath, '--import', 'tsx', 'test/node/page-faults-server.ts'],
      { cwd: repoRoot, encoding: 'utf8', timeout: 170_000 },
    );
    assert.equal(run.status, 0, `bench/alloc-per-message.mjs failed: ${run.stderr}`);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as { bytesPerMessage: number; collections: number };
    assert.ok(result.collections >= 10, `enough collections to average over: ${result.collections}`);
    assert.ok(result.bytesPerMessage < 700, `bytes allocated per echoed message: ${result.bytesPerMessage.toFixed(0)}`);
  });
});
