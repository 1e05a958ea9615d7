// Runs ws's public-API test files against Switchboard: how far the drop-in promise holds, measured
// with ws's own tests. Given a checkout of ws with its dev dependencies installed (`npm install`
// there, for mocha), each file is copied next to the original with `require('..')` (the ws package)
// replaced by this repository's built CommonJS entry (packages/switchboard/dist/cjs/index.cjs) and `require('../lib/stream')`
// by its `createWebSocketStream`; ws's internal helpers (`../lib/constants`, `../lib/sender`, ...)
// stay ws's. Every test then runs alone in its own process, selected by its exact full title, so
// that no test spills into another, and is bounded in time: a test that passes but leaves its
// process running (an open socket or timer) counts as failed, as it would hang ws's own run.
// ws's tests are ws's: they stay in the ws checkout; the copies are removed afterwards.
//
//   node scripts/build.mjs --lib && node scripts/ws-suite.mjs PATH_TO_WS [--jobs 2] [--grep TEXT] [--file NAME] [--verbose]
//
// --verbose prints each failure's message at length and where in the test file it failed.
// --grep runs only the tests whose full title contains TEXT, --file only the files whose name
// contains NAME. Prints pass/fail per file, each failure by name with its first error line, and the total.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILES = ['websocket.test.js', 'websocket-server.test.js', 'create-websocket-stream.test.js'];
const COPY_PREFIX = 'switchboard-suite.';
/** Mocha's own per-test timeout stays ws's (2 s); this bounds the whole process of one test. */
const PROCESS_LIMIT_MS = 15_000;
/** How long a process may keep running after mocha has reported its test. */
const EXIT_GRACE_MS = 3_000;

const self = fileURLToPath(import.meta.url);
const root = join(dirname(self), '..');

if (process.argv[2] === '--child') await child(process.argv.slice(3));
else await main(process.argv.slice(2));

async function main(argv) {
  const options = { jobs: 2, grep: '', file: '', verbose: false };
  let wsPath;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--jobs') options.jobs = Math.max(1, Number(argv[++i]) || 1);
    else if (arg === '--grep') options.grep = argv[++i] ?? '';
    else if (arg === '--file') options.file = argv[++i] ?? '';
    else if (arg === '--verbose') options.verbose = true;
    else wsPath = resolve(arg);
  }
  if (!wsPath) usage('give the path to a checkout of ws');
  if (!existsSync(join(wsPath, 'test/websocket.test.js'))) usage(`${wsPath} has no test/websocket.test.js`);
  if (!existsSync(join(wsPath, 'node_modules/mocha'))) usage(`${wsPath} has no node_modules/mocha: run npm install there`);
  const entry = join(root, 'packages/switchboard/dist/cjs/index.cjs');
  if (!existsSync(entry)) usage('packages/switchboard/dist/cjs/index.cjs is missing: run node scripts/build.mjs --lib');
  const wsVersion = JSON.parse(readFileSync(join(wsPath, 'package.json'), 'utf8')).version;

  const files = FILES.filter((name) => name.includes(options.file));
  const copies = files.map((name) => join(wsPath, 'test', COPY_PREFIX + name));
  const cleanUp = () => copies.forEach((copy) => rmSync(copy, { force: true }));
  process.on('SIGINT', () => { cleanUp(); process.exit(130); });
  try {
    files.forEach((name, i) => writeFileSync(copies[i], patch(readFileSync(join(wsPath, 'test', name), 'utf8'), entry)));
    console.log(`ws ${wsVersion} (${wsPath}) against ${root}, ${new Date().toISOString().slice(0, 10)}`);
    let passed = 0;
    let total = 0;
    for (let i = 0; i < files.length; i++) {
      const titles = (await listTitles(wsPath, copies[i])).filter((title) => title.includes(options.grep));
      const results = await pool(titles, options.jobs, (title) => runOne(wsPath, copies[i], title));
      if (titles.length === 0 && options.grep) continue;
      const failures = results.filter((result) => !result.ok);
      passed += titles.length - failures.length;
      total += titles.length;
      console.log(`\n${files[i]}: ${titles.length - failures.length}/${titles.length} passed`);
      for (const failure of failures) {
        const reason = options.verbose ? failure.reason : failure.reason.split('\n')[0];
        console.log(`  FAIL ${failure.title}\n       ${reason.replaceAll('\n', '\n       ')}`);
      }
    }
    const percent = total === 0 ? 0 : ((passed / total) * 100).toFixed(1);
    console.log(`\ntotal: ${passed}/${total} passed (${percent} %)`);
  } finally {
    cleanUp();
  }
}

