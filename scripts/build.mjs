// Builds the workspace packages: the library (packages/switchboard: dist/esm
// and dist/cjs with the TypeScript compiler, plus the CommonJS entry that makes
// `require('switchboard')` return the WebSocket class, as `require('ws')`
// does), then the CLI (packages/cli: dist/src and dist/shared with the
// compiler, dist/playground with Vite) and the Redis adapter (packages/redis:
// dist with the compiler) and the Prometheus metrics (packages/metrics: dist
// with the compiler).
//
//   node scripts/build.mjs           every step whose inputs changed since it last ran
//   node scripts/build.mjs --lib     only the library, the Redis adapter and the metrics: what the examples and benchmarks import
//   node scripts/build.mjs --force   every step, from scratch
//
// A step is skipped when its stamp (node_modules/.cache/switchboard-build/<step>)
// holds the hash of its inputs as they are now: every file's path and content,
// so an edited, added, removed or renamed file (or a changed package-lock.json)
// redoes the step, while a file merely rewritten with the same bytes (npm
// install rewrites package-lock.json) does not. A step that runs starts from an
// empty output directory and records the hash taken before it ran, so a file
// saved while it ran makes the next build redo it. Steps run side by side
// (each is one process), except that a step waits for the steps it `needs`.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const args = new Set(process.argv.slice(2));
const force = args.has('--force');
const libOnly = args.has('--lib');
const stamps = join(root, 'node_modules/.cache/switchboard-build');

const LIB = 'packages/switchboard';
const CLI = 'packages/cli';
const REDIS = 'packages/redis';
const METRICS = 'packages/metrics';
// What every step depends on besides its sources: this script, the shared compiler options and the installed tool versions.
const common = ['scripts/build.mjs', 'tsconfig.base.json', 'package.json', 'package-lock.json'];
const steps = [
  {
    name: 'esm',
    out: `${LIB}/dist/esm`,
    inputs: [...common, `${LIB}/package.json`, `${LIB}/src`, `${LIB}/tsconfig.json`],
    argv: [tsc, '-p', join(root, LIB, 'tsconfig.json')],
  },
  {
    name: 'cjs',
    out: `${LIB}/dist/cjs`,
    inputs: [...common, `${LIB}/package.json`, `${LIB}/src`, `${LIB}/tsconfig.json`, `${LIB}/tsconfig.cjs.json`],
    argv: [tsc, '-p', join(root, LIB, 'tsconfig.cjs.json')],
    after: writeCommonJsEntry,
  },
  {
    // The CLI compiles against the library's declarations (dist/esm), as a user's code would.
    name: 'cli',
    out: [`${CLI}/dist/src`, `${CLI}/dist/shared`],
    inputs: [...common, `${CLI}/package.json`, `${CLI}/src`, `${CLI}/shared`, `${CLI}/tsconfig.json`],
    needs: ['esm'],
    argv: [tsc, '-p', join(root, CLI, 'tsconfig.json')],
    skipWithLib: true,
  },
  {
    // The Redis adapter compiles against the library's declarations (dist/esm), as the CLI does.
    name: 'redis',
    out: `${REDIS}/dist`,
    inputs: [...common, `${REDIS}/package.json`, `${REDIS}/src`, `${REDIS}/tsconfig.json`],
    needs: ['esm'],
    argv: [tsc, '-p', join(root, REDIS, 'tsconfig.json')],
  },
  {
    // The Prometheus metrics compile against the library's declarations (dist/esm), as the Redis adapter does.
    name: 'metrics',
    out: `${METRICS}/dist`,
    inputs: [...common, `${METRICS}/package.json`, `${METRICS}/src`, `${METRICS}/tsconfig.json`],
    needs: ['esm'],
    argv: [tsc, '-p', join(root, METRICS, 'tsconfig.json')],
  },
  {
    // The browser playground (Preact, bundled by Vite) into dist/playground,
    // which `switchboard serve` serves as it is: no build at run time.
    name: 'playground',
    out: `${CLI}/dist/playground`,
    inputs: [...common, `${CLI}/package.json`, `${CLI}/playground`, `${CLI}/shared`],
    argv: ['--input-type=module', '-e', `const { build } = await import('vite'); await build({ configFile: ${JSON.stringify(join(root, CLI, 'playground/vite.config.ts'))} });`],
    skipWithLib: true,
  },
];
const outputs = (step) => (Array.isArray(step.out) ? step.out : [step.out]);

