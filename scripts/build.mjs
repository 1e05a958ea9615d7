// Builds dist/esm (ES modules) and dist/cjs (CommonJS) from src/ with the
// TypeScript compiler, dist/playground from playground/ with Vite, then adds the CommonJS entry that makes
// `require('switchboard')` return the WebSocket class, as `require('ws')` does.
//
//   node scripts/build.mjs           every step whose inputs changed since it last ran
//   node scripts/build.mjs --lib     only the library (dist/esm, dist/cjs): what the examples and benchmarks import
//   node scripts/build.mjs --force   every step, from scratch
//
// A step is skipped when its stamp (dist/.stamps/<step>) is newer than every
// one of its inputs, files and directories alike: a directory's time changes
// when a file in it is added, removed or renamed, so a deleted module does not
// linger in dist/. A step that runs starts from an empty output directory.
// The steps that run, run side by side (each is one process).
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
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

/** The newest modification time under `path` (directories count themselves), 0 if it does not exist. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  let t = stat.mtimeMs;
  if (stat.isDirectory()) {
    for (const name of readdirSync(path)) t = Math.max(t, newest(join(path, name)));
  }
  return t;
}

function isFresh(step) {
  const stamp = join(stamps, step.name);
  if (!existsSync(stamp) || !existsSync(join(root, step.out))) return false;
  const built = statSync(stamp).mtimeMs;
  return step.inputs.every((input) => newest(join(root, input)) < built);
}

function run(step) {
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
      // Stamped with the time the step started: a source saved while it ran is newer, so the next build redoes the step.
      const stamp = join(stamps, step.name);
      writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
      utimesSync(stamp, started / 1000, started / 1000);
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
export = WebSocket;
`,
  );
}

if (force) rmSync(join(root, 'dist'), { recursive: true, force: true });
const wanted = steps.filter((s) => !(libOnly && s.skipWithLib));
const stale = wanted.filter((s) => !isFresh(s));
if (stale.length === 0) {
  console.log(`dist/ is up to date (${wanted.map((s) => s.out).join(', ')}); \`node scripts/build.mjs --force\` rebuilds it`);
} else {
  const results = await Promise.allSettled(stale.map(run));
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
