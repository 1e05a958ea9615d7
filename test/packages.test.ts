// The workspace's packages as npm would publish them (`npm pack`): the
// library carries its builds and no dependency, so installing it installs
// nothing else; the command carries its entry, its build and the playground,
// and depends on the library and commander; the root links the command so
// that `npx switchboard` works there. Needs `npm run build` (npm test runs it
// in pretest).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { repoRoot } from './helpers/env.js';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  bin?: Record<string, string>;
}
const manifest = (dir: string): Manifest => JSON.parse(readFileSync(path.join(repoRoot, dir, 'package.json'), 'utf8')) as Manifest;

const scratch = mkdtempSync(path.join(os.tmpdir(), 'packages-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** `npm pack` of a workspace package into the scratch directory: the tarball's path and the files it holds. */
function pack(dir: string): { tarball: string; files: string[] } {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', scratch, path.join(repoRoot, dir)], {
    cwd: scratch,
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [result] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  return { tarball: path.join(scratch, result!.filename), files: result!.files.map((f) => f.path).sort() };
}

describe('packages/switchboard, the library', { timeout: 120_000 }, () => {
  const lib = manifest('packages/switchboard');

  test('is the package users know: switchboard, with no runtime dependency of any kind', () => {
    assert.equal(lib.name, 'switchboard');
    assert.equal(lib.private, undefined);
    assert.deepEqual([lib.dependencies, lib.peerDependencies, lib.optionalDependencies], [undefined, undefined, undefined]);
    assert.equal(lib.bin, undefined, 'the command is @switchboard/cli');
  });

  test('its tarball holds the two builds, the README and nothing of the sources', () => {
    const { files } = pack('packages/switchboard');
    for (const file of ['package.json', 'README.md', 'dist/cjs/index.cjs', 'dist/cjs/index.d.cts', 'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/esm/client/index.js', 'dist/esm/wire/index.js']) {
      assert.ok(files.includes(file), `${file} is missing from the tarball`);
    }
    const stray = files.filter((f) => !f.startsWith('dist/esm/') && !f.startsWith('dist/cjs/') && f !== 'package.json' && f !== 'README.md');
    assert.deepEqual(stray, []);
  });

  test('installed from its tarball alone (offline), it brings nothing else and require() is ws-shaped', () => {
    const { tarball } = pack('packages/switchboard');
    const app = path.join(scratch, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), '{ "name": "app", "private": true }\n');
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: app, timeout: 60_000, stdio: 'pipe' });
    assert.deepEqual(readdirSync(path.join(app, 'node_modules')).filter((n) => !n.startsWith('.')), ['switchboard']);
    const shape = execFileSync(
      process.execPath,
      ['-e', "const W = require('switchboard'); console.log([typeof W, typeof W.Server, typeof W.WebSocketServer, W.OPEN].join(' '))"],
      { cwd: app, encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(shape.trim(), 'function function function 1');
  });
});

describe('packages/cli, the command', { timeout: 120_000 }, () => {
  const cli = manifest('packages/cli');

  test('is @switchboard/cli with the switchboard bin, and depends on the library and commander only', () => {
    assert.equal(cli.name, '@switchboard/cli');
    assert.deepEqual(cli.bin, { switchboard: './bin/switchboard.js' });
    assert.deepEqual(Object.keys(cli.dependencies ?? {}).sort(), ['commander', 'switchboard']);
    assert.equal(cli.dependencies!.switchboard, manifest('packages/switchboard').version);
  });

  test('its tarball holds the entry, the compiled command and the built playground', () => {
    const { files } = pack('packages/cli');
    for (const file of ['bin/switchboard.js', 'dist/src/main.js', 'dist/shared/playground-protocol.js', 'dist/playground/index.html', 'README.md']) {
      assert.ok(files.includes(file), `${file} is missing from the tarball`);
    }
    assert.deepEqual(files.filter((f) => f.startsWith('src/') || f.startsWith('playground/') || f.endsWith('.ts')), []);
  });

  test('`npx switchboard` runs it from the repository root', () => {
    const version = execFileSync('npx', ['--no-install', 'switchboard', '--version'], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    assert.equal(version.trim(), cli.version);
  });
});

describe('packages/redis, the Redis adapter', { timeout: 120_000 }, () => {
  const redis = manifest('packages/redis');

  test('is @switchboard/redis and depends on the library (same version) and node-redis only', () => {
    assert.equal(redis.name, '@switchboard/redis');
    assert.deepEqual(Object.keys(redis.dependencies ?? {}).sort(), ['@redis/client', 'switchboard']);
    assert.equal(redis.dependencies!.switchboard, manifest('packages/switchboard').version);
  });

  test('its tarball holds the compiled adapter with its types, and no sources', () => {
    const { files } = pack('packages/redis');
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/redis-adapter.js', 'package.json']) {
      assert.ok(files.includes(file), `${file} is missing from the tarball`);
    }
    assert.deepEqual(files.filter((f) => f.startsWith('src/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))), []);
  });
});

describe('packages/metrics, the Prometheus metrics', { timeout: 120_000 }, () => {
  const metrics = manifest('packages/metrics');

  test('is @switchboard/metrics and depends on the library (same version) and prom-client; the OpenTelemetry API is an optional peer', () => {
    assert.equal(metrics.name, '@switchboard/metrics');
    assert.deepEqual(Object.keys(metrics.dependencies ?? {}).sort(), ['prom-client', 'switchboard']);
    // A peer, as OpenTelemetry instrumentations have it: one copy of the API per application, or a global SDK is not seen.
    assert.deepEqual(Object.keys(metrics.peerDependencies ?? {}), ['@opentelemetry/api']);
    assert.equal(metrics.dependencies!.switchboard, manifest('packages/switchboard').version);
  });

  test('its tarball holds the compiled package with its types and the Grafana dashboard, and no sources', () => {
    const { files } = pack('packages/metrics');
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/opentelemetry.js', 'dist/opentelemetry.d.ts', 'grafana/switchboard.json', 'package.json', 'README.md']) {
      assert.ok(files.includes(file), `${file} is missing from the tarball`);
    }
    assert.deepEqual(files.filter((f) => f.startsWith('src/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))), []);
  });
});
