#!/usr/bin/env node
// Benchmark runner: switchboard against ws in one run. For every scenario it alternates
// the two servers (A B A B ... over rounds), starting each server as its own process
// pinned to core 0 and bench/loadgen.mjs pinned to core 1, then prints a table of
// ratios and writes the raw runs and the summary as JSON. See bench/RESULTS.md.
//
//   node bench/run.mjs [--quick] [--rounds N] [--scenarios id,prefix,...]
//                      [--warmup S] [--duration S] [--json FILE] [--list] [--report FILE]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scenarios, runLimit } from './scenarios.mjs';
import { A, B, summarize, markdown, fmt } from './report.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..');
const SERVERS = {
  [A]: { file: path.join(HERE, 'servers', 'switchboard.mjs') },
  [B]: { file: path.join(HERE, 'servers', 'ws.mjs'), env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' } },
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ options
function parseArgs(argv) {
  const o = { quick: false, rounds: null, filter: null, warmup: null, duration: null, json: null, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(2);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = Math.max(1, Number(val()) | 0);
    else if (a === '--scenarios') o.filter = val().split(',').filter(Boolean);
    else if (a === '--warmup') o.warmup = Number(val());
    else if (a === '--duration') o.duration = Number(val());
    else if (a === '--json') o.json = path.resolve(val());
    else if (a === '--list') o.list = true;
    else if (a === '--report') o.report = path.resolve(val());
    else if (a === '-h' || a === '--help') usage(0);
    else usage(2);
  }
  return o;
}

function usage(code) {
  console.log(`usage: node bench/run.mjs [options]    (npm run bench / npm run bench:quick)

Runs every scenario against ${A} (bench/servers/switchboard.mjs, needs npm run build)
and ${B} (bench/servers/ws.mjs, pure JavaScript), alternating them per scenario.

  --quick            subset with short windows (under a minute)
  --rounds N         alternation rounds (default: full 2, quick 1)
  --scenarios LIST   comma-separated ids or prefixes (echo-100c, conns, deflate, ...)
  --warmup S --duration S   override the windows of the throughput scenarios
  --json FILE        where the JSON goes (default bench/results/<time>[_quick].json)
  --list             list the scenarios and exit
  --report FILE      print the tables of a saved JSON file again and exit`);
  process.exit(code);
}

// ------------------------------------------------------------------ processes
const live = new Set(); // child processes, each the leader of its own process group

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {}
}

function cleanup() {
  for (const c of live) killGroup(c, 'SIGKILL');
  live.clear();
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the servers and the load generator`);
    cleanup();
    process.exit(130);
  });
}

const hasTaskset = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
const pinned = hasTaskset && os.cpus().length >= 2;

// sh -c raises the soft descriptor limit to the hard one and execs, so the PID is the
// program's. With lifetimeS, a watchdog in the same process group SIGKILLs the program
// after that long, even if this runner itself was killed.
function pinnedCommand(core, args, lifetimeS = 0) {
  const watchdog = lifetimeS ? `(sleep ${Math.ceil(lifetimeS)}; kill -9 $$) >/dev/null 2>&1 & ` : '';
  const sh = ['sh', '-c', `ulimit -n $(ulimit -Hn) 2>/dev/null; ${watchdog}exec "$0" "$@"`, ...args];
  return pinned ? ['taskset', ['-c', String(core), ...sh]] : [sh[0], sh.slice(1)];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function startServer(name, scenario, port) {
  const [cmd, args] = pinnedCommand(0, [process.execPath, SERVERS[name].file], 30 + runLimit(scenario.gen));
  const env = { ...process.env, ...SERVERS[name].env, PORT: String(port), HOST: '127.0.0.1', DEFLATE: scenario.deflate ? '1' : '0' };
  const child = spawn(cmd, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const ready = new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('no READY within 15 s')), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      if (/^READY\b/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      const lines = stderr.trim().split('\n');
      const why = lines.find((l) => /Error|error:/.test(l)) || lines.slice(-2).join(' | ');
      reject(new Error(`exited (${code ?? sig}) before READY: ${why.trim().slice(0, 300)}`));
    });
  });
  ready.catch(() => {});
  return { child, ready, stderr: () => stderr };
}

async function stopServer(child) {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((r) => child.once('exit', r));
    killGroup(child, 'SIGTERM');
    if ((await Promise.race([gone.then(() => 'exited'), sleep(3000)])) !== 'exited') {
      killGroup(child, 'SIGKILL');
      await gone;
    }
  }
  killGroup(child, 'SIGKILL'); // anything the server left in its group
  live.delete(child);
}

function runGenerator(config, limitS) {
  return new Promise((resolve) => {
    const [cmd, args] = pinnedCommand(1, [process.execPath, path.join(HERE, 'loadgen.mjs'), JSON.stringify(config)]);
    const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), limitS * 1000);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      live.delete(child);
      let json = null;
      try {
        json = JSON.parse(out.trim().split('\n').pop());
      } catch {}
      if (!json) json = { error: `load generator exited (${code ?? sig}) without a result: ${(err || out).trim().slice(-500)}` };
      resolve(json);
    });
  });
}

async function runOnce(name, scenario) {
  let srv;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    srv = startServer(name, scenario, port);
    try {
      await srv.ready;
      srv.port = port;
      break;
    } catch (e) {
      await stopServer(srv.child);
      // A server that cannot start (e.g. dist/ being rebuilt) gets one more chance.
      if (attempt >= 2) return { error: `server ${e.message}` };
      await sleep(2000);
    }
  }
  const limit = runLimit(scenario.gen);
  const config = { ...scenario.gen, port: srv.port, serverPid: srv.child.pid, deadline: limit - 10 };
  const res = await runGenerator(config, limit);
  if ((srv.child.exitCode !== null || srv.child.signalCode !== null) && !res.error)
    res.error = `server exited during the run: ${srv.stderr().trim().slice(-300)}`;
  await stopServer(srv.child);
  return res;
}

// ------------------------------------------------------------------ main
// bench/servers/switchboard.mjs imports 'switchboard', i.e. the workspace package's dist/
// (node_modules/switchboard links to packages/switchboard): bring it up to date (scripts/build.mjs redoes only
// what changed, and nothing in a tenth of a second when dist/ is current).
function ensureBuilt() {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--lib'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) console.error('the build failed: fix it or run `npm run build`, then run the benchmark again');
  return r.status === 0;
}

function headline(s, r) {
  if (r.error) return `ERROR ${r.error}`;
  const v = s.group === 'conns' ? `${fmt(r.handshakes_per_s)} handshakes/s, ${fmt(r.rss_bytes_per_conn)} B/conn` : `${fmt(r.msgs_per_s)}/s, ${fmt(r.server_cpu_us_per_msg)} µs/msg`;
  const lat = r.latency_us ? `, p99 ${fmt(r.latency_us.p99)} µs` : '';
  return `${v}${lat}, srv CPU ${Math.round(r.server_cpu_util * 100)}%, gen ÷ srv ${r.gen_per_srv_cpu}`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.report) {
    const saved = JSON.parse(readFileSync(o.report, 'utf8'));
    console.log(markdown(saved.meta, summarize(saved.scenarios, saved.results)));
    return 0;
  }
  let list = scenarios({ quick: o.quick });
  if (o.filter) list = list.filter((s) => o.filter.some((f) => s.id === f || s.id.startsWith(f) || s.group === f));
  for (const s of list) {
    if (o.warmup != null && s.gen.warmup != null) s.gen.warmup = o.warmup;
    if (o.duration != null && s.gen.duration != null) s.gen.duration = o.duration;
  }
  if (o.list) {
    for (const s of list) console.log(`${s.id.padEnd(20)} ${s.desc}`);
    return 0;
  }
  if (!list.length) {
    console.error('no scenario matches --scenarios (see --list)');
    return 2;
  }
  if (process.platform !== 'linux' || !existsSync('/proc/self/stat')) {
    console.error('the benchmark reads /proc: it needs Linux');
    return 2;
  }
  if (!ensureBuilt()) return 2;
  if (!pinned) console.error('warning: taskset missing or fewer than 2 cores: processes are not pinned; ratios are less reliable');

  const rounds = o.rounds || (o.quick ? 1 : 2);
  const perRun = (s) => (s.gen.warmup || 0) + (s.gen.duration || 0) + (s.gen.settle || 0) + 3;
  const estimate = list.reduce((t, s) => t + 2 * rounds * perRun(s), 0);
  // Stop starting runs past twice the estimate; each run is bounded by its own limit.
  const budgetS = Math.max(60, 2 * estimate);
  const started = new Date();
  const t0 = Date.now();
  const meta = {
    date: started.toISOString(),
    quick: o.quick,
    rounds,
    servers: { [A]: path.relative(ROOT, SERVERS[A].file), [B]: path.relative(ROOT, SERVERS[B].file) },
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model?.trim(),
    node: process.version,
    kernel: os.release(),
    pinned,
    serverCore: 0,
    genCore: 1,
    loadavgStart: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
  console.error(`${list.length} scenarios x ${rounds} round(s) x 2 servers, about ${Math.round(estimate)} s`);
  const results = {};
  let done = 0;
  const total = list.length * rounds * 2;
  for (const s of list) {
    results[s.id] = { [A]: [], [B]: [] };
    for (let r = 0; r < rounds; r++) {
      for (const name of [A, B]) {
        const res = (Date.now() - t0) / 1000 > budgetS ? { skipped: `time budget of ${budgetS} s used up` } : await runOnce(name, s);
        res.round = r + 1;
        res.at = new Date().toISOString();
        results[s.id][name].push(res);
        console.error(`[${++done}/${total}] ${s.id} ${name} r${r + 1}: ${res.skipped ? 'skipped' : headline(s, res)}`);
      }
    }
  }
  meta.loadavgEnd = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  meta.wallS = (Date.now() - t0) / 1000;
  const summary = summarize(list, results);
  const md = markdown(meta, summary);
  const file = o.json || path.join(HERE, 'results', `${started.toISOString().replace(/[:.]/g, '-').slice(0, 19)}${o.quick ? '_quick' : ''}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ meta, scenarios: list, results, summary, markdown: md }, null, 1) + '\n');
  console.log(md);
  console.error(`\nwrote ${path.relative(process.cwd(), file)} (${Math.round(meta.wallS)} s)`);
  return summary.some((r) => r.errors.length) ? 1 : 0;
}

main().then(
  (code) => {
    cleanup();
    process.exit(code);
  },
  (e) => {
    console.error(e);
    cleanup();
    process.exit(1);
  },
);
