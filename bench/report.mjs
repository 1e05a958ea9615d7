// Turns the runs of one benchmark invocation into ratios (switchboard ÷ ws, per round,
// then median and [min–max] over rounds) and markdown tables: the main table, the
// secondary metrics, the generator's cost, and issue #5's targets that ws can decide.
export const A = 'switchboard';
export const B = 'ws';

const UNIT = { echo: 'msg', latency: 'msg', deflate: 'msg', broadcast: 'delivery', conns: 'handshake' };
const get = (obj, p) => p.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
const ok = (r) => r && !r.error && !r.skipped;

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function metricPath(s, which) {
  if (which === 'throughput') return s.group === 'conns' ? 'handshakes_per_s' : 'msgs_per_s';
  if (which === 'cpu') return s.group === 'conns' ? 'server_cpu_us_per_handshake' : 'server_cpu_us_per_msg';
  return which;
}

/** Median of a metric per server, and the median/min/max of the per-round ratio A ÷ B. */
export function compare(runs, path) {
  const a = runs[A] || [];
  const b = runs[B] || [];
  const value = (r) => (ok(r) ? get(r, path) : NaN);
  const ratios = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = value(a[i]) / value(b[i]);
    if (Number.isFinite(x)) ratios.push(x);
  }
  return {
    a: median(a.map(value)),
    b: median(b.map(value)),
    ratio: median(ratios),
    min: ratios.length ? Math.min(...ratios) : NaN,
    max: ratios.length ? Math.max(...ratios) : NaN,
    n: ratios.length,
  };
}

/** One summary object per scenario. */
export function summarize(scenarios, results) {
  return scenarios.map((s) => {
    const runs = results[s.id] || {};
    const row = {
      id: s.id,
      group: s.group,
      unit: UNIT[s.group],
      throughput: compare(runs, metricPath(s, 'throughput')),
      cpu: compare(runs, metricPath(s, 'cpu')),
      genPerSrv: { [A]: compare(runs, 'gen_per_srv_cpu').a, [B]: compare(runs, 'gen_per_srv_cpu').b },
      genPerSrvMax: Math.max(...[A, B].flatMap((n) => (runs[n] || []).filter(ok).map((r) => r.gen_per_srv_cpu ?? 0))),
      srvUtil: { [A]: compare(runs, 'server_cpu_util').a, [B]: compare(runs, 'server_cpu_util').b },
      // CPU time on the server's core used by anything else (other processes, unattributed kernel work)
      core0Other: median([A, B].flatMap((n) => (runs[n] || []).filter(ok).map((r) => Math.max(0, r.core0_busy - r.server_cpu_util)))),
      core0Idle: median([A, B].flatMap((n) => (runs[n] || []).filter(ok).map((r) => Math.max(0, 1 - r.core0_busy)))),
      genUtil: { [A]: compare(runs, 'gen_cpu_util').a, [B]: compare(runs, 'gen_cpu_util').b },
      extra: [],
      errors: [],
    };
    for (const n of [A, B])
      (runs[n] || []).forEach((r, i) => {
        if (r.error) row.errors.push(`${n} round ${i + 1}: ${r.error}`);
      });
    if (s.group === 'latency') {
      row.extra.push(['p50 µs', compare(runs, 'latency_us.p50'), -1], ['p99 µs', compare(runs, 'latency_us.p99'), -1]);
      row.p99 = row.extra[1][1];
    } else if (s.group === 'conns') {
      row.rss = compare(runs, 'rss_bytes_per_conn');
      row.extra.push(['RSS B/conn', row.rss, -1], ['RSS B/conn, 2nd half', compare(runs, 'rss_bytes_per_conn_marginal'), -1]);
    } else if (s.group === 'broadcast') {
      row.extra.push(['all delivered p99 ms', compare(runs, 'fanout_ms.p99'), -1]);
    } else if (s.group === 'deflate') {
      row.extra.push(['wire bytes/msg (client)', compare(runs, 'wire_size_avg'), 0]);
    }
    row.target = evaluate(s.target, row);
    return row;
  });
}

function evaluate(t, row) {
  if (!t) return null;
  if (t.info) return { text: t.info, measured: `${fmtRatio(row.throughput.ratio)}x ws msg/s`, met: null };
  const checks = [];
  if (t.metric === 'throughput') checks.push([row.throughput.ratio, row.throughput.ratio >= t.min, `${fmtRatio(row.throughput.ratio)}x ws`]);
  if (t.metric === 'cpu') checks.push([row.cpu.ratio, row.cpu.ratio <= t.max, `${fmtRatio(row.cpu.ratio)}x ws CPU/msg`]);
  if (t.metric === 'p99') checks.push([row.p99.ratio, row.p99.ratio <= t.max, `p99 ${fmtRatio(row.p99.ratio)}x ws`]);
  if (t.rss) checks.push([row.rss.ratio, row.rss.ratio <= 1, `RSS/conn ${fmtRatio(row.rss.ratio)}x ws`]);
  const known = checks.every(([x]) => Number.isFinite(x));
  return { text: t.text, measured: checks.map((c) => c[2]).join(', '), met: known ? checks.every((c) => c[1]) : null };
}