function usage(problem) {
  console.error(`ws-suite: ${problem}\nusage: node scripts/ws-suite.mjs PATH_TO_WS [--jobs N] [--grep TEXT] [--file NAME] [--verbose]`);
  process.exit(2);
}

/** ws's test file with the package itself (and its createWebSocketStream) replaced by ours. */
function patch(source, entry) {
  const ours = JSON.stringify(entry);
  const patched = source
    .replace(/require\('\.\.'\)/g, `require(${ours})`)
    .replace(/require\('\.\.\/lib\/stream'\)/g, `require(${ours}).createWebSocketStream`);
  if (patched === source) throw new Error("no require('..') to replace: not ws's test file?");
  return patched;
}

function listTitles(wsPath, file) {
  return new Promise((resolveList, reject) => {
    const proc = spawn(process.execPath, [self, '--child', 'list', wsPath, file], { cwd: wsPath, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (chunk) => (out += chunk));
    proc.on('close', (code) => (code === 0 ? resolveList(JSON.parse(out)) : reject(new Error(`listing ${file} failed (${code})`))));
  });
}

/** Runs one test in its own process; resolves with { title, ok, reason }. */
function runOne(wsPath, file, title) {
  return new Promise((resolveRun) => {
    const proc = spawn(process.execPath, [self, '--child', 'run', wsPath, file, title], { cwd: wsPath, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let report;
    let graceTimer;
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('@@ws-suite '));
      if (line && !report) {
        report = JSON.parse(line.slice('@@ws-suite '.length));
        graceTimer = setTimeout(() => proc.kill('SIGKILL'), EXIT_GRACE_MS);
      }
    });
    proc.stderr.resume();
    const limit = setTimeout(() => proc.kill('SIGKILL'), PROCESS_LIMIT_MS);
    proc.on('close', (code, signal) => {
      clearTimeout(limit);
      clearTimeout(graceTimer);
      if (!report) resolveRun({ title, ok: false, reason: signal ? `no result within ${PROCESS_LIMIT_MS / 1000} s` : `process exited with ${code} before reporting` });
      else if (report.ran === 0) resolveRun({ title, ok: false, reason: 'the title selected no test' });
      else if (report.failures.length > 0) resolveRun({ title, ok: false, reason: report.failures[0] });
      else if (signal) resolveRun({ title, ok: false, reason: `passed, but the process did not exit within ${EXIT_GRACE_MS / 1000} s (a socket or timer left open)` });
      else resolveRun({ title, ok: true });
    });
  });
}

async function pool(items, size, work) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return results;
}

/** In the child process: list the file's tests, or run the one with the exact full title. */
async function child([mode, wsPath, file, title]) {
  const Mocha = createRequire(join(wsPath, 'package.json'))('mocha');
  // As ws's `npm test` runs mocha: --throw-deprecation.
  process.throwDeprecation = true;
  const mocha = new Mocha({ reporter: 'base' });
  mocha.addFile(file);
  if (mode === 'list') {
    mocha.loadFiles();
    const titles = [];
    const walk = (suite) => {
      for (const test of suite.tests) titles.push(test.fullTitle());
      suite.suites.forEach(walk);
    };
    walk(mocha.suite);
    process.stdout.write(JSON.stringify(titles));
    return;
  }
  mocha.grep(new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  const failures = [];
  let ran = 0;
  const runner = mocha.run(() => {
    process.stdout.write(`\n@@ws-suite ${JSON.stringify({ ran, failures })}\n`);
  });
  runner.on('test end', () => ran++);
  runner.on('fail', (test, error) => {
    if (test.type !== 'test') ran++;
    const where = String(error?.stack ?? '').split('\n').find((line) => line.includes(COPY_PREFIX)) ?? '';
    failures.push(`${test.type === 'hook' ? `${test.title}: ` : ''}${String(error?.message ?? error).split('\n').slice(0, 12).join('\n')}\n${where.trim()}`);
  });
}
