// What the HTTP fallback transports cost (docs/transports.md), side by side in
// one run: 1,000 clients each over WebSocket ('ws'), Server-Sent Events ('sse')
// and long-polling ('poll') on the SAME switchboard/hub server (one room per
// kind, all connected at once), and 1,000 socket.io long-polling clients ('sio',
// Engine.IO v4, on a socket.io server in its own process).
//
//   node bench/fallback.mjs [--clients 1000] [--rounds 5] [--messages 30] [--window 4]
//        [--size 100] [--seconds 3] [--hz auto]              (or: npm run bench:fallback -- ...)
//
// Each kind's clients live in a load generator process of their own (raw protocol
// clients, see fallback-load.mjs). Rounds alternate the order of the kinds (A B C D,
// D C B A, ...), so load from elsewhere on the machine hits all alike; round 0 is a warm-up.
// Per round and kind:
//   throughput: the server publishes `messages` messages to the kind's room, at most
//     `window` in flight (a message is in flight until every client has it: closed loop);
//     deliveries/s = clients x messages / (last delivery - first publish); p50/p99 of
//     publish-to-delivery in that loop (publish time in the payload, monotonic clock);
//   latency: the server publishes at a fixed rate (`hz`; auto: half the slowest kind's
//     warm-up throughput, the same for all) for `seconds`: p50/p99.
// Memory: the server's heap and RSS (after gc) before and after each kind's 1,000 clients
// connected, divided by the number of clients.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ask, children, closedLoop, fmt, loadavg, median, next, optionReader, start, whenDone } from './lib/processes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = optionReader(argv);
const cfg = {
  clients: opt('clients', 1000),
  rounds: opt('rounds', 5),
  messages: opt('messages', 30),
  window: opt('window', 4),
  size: opt('size', 100),
  seconds: opt('seconds', 3),
  hz: opt('hz', 'auto'),
};
const KINDS = ['ws', 'sse', 'poll', 'sio'];
const NAMES = { ws: 'switchboard/hub, WebSocket', sse: 'switchboard/hub, SSE', poll: 'switchboard/hub, long-polling', sio: 'socket.io, long-polling' };
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});
process.on('SIGINT', () => process.exit(130));

async function startServer(stack) {
  const proc = start(['node', '--expose-gc', join(here, 'fallback-server.mjs'), stack]);
  const { port } = await next(proc, 'listening', 30_000);
  return { proc, port };
}

async function connectKind(kind, server) {
  const before = await ask(server.proc, { type: 'memory' });
  const load = start(['node', join(here, 'fallback-load.mjs'), JSON.stringify({ kind, port: server.port, clients: cfg.clients, room: kind })]);
  const { ready, ms } = await next(load, 'ready', 180_000);
  const after = await ask(server.proc, { type: 'memory' });
  const perClient = (field) => (after[field] - before[field]) / ready;
  console.log(`${NAMES[kind]}: ${ready} clients in ${(ms / 1000).toFixed(1)} s; server heap +${fmt(perClient('heapUsed') / 1024, 1)} KiB, RSS +${fmt(perClient('rss') / 1024, 1)} KiB per client`);
  return { kind, server, load, seq: 1, memory: { heap: perClient('heapUsed'), rss: perClient('rss') }, rounds: [] };
}

async function throughput(side) {
  await ask(side.load, { type: 'reset' });
  await closedLoop(side.load, cfg.messages, cfg.window, () => side.server.proc.send({ type: 'publish', room: side.kind, seq: side.seq++, size: cfg.size }), 120_000, `${side.kind}: throughput phase`);
  const stats = await ask(side.load, { type: 'stats' });
  return { rate: stats.deliveries / (stats.spanUs / 1e6), p50: stats.p50, p99: stats.p99, errors: stats.errors };
}

async function latency(side, hz) {
  const count = Math.max(2, Math.round(hz * cfg.seconds));
  await ask(side.load, { type: 'reset' });
  const first = side.seq;
  side.seq += count;
  const allDone = whenDone(side.load, count, (cfg.seconds + 60) * 1000, `${side.kind}: latency phase`);
  await ask(side.server.proc, { type: 'rate', room: side.kind, first, count, hz, size: cfg.size }, 'rate-sent', (cfg.seconds + 60) * 1000);
  await allDone;
  const stats = await ask(side.load, { type: 'stats' });
  return { p50: stats.p50, p99: stats.p99 };
}

