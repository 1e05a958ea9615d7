// scripts/system-deps.mjs: which Debian packages a test run needs, and what
// it does when one is missing. The machine the tests run on has them all, so
// the install/fail decisions are checked through `plan` (pure) and by running
// the script where it cannot install: without apt-get on PATH, and as a user
// without root or sudo. SWITCHBOARD_SYSTEM_DEPS_ASSUME_MISSING makes a present
// package count as missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/env.js';
// @ts-expect-error: a plain .mjs script without type declarations
import * as deps from '../../scripts/system-deps.mjs';

interface Missing {
  name: string;
  problem: { installable: boolean; text: string };
}
type Plan =
  | { action: 'none' }
  | { action: 'fail'; message: string }
  | { action: 'install'; names: string[]; commands: string[][] };
const plan = deps.plan as (missing: Missing[], how: { isRoot: boolean; sudoWorks: boolean; aptGet: string | undefined }) => Plan;
const packagesFor = deps.packagesFor as (files: string[], all?: boolean) => { name: string }[];

const script = path.join(repoRoot, 'scripts/system-deps.mjs');
const chromiumMissing: Missing = { name: 'chromium', problem: { installable: true, text: '/usr/bin/chromium does not exist' } };
const redisMissing: Missing = { name: 'redis-server', problem: { installable: true, text: 'no redis-server on PATH' } };
const INSTALL_AS_ROOT = 'apt-get update && env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium redis-server';

test('a filtered run needs only the packages of its files; a whole run needs every one', () => {
  const names = (files: string[], all = false): string[] => packagesFor(files, all).map((p) => p.name);
  assert.deepEqual(names(['test/protocol/mask.test.ts', 'test/hub/rooms.test.ts']), []);
  assert.deepEqual(names(['test/node/server.test.ts', 'test/hub/http2.test.ts']), ['openssl']);
  assert.deepEqual(names(['test/interop/chromium.test.ts']), ['chromium']);
  assert.deepEqual(names(['test/playground/playground.test.ts', 'test/client/examples.chromium.test.ts']), ['chromium']);
  assert.deepEqual(names(['test/interop/python-deflate.test.ts']), ['python3-websockets']);
  assert.deepEqual(names(['test/hub/redis-adapter.test.ts']), ['redis-server']);
  assert.deepEqual(names(['test/redis/load-balancers.test.ts']), ['redis-server', 'nginx', 'haproxy']);
  assert.deepEqual(names(['test/cli/interactive.test.ts']), ['tmux', 'openssl']);
  assert.deepEqual(names(['test/cli/serve-interactive.test.ts']), ['tmux', 'openssl']);
  assert.deepEqual(names(['test/metrics/grafana-dashboard.test.ts']), ['prometheus']);
  assert.deepEqual(names(['test/scripts/system-deps.test.ts']), ['chromium', 'python3-websockets', 'tmux', 'openssl', 'redis-server', 'nginx', 'haproxy', 'prometheus']);
  assert.deepEqual(names([], true), ['chromium', 'python3-websockets', 'tmux', 'openssl', 'redis-server', 'nginx', 'haproxy', 'prometheus']);
});

test('nothing missing: no apt-get at all', () => {
  assert.deepEqual(plan([], { isRoot: false, sudoWorks: false, aptGet: undefined }), { action: 'none' });
});

test('root with apt-get: apt-get update, then a non-interactive install of exactly the missing packages', () => {
  assert.deepEqual(plan([chromiumMissing, redisMissing], { isRoot: true, sudoWorks: false, aptGet: '/usr/bin/apt-get' }), {
    action: 'install',
    names: ['chromium', 'redis-server'],
    commands: [
      ['/usr/bin/apt-get', 'update'],
      ['env', 'DEBIAN_FRONTEND=noninteractive', '/usr/bin/apt-get', 'install', '-y', '--no-install-recommends', 'chromium', 'redis-server'],
    ],
  });
});

test('not root but password-less sudo: the same commands through sudo', () => {
  const p = plan([redisMissing], { isRoot: false, sudoWorks: true, aptGet: '/usr/bin/apt-get' });
  assert.equal(p.action, 'install');
  assert.deepEqual(p.action === 'install' && p.commands.map((c) => c.slice(0, 2)), [
    ['sudo', '/usr/bin/apt-get'],
    ['sudo', 'env'],
  ]);
});

