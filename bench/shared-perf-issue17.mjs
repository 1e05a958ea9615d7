#!/usr/bin/env node
// Issue 17's table from a ../shared/perf result file that ran switchboard, uws, ws and net-echo
// side by side: every scenario's headline figure as switchboard ÷ each other server, per round
// (runs seconds apart), shown as median [min–max] over rounds, and whether switchboard was at or
// above ws in every round (item 4 of the issue). Prints markdown.
//
//   node bench/shared-perf-issue17.mjs ../shared/perf/results/<time>_switchboard-vs-uws-vs-ws-vs-net-echo<…>.json
import { median, resultFileFromArgs, usable } from './lib/shared-perf-results.mjs';

const run = resultFileFromArgs('shared-perf-issue17.mjs');
const SELF = 'switchboard';
const OTHERS = ['uws', 'ws', 'net-echo'];

/** The headline figure of a scenario and whether higher is better. */
function headline(id) {
  if (id.startsWith('latency')) return { label: 'p99 µs (lower is better)', value: (r) => r.latency_us?.p99, higherIsBetter: false };
  if (id.startsWith('conns')) return { label: 'handshakes/s', value: (r) => r.handshakes_per_s, higherIsBetter: true };
  if (id.startsWith('broadcast')) return { label: 'deliveries/s', value: (r) => r.deliveries_per_s, higherIsBetter: true };
  return { label: 'msg/s', value: (r) => r.msgs_per_s, higherIsBetter: true };
}

const fmt = (x) => x.toFixed(2);

const lines = [
  `| scenario | metric | ${OTHERS.map((o) => `${SELF} ÷ ${o}`).join(' | ')} | at or above ws in every round |`,
  `|---|---|${OTHERS.map(() => '---:').join('|')}|---|`,
];
for (const id of Object.keys(run.results)) {
  const { label, value, higherIsBetter } = headline(id);
  const mine = run.results[id][SELF] ?? [];
  const cells = [];
  let everyRoundVsWs = 'n/a';
  for (const other of OTHERS) {
    const theirs = run.results[id][other] ?? [];
    const ratios = [];
    for (let i = 0; i < Math.min(mine.length, theirs.length); i++) {
      if (!usable(mine[i]) || !usable(theirs[i])) continue;
      const ratio = value(mine[i]) / value(theirs[i]);
      if (Number.isFinite(ratio)) ratios.push(ratio);
    }
    if (ratios.length === 0) {
      cells.push('–');
      continue;
    }
    cells.push(`${fmt(median(ratios))} [${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))}]`);
    if (other === 'ws') everyRoundVsWs = ratios.every((r) => (higherIsBetter ? r >= 1 : r <= 1)) ? 'yes' : 'no';
  }
  const failed = mine.filter((r) => !usable(r)).length;
  lines.push(`| ${id}${failed ? ` (${failed} failed round${failed > 1 ? 's' : ''})` : ''} | ${label} | ${cells.join(' | ')} | ${everyRoundVsWs} |`);
}
console.log(lines.join('\n'));
