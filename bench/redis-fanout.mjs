// Room broadcast across nodes on Redis, side by side in one run: socket.io +
// @socket.io/redis-adapter ('sio') against switchboard/hub + @switchboard/redis ('sb').
//
//   node bench/redis-fanout.mjs [--nodes 2] [--clients 10000] [--rounds 4] [--messages 20]
//        [--window 4] [--size 100] [--hz auto] [--seconds 5] [--presence 200] [--src-ips 4]
//        [--pin alternate|none] [--monitor 20] [--client raw|lib] [--prof]        (or: npm run bench:redis -- ...)
//
// Per stack: its own redis-server (loopback, free port, nothing persisted, temp dir), N node
// processes (bench/redis-fanout-node.mjs) and one load generator process holding all the
// clients (bench/redis-fanout-load.mjs), spread round-robin over the nodes, all joined to one
// room. Both stacks are set up before the first round and their rounds alternate (A B, B A,
// ...), so load from elsewhere on the machine hits both alike; round 0 is a warm-up.
// Each round, per stack:
//   throughput: node 0 publishes `messages` messages, at most `window` of them in flight (a
//     message is in flight until every client has it: closed loop); deliveries per second =
//     clients x messages / (last delivery - first publish); with, per round, the phase's length,
//     the nodes' garbage collection time in it (PerformanceObserver 'gc'), redis-server's CPU,
//     and the share of the machine's cores busy with anything else meanwhile (/proc/stat minus
//     this stack's processes), to tell a round that lost to another job from one that did not;
//   latency: node 0 publishes at a fixed rate (`hz`; auto: half the slower stack's warm-up
//     throughput, the same rate for both) for `seconds`; p50/p99/max of publish-to-delivery
//     over every delivery (the publish time is in the payload, on the machine's monotonic clock);
//   presence: `presence` clients join a fresh room at once, node 0 reads its member list 10
//     times, they leave; Redis commands per join and per leave from INFO commandstats.
// Clients: raw WebSocket frames over node:net, the same code for both stacks (see
// redis-fanout-load.mjs); --client lib uses socket.io-client and switchboard/client instead.
// After the rounds, per stack: `monitor` messages published one at a time under
// `redis-cli MONITOR`, to count the Redis commands per message (top-level and inside scripts).
// Core mapping (2 cores): node i is pinned to core i % 2 (taskset); redis-server and the
// load generator are not pinned. The same for both stacks.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { coreTimes, procTree } from './proc.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const v = argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : typeof fallback === 'number' ? Number(v) : v;
};
const cfg = {
  nodes: opt('nodes', 2),
  clients: opt('clients', 10_000),
  rounds: opt('rounds', 4),
  messages: opt('messages', 20),
  window: opt('window', 4),
  size: opt('size', 100),
  hz: opt('hz', 'auto'),
  seconds: opt('seconds', 5),
  presence: opt('presence', 200),
  srcIps: opt('src-ips', 4),
  pin: opt('pin', 'alternate'),
  monitor: opt('monitor', 20),
  prof: opt('prof', false),
  stacks: String(opt('stacks', 'sio,sb')).split(','),
  client: opt('client', 'raw'),
};
const NAMES = { sio: 'socket.io + @socket.io/redis-adapter', sb: 'switchboard/hub + @switchboard/redis' };
const children = [];
const tmp = mkdtempSync(join(tmpdir(), 'redis-fanout-'));
const cleanup = () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

// ---- processes ----------------------------------------------------------------------------
const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

// The descriptor limit is raised to the hard limit for every child (the load generator
// holds one per client); taskset pins where asked.
function start(args, { core, ipc = true, quiet = false } = {}) {
  const pinned = core === undefined ? args : ['taskset', '-c', String(core), ...args];
  const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'sh', ...pinned], {
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit', ...(ipc ? ['ipc'] : [])],
  });
  children.push(child);
  return child;
}