async function main() {
  const startedAt = new Date();
  const loads = [loadavg()];
  console.log(
    `fallback bench ${startedAt.toISOString()}: ${fmt(cfg.clients)} clients per kind, ${cfg.rounds} rounds + 1 warm-up, ${cfg.messages} messages of ${cfg.size} B padding per throughput phase (window ${cfg.window}); node ${process.version}; load average ${loads[0]}`,
  );
  const sb = await startServer('sb');
  const sio = await startServer('sio');
  const sides = {};
  for (const kind of KINDS) sides[kind] = await connectKind(kind, kind === 'sio' ? sio : sb);
  let hz = cfg.hz === 'auto' ? 0 : Number(cfg.hz);
  for (let r = 0; r <= cfg.rounds; r++) {
    const order = r % 2 === 0 ? KINDS : [...KINDS].reverse();
    const got = {};
    for (const kind of order) got[kind] = { tp: await throughput(sides[kind]) };
    if (r === 0 && !hz) hz = Math.max(1, Math.round((0.5 * Math.min(...KINDS.map((k) => got[k].tp.rate))) / cfg.clients));
    for (const kind of order) got[kind].lat = await latency(sides[kind], hz);
    loads.push(loadavg());
    console.log(`${r === 0 ? 'warm-up' : `round ${r}`}: ${KINDS.map((k) => `${k} ${fmt(got[k].tp.rate)}/s p99 ${fmt(got[k].tp.p99, 1)} ms, at ${hz}/s p99 ${fmt(got[k].lat.p99, 1)} ms`).join('; ')}; load ${loads.at(-1)}`);
    if (r > 0) for (const k of KINDS) sides[k].rounds.push(got[k]);
  }
  const pick = (k, f) => sides[k].rounds.map(f);
  const rows = [
    [`deliveries/s (closed loop, window ${cfg.window})`, (k) => pick(k, (g) => g.tp.rate), 0],
    ['p99 ms in that loop', (k) => pick(k, (g) => g.tp.p99), 1],
    [`p50 ms at ${hz} msg/s (${fmt(hz * cfg.clients)} deliveries/s)`, (k) => pick(k, (g) => g.lat.p50), 1],
    [`p99 ms at ${hz} msg/s`, (k) => pick(k, (g) => g.lat.p99), 1],
    ['server heap per client, KiB', (k) => [sides[k].memory.heap / 1024], 1],
    ['server RSS per client, KiB', (k) => [sides[k].memory.rss / 1024], 1],
  ];
  const table = [`| | ${KINDS.map((k) => NAMES[k]).join(' | ')} |`, `|---|${KINDS.map(() => '---:').join('|')}|`];
  for (const [label, values, digits] of rows) table.push(`| ${label} | ${KINDS.map((k) => fmt(median(values(k)), digits)).join(' | ')} |`);
  const ratios = (label, f, to) => `| ${label} | ${KINDS.map((k) => fmt(median(pick(k, f).map((x, i) => x / pick(to, f)[i])), 2)).join(' | ')} |`;
  table.push(ratios('deliveries/s ÷ WebSocket, per round (median)', (g) => g.tp.rate, 'ws'));
  table.push(ratios('deliveries/s ÷ socket.io long-polling, per round (median)', (g) => g.tp.rate, 'sio'));
  table.push(ratios('p99 in the loop ÷ socket.io long-polling, per round (median)', (g) => g.tp.p99, 'sio'));
  const errors = KINDS.map((k) => `${k} ${sides[k].rounds.reduce((a, g) => a + g.tp.errors, 0)}`).join(', ');
  console.log(`\nmedian of ${cfg.rounds} rounds, ${fmt(cfg.clients)} clients per kind; load average ${loads.join(' → ')}; client errors: ${errors}\n`);
  console.log(table.join('\n'));
  for (const side of Object.values(sides)) side.load.send({ type: 'close' });
  sb.proc.send({ type: 'close' });
  sio.proc.send({ type: 'close' });
}

main().then(
  () => setTimeout(() => process.exit(0), 500),
  (error) => {
    console.error(error.stack ?? error);
    process.exit(1);
  },
);