// ------------------------------------------------------------------ formatting
export function fmt(x) {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}
export const fmtRatio = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const range = (c) => (c.n > 1 ? ` [${fmtRatio(c.min)}–${fmtRatio(c.max)}]` : '');
const pct = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');

export function markdown(meta, rows) {
  const L = [];
  L.push(`Benchmark ${meta.quick ? '(quick)' : '(full)'} — ${meta.date}, ${meta.rounds} round(s), order per scenario ${A} ${B} (repeated)`);
  L.push(`Machine: ${meta.cpus} × ${meta.cpuModel}, Node ${meta.node}, Linux ${meta.kernel}; server on core ${meta.serverCore}, generator on core ${meta.genCore}${meta.pinned ? '' : ' (NOT pinned: taskset missing or < 2 cores)'}.`);
  L.push(`Load average at start ${meta.loadavgStart}, at end ${meta.loadavgEnd}; wall time ${Math.round(meta.wallS)} s.`);
  L.push('');
  L.push(`Ratios are ${A} ÷ ${B} per round, median [min–max] over rounds. Throughput: higher is better; CPU per unit (server user+sys CPU µs per message, delivery or handshake): lower is better. gen ÷ srv: the load generator's CPU divided by the server's over the same window (must stay below 1).`);
  L.push('');
  L.push(`| scenario | unit | ${A} /s · µs CPU | ${B} /s · µs CPU | throughput ${A} ÷ ${B} | CPU per unit ${A} ÷ ${B} ↓ | gen ÷ srv CPU (${A} / ${B}) |`);
  L.push('|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const g = `${fmtRatio(r.genPerSrv[A])} / ${fmtRatio(r.genPerSrv[B])}${r.genPerSrvMax >= 1 ? ' ⚠' : ''}`;
    L.push(
      `| ${r.id} | ${r.unit} | ${fmt(r.throughput.a)} · ${fmt(r.cpu.a)} | ${fmt(r.throughput.b)} · ${fmt(r.cpu.b)} | ` +
        `${fmtRatio(r.throughput.ratio)}${range(r.throughput)} | ${fmtRatio(r.cpu.ratio)}${range(r.cpu)} | ${g} |`,
    );
  }
  const extra = rows.filter((r) => r.extra.length);
  if (extra.length) {
    L.push('');
    L.push(`| scenario | metric | ${A} | ${B} | ${A} ÷ ${B} |`);
    L.push('|---|---|---:|---:|---:|');
    for (const r of extra)
      for (const [label, c, better] of r.extra)
        L.push(`| ${r.id} | ${label}${better < 0 ? ' ↓' : ''} | ${fmt(c.a)} | ${fmt(c.b)} | ${fmtRatio(c.ratio)}${range(c)} |`);
  }
  const targets = rows.filter((r) => r.target);
  if (targets.length) {
    L.push('');
    L.push('| scenario | issue #5 target | measured (median) | met |');
    L.push('|---|---|---|---|');
    for (const r of targets) {
      const m = r.target.met === null ? 'n/a' : r.target.met ? 'yes' : '**no**';
      L.push(`| ${r.id} | ${r.target.text} | ${r.target.measured} | ${m} |`);
    }
  }
  const notes = [];
  for (const r of rows) {
    if (r.genPerSrvMax >= 1)
      notes.push(`- ${r.id}: ⚠ the generator used as much CPU as the server or more in some run (max gen ÷ srv ${fmtRatio(r.genPerSrvMax)}); its throughput figures may be the generator's limit, not the server's.`);
    const busy = r.group !== 'conns' && [A, B].some((n) => r.srvUtil[n] < 0.85);
    if (busy && Number.isFinite(r.srvUtil[A])) {
      const why = [];
      if (r.core0Other > 0.1) why.push(`other processes took ${pct(r.core0Other)} of its core`);
      if (r.core0Idle > 0.1) why.push(`its core sat idle ${pct(r.core0Idle)} of the time, waiting for round trips`);
      notes.push(
        `- ${r.id}: server CPU use ${pct(r.srvUtil[A])} (${A}) / ${pct(r.srvUtil[B])} (${B}) of its core, generator ${pct(r.genUtil[A])} / ${pct(r.genUtil[B])}: ` +
          `the server was not saturated${why.length ? ` (${why.join('; ')})` : ''}; compare CPU per unit.`,
      );
    }
    for (const e of r.errors) notes.push(`- ${r.id}: ERROR ${e}`);
  }
  if (notes.length) {
    L.push('');
    L.push(...notes);
  }
  return L.join('\n');
}
