// The picture of the Grafana dashboard in docs/observability.md, from a real
// run: `switchboard serve --hub --metrics` under real traffic, scraped every
// second by a real Prometheus (Debian's), every panel's queries run over the
// run with /api/v1/query_range, and drawn with uPlot in Chromium on the
// dashboard's own grid. Grafana itself cannot be installed on the machine
// this was made on, so the picture says it is Prometheus's data for the
// dashboard's queries, laid out as the dashboard, not Grafana's rendering.
// Not part of `npm test`:
//
//   npm run build && node --import tsx scripts/dashboard-screenshot.ts [--seconds 150] [--out docs/grafana-dashboard.png]
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { assertBuilt, startServe, stopAll } from '../test/cli/helpers.js';
import { repoRoot } from '../test/helpers/env.js';
import { Prometheus } from '../test/helpers/prometheus.js';
import { DashboardTraffic, RawHubClient } from '../test/metrics/dashboard-traffic.js';
import { allPanels, loadDashboard, substitute, type GridPos } from '../test/metrics/dashboard.js';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '150' }, out: { type: 'string', default: 'docs/grafana-dashboard.png' } } });
const seconds = Number(args.seconds);
const out = path.resolve(repoRoot, args.out!);
const STEP = 2;

assertBuilt();
const served = await startServe(['--hub', '--deflate', '--rate', '20', '--burst', '20', '--metrics']);
const prometheus = await Prometheus.start([`127.0.0.1:${served.port}`]);
try {
  const traffic = await DashboardTraffic.start(served.url);
  // Idle members that come in a wave and go, so that the gauges have a shape.
  const idle: RawHubClient[] = [];
  const start = Date.now() / 1000;
  for (let round = 0; Date.now() / 1000 - start < seconds; round++) {
    const phase = (Date.now() / 1000 - start) / seconds;
    const wanted = Math.round(4 + 20 * Math.sin(0.8 * Math.PI * phase));
    while (idle.length < wanted) {
      const member = await RawHubClient.open(`${served.url}hub`);
      await member.request({ t: 'join', room: `room-${idle.length % 6}` });
      idle.push(member);
    }
    while (idle.length > wanted) await idle.pop()!.close(1000);
    await traffic.runRound(3 + (round % 9));
    await new Promise((r) => setTimeout(r, 150 + 150 * (round % 4)));
  }
  // The picture is taken with the members still connected, as a live dashboard would show them.
  await new Promise((r) => setTimeout(r, 2500));
  const end = Date.now() / 1000;

  const dashboard = loadDashboard();
  const panels: Array<{ type: string; title: string; gridPos: GridPos; unit: string; series: Array<{ name: string; values: Array<[number, number]> }> }> = [];
  for (const panel of allPanels(dashboard)) {
    const series: Array<{ name: string; values: Array<[number, number]> }> = [];
    for (const target of panel.targets ?? []) {
      const answer = await prometheus.queryRange(substitute(target.expr, { job: '.*', instance: '.*' }), start, end, STEP);
      if (answer.status !== 'success') throw new Error(`${panel.title} ${target.refId}: ${answer.error}`);
      for (const r of answer.data.result) {
        const name = (target.legendFormat ?? '').replace(/\{\{\s*(\w+)\s*\}\}/g, (_, label: string) => r.metric[label] ?? '') || target.refId;
        series.push({ name, values: r.values!.map(([t, v]) => [t, Number(v)] as [number, number]) });
      }
    }
    panels.push({ type: panel.type, title: panel.title, gridPos: panel.gridPos, unit: panel.fieldConfig?.defaults?.unit ?? 'short', series });
  }

  const require = createRequire(import.meta.url);
  const uplotDir = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js', { paths: [path.join(repoRoot, 'packages/cli')] }));
  const html = readFileSync(path.join(repoRoot, 'scripts/dashboard-screenshot.html'), 'utf8')
    .replace('/*UPLOT_CSS*/', () => readFileSync(path.join(uplotDir, 'uPlot.min.css'), 'utf8'))
    .replace('/*UPLOT_JS*/', () => readFileSync(path.join(uplotDir, 'uPlot.iife.min.js'), 'utf8'))
    .replace('/*DATA*/null', () => JSON.stringify({ title: dashboard.title, start, end, step: STEP, panels }));
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.setContent(html);
    await page.waitForFunction('window.__drawn === true', undefined, { timeout: 30_000 });
    if (errors.length) throw new Error(`the page failed: ${errors.join('\n')}`);
    await page.screenshot({ path: out, fullPage: true });
  } finally {
    await browser.close();
  }
  await Promise.all(idle.map((m) => m.close(1001)));
  await traffic.stop();
  const empty = panels.filter((p) => p.type !== 'row' && p.series.length === 0).map((p) => p.title);
  writeFileSync(1, `${out}: ${panels.length} panels over ${Math.round(end - start)} s${empty.length ? `; no data for: ${empty.join(', ')}` : ''}\n`);
} finally {
  await prometheus.stop();
  await stopAll();
}