/** Hashes the path and content of every file under `path` (in name order) into `hash`. */
function hashTree(hash, path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    hash.update(`missing ${path}\0`);
    return;
  }
  if (stat.isDirectory()) {
    for (const name of readdirSync(path).sort()) hashTree(hash, join(path, name));
  } else {
    hash.update(`${path.slice(root.length)}\0${stat.size}\0`);
    hash.update(readFileSync(path));
  }
}

function inputsHash(step) {
  const hash = createHash('sha256');
  for (const input of step.inputs) hashTree(hash, join(root, input));
  // A step that builds on another is redone when that one's inputs change.
  for (const name of step.needs ?? []) hash.update(inputsHash(steps.find((s) => s.name === name)));
  return hash.digest('hex');
}

function isFresh(step, hash) {
  const stamp = join(stamps, step.name);
  return existsSync(stamp) && outputs(step).every((out) => existsSync(join(root, out))) && readFileSync(stamp, 'utf8').trim() === hash;
}

function run(step, hash) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    rmSync(join(stamps, step.name), { force: true });
    for (const out of outputs(step)) rmSync(join(root, out), { recursive: true, force: true });
    const child = spawn(process.execPath, step.argv, { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`build step ${step.name} failed (${signal ?? `exit ${code}`})`));
      step.after?.();
      mkdirSync(stamps, { recursive: true });
      writeFileSync(join(stamps, step.name), `${hash}\n`);
      console.log(`built ${outputs(step).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      resolve();
    });
  });
}

function writeCommonJsEntry() {
  const cjs = join(root, LIB, 'dist/cjs');
  writeFileSync(join(cjs, 'package.json'), '{ "type": "commonjs" }\n');
  writeFileSync(
    join(cjs, 'index.cjs'),
    `'use strict';
// require('switchboard') is the WebSocket class with everything else attached,
// so code written for require('ws') (new WebSocket.Server(...)) runs unchanged.
const api = require('./index.js');
const { WebSocket } = api;
for (const name of Object.keys(api)) {
  if (name !== 'default' && !(name in WebSocket)) WebSocket[name] = api[name];
}
module.exports = WebSocket;
`,
  );
  writeFileSync(
    join(cjs, 'index.d.cts'),
    `import * as api from './index.js';
declare const WebSocket: typeof api.WebSocket & Omit<typeof api, 'default'>;
// As with @types/ws, 'const ws: WebSocket' names the class's instances after 'import WebSocket = require(...)'.
type WebSocket = api.WebSocket;
export = WebSocket;
`,
  );
}

if (force) for (const step of steps) for (const out of outputs(step)) rmSync(join(root, out), { recursive: true, force: true });
const wanted = steps.filter((s) => !(libOnly && s.skipWithLib));
const pending = new Map();
/** Runs `step` once its `needs` are done; a step that is up to date resolves at once. */
function build(step) {
  if (!pending.has(step.name)) {
    pending.set(
      step.name,
      Promise.all((step.needs ?? []).map((name) => build(steps.find((s) => s.name === name)))).then(() => {
        const hash = inputsHash(step);
        return isFresh(step, hash) ? false : run(step, hash).then(() => true);
      }),
    );
  }
  return pending.get(step.name);
}
const results = await Promise.allSettled(wanted.map(build));
const failed = results.filter((r) => r.status === 'rejected');
if (failed.length) {
  for (const f of failed) console.error(f.reason.message);
  process.exit(1);
}
if (results.every((r) => r.value === false)) {
  console.log(`up to date: ${wanted.flatMap(outputs).join(', ')} (\`node scripts/build.mjs --force\` rebuilds)`);
}
