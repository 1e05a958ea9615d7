#!/usr/bin/env node
// Issue #5's targets, decided from a ../shared/perf result file that ran
// switchboard, ws, ws-native and net-echo side by side:
//
//   node bench/shared-perf-targets.mjs ../shared/perf/results/<time>_switchboard-vs-ws-vs-ws-native-vs-net-echo.json
//
// Every ratio is taken per round (runs seconds apart) and shown as the median
// [min-max] over rounds, as ../shared/perf does. Prints markdown.
import { median, resultFileFromArgs, usable } from './lib/shared-perf-results.mjs';

const run = resultFileFromArgs('shared-perf-targets.mjs');
const file = process.argv[2];
const SELF = 'switchboard';

const pick = (object, path) => path.split('.').reduce((value, key) => (value == null ? undefined : value[key]), object);

/** Per-round ratios of `metric` between `self` (switchboard unless given) and `other` for one scenario. */
function ratios(scenario, metric, other, self = SELF) {
  const mine = run.results[scenario]?.[self] ?? [];
  const theirs = run.results[scenario]?.[other] ?? [];
  const out = [];
  for (let i = 0; i < Math.min(mine.length, theirs.length); i++) {
    if (!usable(mine[i]) || !usable(theirs[i])) continue;
    const ratio = pick(mine[i], metric) / pick(theirs[i], metric);
    if (Number.isFinite(ratio)) out.push(ratio);
  }
  return out;
}
function summary(values) {
  if (values.length === 0) return { median: NaN, text: 'n/a' };
  const m = median(values);
  const spread = values.length > 1 ? ` [${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}]` : '';
  return { median: m, text: `${m.toFixed(2)}${spread}` };
}
const ratio = (scenario, metric, other, self = SELF) => summary(ratios(scenario, metric, other, self));

const HEADLINE = {
  echo: 'msgs_per_s',
  latency: 'latency_us.p99',
  conns: 'handshakes_per_s',
  broadcast: 'deliveries_per_s',
  deflate: 'msgs_per_s',
};
const CPU = {
  echo: 'server_cpu_s_per_M',
  latency: 'server_cpu_s_per_M',
  conns: 'server_cpu_us_per_handshake',
  broadcast: 'server_cpu_s_per_M',
  deflate: 'server_cpu_s_per_M',
};

console.log(`Source: \`${file.replace(/^.*\/results\//, 'results/')}\` (${run.meta.quick ? 'quick' : 'full'} mode, ${run.meta.rounds} rounds, ${run.meta.date}).\n`);
console.log('| scenario | metric | ÷ ws | ÷ ws-native | ÷ net-echo | CPU per unit ÷ ws ↓ | ÷ ws-native ↓ | ÷ net-echo ↓ |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const { id, group } of run.scenarios) {
  const metric = HEADLINE[group];
  const cpu = CPU[group];
  const cells = ['ws', 'ws-native', 'net-echo'].map((other) => ratio(id, metric, other).text);
  const cpuCells = ['ws', 'ws-native', 'net-echo'].map((other) => ratio(id, cpu, other).text);
  const label = group === 'latency' ? 'p99 ↓' : metric.replace(/_/g, ' ');
  console.log(`| ${id} | ${label} | ${cells.join(' | ')} | ${cpuCells.join(' | ')} |`);
  if (group === 'latency') {
    const p50 = ['ws', 'ws-native', 'net-echo'].map((other) => ratio(id, 'latency_us.p50', other).text);
    console.log(`| ${id} | p50 ↓ | ${p50.join(' | ')} | | | |`);
  }
  if (group === 'conns') {
    const rss = ['ws', 'ws-native', 'net-echo'].map((other) => ratio(id, 'rss_bytes_per_conn', other).text);
    console.log(`| ${id} | RSS per conn ↓ | ${rss.join(' | ')} | | | |`);
  }
}

// The targets, one row each: [scenario, description, value, threshold, higher is better, ceiling].
// The ceiling is what net-echo (Node's socket I/O with no framing at all) reaches on the same
// measure: a target above it is out of reach for any JavaScript server on this Node.
const targets = [];
const has = (id) => run.scenarios.some((s) => s.id === id);
for (const { id, group } of run.scenarios) {
  if (group === 'echo') {
    const large = /-(64k|1m)-/.test(id);
    const pipelined = /^echo-(1|100)c-/.test(id) && !large;
    if (pipelined) {
      targets.push([id, '>= 3x ws msg/s', ratio(id, 'msgs_per_s', 'ws'), 3, true, ratio(id, 'msgs_per_s', 'ws', 'net-echo')]);
      targets.push([id, '>= 0.4 of net-echo msg/s', ratio(id, 'msgs_per_s', 'net-echo'), 0.4, true]);
    }
    if (large) {
      // No ceiling here: for large messages net-echo writes back whatever chunks it read and ws-native can beat it.
      targets.push([id, '>= 1.0x ws-native msg/s', ratio(id, 'msgs_per_s', 'ws-native'), 1, true]);
      targets.push([id, '>= 0.8 of net-echo msg/s', ratio(id, 'msgs_per_s', 'net-echo'), 0.8, true]);
    }
    if (/^echo-1000c-/.test(id)) {
      targets.push([id, '>= 1.25x ws msg/s', ratio(id, 'msgs_per_s', 'ws'), 1.25, true, large ? undefined : ratio(id, 'msgs_per_s', 'ws', 'net-echo')]);
    }
  } else if (group === 'latency') {
    targets.push([id, 'p99 <= 0.8x ws (1.25x better)', ratio(id, 'latency_us.p99', 'ws'), 0.8, false, ratio(id, 'latency_us.p99', 'ws', 'net-echo')]);
  } else if (group === 'broadcast') {
    targets.push([id, '>= 1.25x ws deliveries/s', ratio(id, 'deliveries_per_s', 'ws'), 1.25, true, ratio(id, 'deliveries_per_s', 'ws', 'net-echo')]);
    targets.push([id, '>= 1.0 of net-echo deliveries/s', ratio(id, 'deliveries_per_s', 'net-echo'), 1, true]);
  } else if (group === 'conns') {
    targets.push([id, '>= 1.3x ws handshakes/s', ratio(id, 'handshakes_per_s', 'ws'), 1.3, true, ratio(id, 'handshakes_per_s', 'ws', 'net-echo')]);
    targets.push([id, 'RSS per idle connection <= ws', ratio(id, 'rss_bytes_per_conn', 'ws'), 1, false]);
  } else if (group === 'deflate') {
    targets.push([id, 'server CPU per message <= 0.8x ws', ratio(id, 'server_cpu_s_per_M', 'ws'), 0.8, false]);
  }
}
if (!has('echo-1c-16b-bin')) console.error('note: the file lacks some of the issue\'s scenarios');

console.log('\n| scenario | issue #5 target | switchboard (median [min–max] over rounds) | net-echo on the same measure | met |');
console.log('|---|---|---:|---:|---|');
let met = 0;
for (const [id, description, value, threshold, higher, ceiling] of targets) {
  const ok = Number.isFinite(value.median) && (higher ? value.median >= threshold : value.median <= threshold);
  if (ok) met++;
  let bound = '';
  if (ceiling !== undefined) {
    const reachable = Number.isFinite(ceiling.median) && (higher ? ceiling.median >= threshold : ceiling.median <= threshold);
    bound = `${ceiling.text}${reachable ? '' : ' (short of the target too)'}`;
  }
  console.log(`| ${id} | ${description} | ${value.text} | ${bound} | ${ok ? 'yes' : '**no**'} |`);
}
console.log(`\n${met} of ${targets.length} target rows met.`);
