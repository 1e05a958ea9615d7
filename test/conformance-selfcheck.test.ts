// The conformance harness's own self-check (packages/conformance/tests/selfcheck):
// both modes against a minimal independent echo peer, which must get no FAILED,
// and against deliberately broken variants of it, which the harness must catch.
// The harness lives in this repository, so its changes are tested with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { conformanceSuiteDir } from './helpers/env.js';

test('the conformance harness passes its self-check', { timeout: 240_000 }, async () => {
  const child = spawn(process.execPath, [path.join(conformanceSuiteDir(), 'tests/selfcheck/run.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 200_000);
  const [code, signal] = (await new Promise((resolve) => child.on('exit', (...a) => resolve(a)))) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  assert.equal(signal, null, `the self-check was killed after 200 s:\n${output}`);
  assert.equal(code, 0, `the self-check failed:\n${output}`);
  assert.match(output, /^\d+ passed, 0 failed$/m, output);
});
