// Builds dist/esm (ES modules) and dist/cjs (CommonJS) from src/ with the
// TypeScript compiler, dist/playground from playground/ with Vite, then adds the CommonJS entry that makes
// `require('switchboard')` return the WebSocket class, as `require('ws')` does.
//
//   node scripts/build.mjs           every step whose inputs changed since it last ran
//   node scripts/build.mjs --lib     only the library (dist/esm, dist/cjs): what the examples and benchmarks import
//   node scripts/build.mjs --force   every step, from scratch
//
// A step is skipped when its stamp (dist/.stamps/<step>) holds the hash of
// its inputs as they are now: every file's path and content, so an edited,
// added, removed or renamed file (or a changed package-lock.json) redoes the
// step, while a file merely rewritten with the same bytes (npm install
// rewrites package-lock.json) does not. A step that runs starts from an empty
// output directory and records the hash taken before it ran, so a file saved
// while it ran makes the next build redo it. The steps that run, run side by
// side (each is one process).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const args = new Set(process.argv.slice(2));
const force = args.has('--force');
const libOnly = args.has('--lib');
const stamps = join(root, 'dist/.stamps');

// What every step depends on besides its sources: this script and the installed tool versions.
const common = ['scripts/build.mjs', 'package.json', 'package-lock.json'];
const steps = [
  {
    name: 'esm',
    out: 'dist/esm',
    inputs: [...common, 'src', 'tsconfig.json'],
    argv: [tsc, '-p', join(root, 'tsconfig.json')],
  },
  {
    name: 'cjs',
    out: 'dist/cjs',
    inputs: [...common, 'src', 'tsconfig.json', 'tsconfig.cjs.json'],
    argv: [tsc, '-p', join(root, 'tsconfig.cjs.json')],
    after: writeCommonJsEntry,
  },
  {
    // The browser playground (playground/, Preact, bundled by Vite) into
    // dist/playground, which `switchboard serve` serves as it is: no build at run time.
    name: 'playground',
    out: 'dist/playground',
    inputs: [...common, 'playground', 'src/cli/playground-protocol.ts'],
    argv: ['--input-type=module', '-e', `const { build } = await import('vite'); await build({ configFile: ${JSON.stringify(join(root, 'playground/vite.config.ts'))} });`],
    skipWithLib: true,
  },
];

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
  return hash.digest('hex');
}

function isFresh(step, hash) {
  const stamp = join(stamps, step.name);
  return existsSync(stamp) && existsSync(join(root, step.out)) && readFileSync(stamp, 'utf8').trim() === hash;
}

function run(step, hash) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    rmSync(join(stamps, step.name), { force: true });
    rmSync(join(root, step.out), { recursive: true, force: true });
    const child = spawn(process.execPath, step.argv, { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`build step ${step.name} failed (${signal ?? `exit ${code}`})`));
      step.after?.();
      mkdirSync(stamps, { recursive: true });
      writeFileSync(join(stamps, step.name), `${hash}\n`);
      console.log(`built ${step.out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      resolve();
    });
  });
}

function writeCommonJsEntry() {
  const cjs = join(root, 'dist/cjs');
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

if (force) rmSync(join(root, 'dist'), { recursive: true, force: true });
const wanted = steps.filter((s) => !(libOnly && s.skipWithLib));
const hashes = new Map(wanted.map((s) => [s, inputsHash(s)]));
const stale = wanted.filter((s) => !isFresh(s, hashes.get(s)));
if (stale.length === 0) {
  console.log(`dist/ is up to date (${wanted.map((s) => s.out).join(', ')}); \`node scripts/build.mjs --force\` rebuilds it`);
} else {
  const results = await Promise.allSettled(stale.map((s) => run(s, hashes.get(s))));
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length) {
    for (const f of failed) console.error(f.reason.message);
    process.exit(1);
  }
}

// examples/ is its own CommonJS scope (the tutorial is a CommonJS script), so
// `require("switchboard")` there resolves through node_modules, as it would
// in a user's project: link the package into its own node_modules.
const selfLink = join(root, 'node_modules', 'switchboard');
let linked = false;
try {
  linked = lstatSync(selfLink).isSymbolicLink();
} catch {}
if (!linked && !existsSync(selfLink)) {
  mkdirSync(join(root, 'node_modules'), { recursive: true });
  symlinkSync('..', selfLink, 'dir');
}