function next(proc, type, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.off('message', on);
      reject(new Error(`timed out waiting for '${type}'`));
    }, timeoutMs);
    const on = (m) => {
      if (m.type === type || m.type === 'error') {
        clearTimeout(timer);
        proc.off('message', on);
        if (m.type === 'error') reject(new Error(m.message));
        else resolve(m);
      }
    };
    proc.on('message', on);
  });
}
const ask = (proc, message, type = message.type, timeoutMs) => {
  const reply = next(proc, type, timeoutMs);
  proc.send(message);
  return reply;
};

async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmp, 'redis-'));
  const proc = start(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'], { ipc: false, quiet: true });
  for (let i = 0; i < 100; i++) {
    try {
      if (redisCli(port, 'PING').trim() === 'PONG') return { port, proc };
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not start');
}
const redisCli = (port, ...args) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
function commandStats(port) {
  const stats = {};
  for (const m of redisCli(port, 'INFO', 'commandstats').matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats[m[1]] = Number(m[2]);
  return stats;
}
function statsDiff(before, after) {
  const diff = {};
  let total = 0;
  for (const [cmd, calls] of Object.entries(after)) {
    const d = calls - (before[cmd] ?? 0);
    if (d > 0 && cmd !== 'info') {
      diff[cmd] = d;
      total += d;
    }
  }
  return { diff, total };
}

async function startStack(stack) {
  const redis = await startRedis();
  const nodes = [];
  for (let i = 0; i < cfg.nodes; i++) {
    const execArgv = cfg.prof && stack === 'sb' && i === 0 ? ['--cpu-prof', `--cpu-prof-dir=${join(process.cwd(), 'prof')}`] : [];
    const proc = start(['node', ...execArgv, join(here, 'redis-fanout-node.mjs'), stack, `redis://127.0.0.1:${redis.port}`], {
      core: cfg.pin === 'alternate' ? i % 2 : undefined,
    });
    const { port } = await next(proc, 'listening', 30_000);
    nodes.push({ proc, port });
  }
  const load = start(['node', join(here, 'redis-fanout-load.mjs'), JSON.stringify({ stack, ports: nodes.map((n) => n.port), clients: cfg.clients, srcIps: cfg.srcIps, client: cfg.client })]);
  const { ready, ms } = await next(load, 'ready', 300_000);
  let counted = 0;
  for (const node of nodes) counted += (await ask(node.proc, { type: 'count' })).count;
  if (ready !== cfg.clients || counted !== cfg.clients) throw new Error(`${stack}: ${ready} clients ready, the nodes count ${counted}`);
  console.log(`${NAMES[stack]}: ${cfg.nodes} nodes, ${ready} clients joined in ${(ms / 1000).toFixed(1)} s`);
  return { stack, redis, nodes, load, seq: 1, rounds: [] };
}

const pids = (side) => [...side.nodes.map((n) => n.proc.pid), side.redis.proc.pid, side.load.pid];
const cpuSeconds = (side) => pids(side).map((pid) => procTree(pid).cpuS);
const CORES = cpus().length;
const CLK_TCK = 100; // /proc/stat jiffies (USER_HZ, 100 on Linux)
/** The machine's busy CPU seconds so far, every core. */
const machineBusy = () => coreTimes(CORES).reduce((sum, core) => sum + core.busy, 0) / CLK_TCK;
/** The nodes' garbage collection ms so far, summed. */
const gcMs = async (side) => (await Promise.all(side.nodes.map((n) => ask(n.proc, { type: 'gc' })))).reduce((sum, g) => sum + g.ms, 0);

// ---- phases -------------------------------------------------------------------------------
async function throughput(side) {
  await ask(side.load, { type: 'reset' });
  const gc0 = await gcMs(side);
  const busy0 = machineBusy();
  const t0 = performance.now();
  const cpu0 = cpuSeconds(side);
  await new Promise((resolve, reject) => {
    let sent = 0;
    let done = 0;
    const timer = setTimeout(() => reject(new Error(`${side.stack}: throughput phase stalled (${done} of ${cfg.messages})`)), 180_000);
    const publishNext = () => {
      sent++;
      side.nodes[0].proc.send({ type: 'publish', seq: side.seq++, size: cfg.size });
    };
    const on = (m) => {
      if (m.type !== 'done') return;
      if (++done === cfg.messages) {
        clearTimeout(timer);
        side.load.off('message', on);
        resolve();
      } else if (sent < cfg.messages) publishNext();
    };
    side.load.on('message', on);
    while (sent < Math.min(cfg.window, cfg.messages)) publishNext();
  });
  const cpu1 = cpuSeconds(side);
  const busy1 = machineBusy();
  const wallS = (performance.now() - t0) / 1000;
  const gc1 = await gcMs(side);
  const stats = await ask(side.load, { type: 'stats' });
  const cpu = cpu1.map((c, i) => c - cpu0[i]);
  const serverCpu = cpu.slice(0, cfg.nodes + 1).reduce((a, b) => a + b, 0);
  const ownCpu = cpu.reduce((a, b) => a + b, 0);
  return {
    wallS,
    // What else the machine ran meanwhile (other jobs, the other stack's idle processes), as a
    // share of all its cores over the phase: a round that lost to outside load shows it here.
    foreignShare: Math.max(0, busy1 - busy0 - ownCpu) / (wallS * CORES),
    gcMs: gc1 - gc0,
    rate: stats.deliveries / (stats.spanUs / 1e6),
    p50: stats.p50,
    p99: stats.p99,
    // CPU of the nodes and redis-server per 1,000 deliveries, ms; and the generator's.
    serverCpuPerK: (serverCpu * 1e6) / stats.deliveries,
    loadCpuPerK: (cpu[cfg.nodes + 1] * 1e6) / stats.deliveries,
    redisCpuPerK: (cpu[cfg.nodes] * 1e6) / stats.deliveries,
  };
}

async function latency(side, hz) {
  const count = Math.max(2, Math.round(hz * cfg.seconds));
  await ask(side.load, { type: 'reset' });
  const first = side.seq;
  side.seq += count;
  const allDone = new Promise((resolve, reject) => {
    let done = 0;
    const timer = setTimeout(() => reject(new Error(`${side.stack}: latency phase stalled (${done} of ${count})`)), (cfg.seconds + 120) * 1000);
    const on = (m) => {
      if (m.type === 'done' && ++done === count) {
        clearTimeout(timer);
        side.load.off('message', on);
        resolve();
      }
    };
    side.load.on('message', on);
  });
  await ask(side.nodes[0].proc, { type: 'rate', first, count, hz, size: cfg.size }, 'rate-sent', (cfg.seconds + 120) * 1000);
  await allDone;
  const stats = await ask(side.load, { type: 'stats' });
  return { hz, p50: stats.p50, p99: stats.p99, max: stats.max };
}

let presenceRoom = 0;
async function presence(side) {
  const room = `p${++presenceRoom}`;
  const s0 = commandStats(side.redis.port);
  const joined = await ask(side.load, { type: 'room', kind: 'join', room, count: cfg.presence }, 'room');
  const s1 = commandStats(side.redis.port);
  const { count, times } = await ask(side.nodes[0].proc, { type: 'members', room, reads: 10 });
  if (count !== cfg.presence) throw new Error(`${side.stack}: ${count} members listed, ${cfg.presence} joined`);
  const s2 = commandStats(side.redis.port);
  const left = await ask(side.load, { type: 'room', kind: 'leave', room, count: cfg.presence }, 'room');
  const s3 = commandStats(side.redis.port);
  return {
    joinMs: joined.ms,
    leaveMs: left.ms,
    membersMs: median(times),
    commandsPerJoin: statsDiff(s0, s1).total / cfg.presence,
    commandsPerLeave: statsDiff(s2, s3).total / cfg.presence,
    commandsPerMembersRead: statsDiff(s1, s2).total / times.length,
  };
}

// Every command Redis ran while `cfg.monitor` messages were published one at a time.
async function commandsPerMessage(side) {
  // MONITOR needs its stdout: a separate spawn with a pipe.
  const monitor = spawn('redis-cli', ['-p', String(side.redis.port), 'MONITOR'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(monitor);
  let text = '';
  monitor.stdout.on('data', (d) => (text += d));
  await new Promise((r) => setTimeout(r, 300));
  const before = commandStats(side.redis.port);
  await ask(side.load, { type: 'reset' });
  for (let i = 0; i < cfg.monitor; i++) {
    const done = next(side.load, 'done');
    side.nodes[0].proc.send({ type: 'publish', seq: side.seq++, size: cfg.size });
    await done;
  }
  await new Promise((r) => setTimeout(r, 300));
  const after = commandStats(side.redis.port);
  monitor.kill();
  const counts = {};
  for (const m of text.matchAll(/^\S+ \[\d+ ([^\]]+)\] "([^"]+)"(?: "([^"]*)")?/gm)) {
    const [, source, command, arg] = m;
    const name = command.toLowerCase();
    if (name === 'info' || name === 'monitor') continue;
    const key = `${source === 'lua' ? 'in script: ' : ''}${name}${name === 'evalsha' ? ` ${arg.slice(0, 8)}` : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return { messages: cfg.monitor, monitor: counts, commandstats: statsDiff(before, after) };
}

// ---- report --------------------------------------------------------------------------------
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}]`;
const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main() {
  const startedAt = new Date();
  const loads = [loadavg()];
  console.log(
    `redis fan-out: ${cfg.nodes} nodes per stack, ${fmt(cfg.clients)} ${cfg.client} clients in one room, ${cfg.rounds} rounds + 1 warm-up, ` +
      `${cfg.messages} messages of ${cfg.size} B padding per throughput phase (window ${cfg.window}); load average ${loads[0]}`,
  );
  const sides = {};
  for (const stack of cfg.stacks) sides[stack] = await startStack(stack);
  let hz = cfg.hz === 'auto' ? 0 : Number(cfg.hz);
  for (let r = 0; r <= cfg.rounds; r++) {
    const order = r % 2 === 0 ? cfg.stacks : [...cfg.stacks].reverse();
    const got = {};
    for (const stack of order) got[stack] = { tp: await throughput(sides[stack]) };
    if (r === 0 && !hz) hz = Math.max(0.2, Math.round((5 * Math.min(...cfg.stacks.map((s) => got[s].tp.rate))) / cfg.clients) / 10);
    for (const stack of order) got[stack].lat = await latency(sides[stack], hz);
    for (const stack of order) got[stack].presence = await presence(sides[stack]);
    loads.push(loadavg());
    const line = cfg.stacks
      .map((s) => {
        const tp = got[s].tp;
        return `${s} ${fmt(tp.rate)}/s in ${fmt(tp.wallS, 2)} s (other load ${fmt(tp.foreignShare * 100)}% of the cores, nodes' GC ${fmt(tp.gcMs)} ms, redis ${fmt(tp.redisCpuPerK, 2)} ms/1k) p99 ${fmt(tp.p99, 1)} ms, at ${hz}/s p99 ${fmt(got[s].lat.p99, 1)} ms`;
      })
      .join('; ');
    console.log(`${r === 0 ? 'warm-up' : `round ${r}`}: ${line}; load ${loads.at(-1)}`);
    if (r > 0) for (const s of cfg.stacks) sides[s].rounds.push(got[s]);
  }
  const commands = {};
  if (cfg.monitor > 0) for (const stack of cfg.stacks) commands[stack] = await commandsPerMessage(sides[stack]);

  const pick = (s, f) => sides[s].rounds.map(f);
  const rows = [
    ['deliveries/s (closed loop, window ' + cfg.window + ')', (s) => pick(s, (g) => g.tp.rate), 0, true],
    ['p50 ms in that loop', (s) => pick(s, (g) => g.tp.p50), 1, false],
    ['p99 ms in that loop', (s) => pick(s, (g) => g.tp.p99), 1, false],
    [`p50 ms at ${hz} msg/s (${fmt(hz * cfg.clients)} deliveries/s)`, (s) => pick(s, (g) => g.lat.p50), 1, false],
    [`p99 ms at ${hz} msg/s`, (s) => pick(s, (g) => g.lat.p99), 1, false],
    ['server CPU ms per 1,000 deliveries (nodes + redis)', (s) => pick(s, (g) => g.tp.serverCpuPerK), 1, false],
    ['  of which redis-server', (s) => pick(s, (g) => g.tp.redisCpuPerK), 2, false],
    ['load generator CPU ms per 1,000 deliveries', (s) => pick(s, (g) => g.tp.loadCpuPerK), 1, false],
    ['throughput phase, s', (s) => pick(s, (g) => g.tp.wallS), 2, false],
    ['  other load meanwhile, % of the cores', (s) => pick(s, (g) => g.tp.foreignShare * 100), 0, false],
    ["  nodes' GC in it, ms", (s) => pick(s, (g) => g.tp.gcMs), 0, false],
    [`join wave, ${cfg.presence} clients at once, ms`, (s) => pick(s, (g) => g.presence.joinMs), 0, false],
    [`leave wave, ms`, (s) => pick(s, (g) => g.presence.leaveMs), 0, false],
    ['member list read from node 0, ms', (s) => pick(s, (g) => g.presence.membersMs), 2, false],
    ['Redis commands per join', (s) => pick(s, (g) => g.presence.commandsPerJoin), 1, false],
    ['Redis commands per leave', (s) => pick(s, (g) => g.presence.commandsPerLeave), 1, false],
    ['Redis commands per member list read', (s) => pick(s, (g) => g.presence.commandsPerMembersRead), 1, false],
  ];
  const [a, b] = cfg.stacks;
  // One stack (--stacks sb): its column alone.
  const table = b === undefined ? [`| | ${a} |`, '|---|---:|'] : [`| | ${a} | ${b} | ${b} ÷ ${a} per round: median [min–max] |`, '|---|---:|---:|---:|'];
  for (const [label, values, digits] of rows) {
    const va = values(a);
    if (b === undefined) {
      table.push(`| ${label} | ${fmt(median(va), digits)} |`);
      continue;
    }
    const vb = values(b);
    const ratios = va.map((x, i) => vb[i] / x);
    table.push(`| ${label} | ${fmt(median(va), digits)} | ${fmt(median(vb), digits)} | ${ratios.every(Number.isFinite) ? spread(ratios) : '–'} |`);
  }
  console.log(`\nmedian of ${cfg.rounds} rounds (${cfg.stacks.map((s) => `${s}: ${NAMES[s]}`).join('; ')}); load average ${loads.join(' → ')}\n`);
  console.log(table.join('\n'));
  for (const [stack, c] of Object.entries(commands)) {
    const per = Object.entries(c.monitor)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `${k} ${fmt(v / c.messages, 2)}`)
      .join(', ');
    console.log(`\n${stack}: Redis commands per message (MONITOR, ${c.messages} messages one at a time, ${cfg.nodes} nodes, ${fmt(cfg.clients)} members): ${per}`);
    console.log(`${stack}: INFO commandstats over the same window: ${fmt(c.commandstats.total / c.messages, 2)} calls per message (${JSON.stringify(c.commandstats.diff)})`);
  }
  const result = { startedAt: startedAt.toISOString(), cfg, hz, loads, node: process.version, commit: git('rev-parse', '--short', 'HEAD'), table, commands, rounds: Object.fromEntries(cfg.stacks.map((s) => [s, sides[s].rounds])) };
  mkdirSync(join(here, 'results'), { recursive: true });
  const file = join(here, 'results', `redis-fanout-${cfg.nodes}n-${startedAt.toISOString().replace(/:/g, '-').slice(0, 19)}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`\nwritten: ${file}`);
  for (const side of Object.values(sides)) {
    side.load.send({ type: 'close' });
    for (const node of side.nodes) node.proc.send({ type: 'close' });
  }
  const exited = (proc) => (proc.exitCode !== null ? null : new Promise((r) => proc.once('exit', r)));
  await Promise.race([Promise.all(Object.values(sides).flatMap((side) => side.nodes.map((n) => exited(n.proc)))), new Promise((r) => setTimeout(r, 10_000))]);
  for (const side of Object.values(sides)) side.redis.proc.kill();
}
function git(...args) {
  try {
    return execFileSync('git', args, { encoding: 'utf8', cwd: here }).trim();
  } catch {
    return 'unknown';
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error.stack ?? error);
    process.exit(1);
  },
);