test('neither root nor sudo: fails with the exact commands, as root and with sudo', () => {
  const p = plan([chromiumMissing, redisMissing], { isRoot: false, sudoWorks: false, aptGet: '/usr/bin/apt-get' });
  assert.equal(p.action, 'fail');
  assert.ok(p.action === 'fail' && p.message.includes(`Run, as root:\n  ${INSTALL_AS_ROOT}\n`), p.action === 'fail' ? p.message : '');
  assert.ok(p.action === 'fail' && p.message.includes('sudo apt-get update && sudo env DEBIAN_FRONTEND=noninteractive apt-get install'));
});

test('no apt-get: fails with the Debian command and what to install elsewhere', () => {
  const p = plan([chromiumMissing, redisMissing], { isRoot: true, sudoWorks: false, aptGet: undefined });
  assert.equal(p.action, 'fail');
  assert.ok(p.action === 'fail' && p.message.includes(INSTALL_AS_ROOT));
});

test('a CHROMIUM_PATH pointing nowhere is not something apt-get can fix: fails naming it, without installing', () => {
  const p = plan([{ name: 'chromium', problem: { installable: false, text: 'CHROMIUM_PATH=/nowhere is not an executable file' } }, redisMissing], {
    isRoot: true,
    sudoWorks: false,
    aptGet: '/usr/bin/apt-get',
  });
  assert.deepEqual(p, { action: 'fail', message: 'chromium: CHROMIUM_PATH=/nowhere is not an executable file' });
});

function runScript(env: NodeJS.ProcessEnv, asUser?: string): { status: number | null; stdout: string; stderr: string } {
  // Another user may not be able to read the checkout (a clone under /root): run a copy
  // (the script imports only node: modules) from a directory anyone can read.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'system-deps-'));
  try {
    chmodSync(dir, 0o755);
    const copy = path.join(dir, 'system-deps.mjs');
    copyFileSync(script, copy);
    chmodSync(copy, 0o644);
    const argv: [string, string[]] = asUser ? ['runuser', ['-u', asUser, '--', process.execPath, copy]] : [process.execPath, [copy]];
    const r = spawnSync(argv[0], argv[1], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the script without apt-get on PATH: exits 1 at once with the command, runs nothing', () => {
  const emptyDir = mkdtempSync(path.join(os.tmpdir(), 'no-apt-'));
  try {
    const r = runScript({ PATH: emptyDir, SWITCHBOARD_SYSTEM_DEPS_ASSUME_MISSING: 'chromium,redis-server' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /this machine has no apt-get/);
    // With PATH empty, openssl and prometheus are not found either.
    assert.ok(r.stderr.includes(INSTALL_AS_ROOT.replace('chromium redis-server', 'chromium openssl redis-server prometheus')), r.stderr);
    assert.doesNotMatch(r.stdout, /^\+ /m, 'ran a command');
  } finally {
    rmSync(emptyDir, { recursive: true, force: true });
  }
});

test('the script as a user without root or sudo: exits 1 at once with the command, runs nothing', (t) => {
  // Dropping to `nobody` takes root; as any other user the test runs as that
  // user, which must then have no password-less sudo (or the script would install).
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) assert.notEqual(spawnSync('sudo', ['-n', 'true']).status, 0, 'this user has password-less sudo: run the tests as root or as a user without it');
  t.diagnostic(isRoot ? 'running as nobody (runuser)' : 'running as this user');
  const r = runScript({ SWITCHBOARD_SYSTEM_DEPS_ASSUME_MISSING: 'chromium,redis-server' }, isRoot ? 'nobody' : undefined);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /installing them needs root/);
  assert.ok(r.stderr.includes(`Run, as root:\n  ${INSTALL_AS_ROOT}\n`), r.stderr);
  assert.doesNotMatch(r.stdout, /^\+ /m, 'ran a command');
});

test('the script with everything present: one line on stdout, no apt-get', () => {
  const r = runScript({ SWITCHBOARD_SYSTEM_DEPS_ASSUME_MISSING: '' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'system packages: chromium, python3-websockets, tmux, openssl, redis-server, nginx, haproxy, prometheus present\n');
});
