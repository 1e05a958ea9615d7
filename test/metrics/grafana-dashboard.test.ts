// The Grafana dashboard (packages/metrics/grafana/switchboard.json) against
// the real thing: a real `switchboard serve --hub --metrics`, a real
// Prometheus (Debian's) scraping it every second, real clients that connect,
// publish, get refused, get rate-limited and close; then every target of
// every panel is run through Prometheus's HTTP API as Grafana would send it.
// Grafana itself cannot be installed here; its part (the JSON model) is
// checked statically.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertBuilt, startServe, stopAll } from '../cli/helpers.js';
import { Prometheus, type PromAnswer } from '../helpers/prometheus.js';
import { DashboardTraffic } from './dashboard-traffic.js';
import { allPanels, exportedMetricNames, loadDashboard, metricNamesIn, substitute, targetsOf, unknownMetricNames, type Target } from './dashboard.js';

assertBuilt();
after(stopAll);

const dashboard = loadDashboard();
const targets = targetsOf(dashboard);
/** Job and instance set to "All", as the dashboard opens. */
const ALL = { job: '.*', instance: '.*' };

/** Panels the test traffic cannot move (nobody is slow, the memory adapter does not fail): their queries must be valid, and may be empty. */
const NOT_MOVED = new Set(['Backpressure disconnects', 'Slow consumers closed', 'Adapter errors by operation']);
/** Label values the traffic makes (DashboardTraffic.runRound), by panel. */
const EXPECTED_LABELS: Array<[panel: string, label: string, values: string[]]> = [
  ['Handshakes refused by reason', 'code', ['WS_ERR_INVALID_VERSION']],
  ['Closes by close code', 'code', ['1000', '1001', '4xxx', '1007']],
  ['Connection errors by code', 'code', ['WS_ERR_INVALID_UTF8']],
  ['Compressed messages', 'direction', ['received']],
  ['Requests by kind and result', 'kind', ['join', 'pub']],
  ['Adapter latency by operation', 'operation', ['publish']],
];
/** Gauges that are 0 when all is well: non-empty, and 0 allowed. */
const ZERO_ALLOWED = new Set(['Bytes waiting to be sent']);

describe('the Grafana dashboard', { timeout: 240_000 }, () => {
  test('the JSON model: Grafana 10 schema, a Prometheus data source variable, 24 columns, a target on every panel', () => {
    assert.ok(dashboard.schemaVersion >= 38, `schemaVersion ${dashboard.schemaVersion}: Grafana 10 writes 38 and later`);
    assert.equal(dashboard.uid, 'switchboard');
    const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
    assert.deepEqual([datasource?.type, datasource?.query], ['datasource', 'prometheus']);
    const ids = new Set<number>();
    for (const panel of allPanels(dashboard)) {
      assert.ok(!ids.has(panel.id), `panel id ${panel.id} twice`);
      ids.add(panel.id);
      assert.ok(panel.gridPos.x >= 0 && panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title} is outside the 24 columns`);
      if (panel.type === 'row') continue;
      assert.ok(panel.targets && panel.targets.length > 0, `${panel.title} has no target`);
      assert.equal(panel.datasource?.uid, '${datasource}', `${panel.title} does not use the data source variable`);
      for (const t of panel.targets) assert.equal(t.datasource?.uid, '${datasource}', `${panel.title} ${t.refId}`);
    }
    // Every topic of issue #20 has its panel.
    const titles = allPanels(dashboard).map((p) => p.title);
    for (const title of ['Connections open', 'Handshakes by result', 'Handshakes refused by reason', 'Messages per second', 'Bytes per second', 'Closes by close code', 'Backpressure disconnects', 'Slow consumers closed', 'Rooms and members', 'Publishes and deliveries', 'Delivery (fan-out) latency', 'Request latency by kind', 'Rate-limit hits', 'Adapter latency by operation', 'Adapter errors by operation']) {
      assert.ok(titles.includes(title), `no panel "${title}"`);
    }
  });

  test('every target reads only metric names @switchboard/metrics exports, and a misspelt one is caught', async () => {
    const exported = await exportedMetricNames();
    assert.ok(exported.has('switchboard_connections') && exported.has('switchboard_hub_fanout_duration_seconds_bucket'));
    for (const t of targets) assert.ok(metricNamesIn(t.expr).length > 0, `${t.panel} (${t.refId}) reads no metric: ${t.expr}`);
    assert.deepEqual(unknownMetricNames(targets, exported), []);
    const misspelt = targets.map((t) => (t.panel === 'Rate-limit hits' ? { ...t, expr: t.expr.replace('switchboard_hub_rate_limited_total', 'switchboard_hub_ratelimited_total') } : t));
    assert.deepEqual(unknownMetricNames(misspelt, exported), ['Rate-limit hits (A): switchboard_hub_ratelimited_total']);
  });

  test('a real Prometheus scraping serve --hub --metrics answers every target, and the traffic moves the panels it should', async (t) => {
    const served = await startServe(['--hub', '--deflate', '--rate', '20', '--burst', '20', '--metrics']);
    const prometheus = await Prometheus.start([`127.0.0.1:${served.port}`]);
    t.after(() => prometheus.stop());
    const traffic = await DashboardTraffic.start(served.url);
    t.after(() => traffic.stop());

    // The template variables' queries (label_values is Grafana's; Prometheus answers it as /api/v1/label/<name>/values).
    const started = Date.now();
    await waitUntil(() => prometheus.scrapedSince(started), 'a first scrape', 30_000);
    const jobs = await prometheus.api('label/job/values', { 'match[]': 'switchboard_connections' });
    assert.deepEqual(jobs.status === 'success' && jobs.data, ['switchboard']);
    const instances = await prometheus.api('label/instance/values', { 'match[]': 'switchboard_connections{job=~".*"}' });
    assert.deepEqual(instances.status === 'success' && instances.data, [`127.0.0.1:${served.port}`]);

    // Rounds of traffic until every target the traffic moves has a value above 0 and every label value it makes is there
    // (bounded: a rate needs two scrapes a second apart, and the close codes rotate over three rounds).
    let answers = new Map<Target, PromAnswer>();
    const series = (panel: string, refId = 'A') => {
      const answer = answers.get(targets.find((t) => t.panel === panel && t.refId === refId)!)!;
      return answer.status === 'success' ? answer.data.result.map((r) => ({ labels: r.metric, value: Number(r.value![1]) })) : [];
    };
    const labelValues = (panel: string, label: string, refId = 'A') => series(panel, refId).map((s) => s.labels[label]!).sort();
    const deadline = Date.now() + 60_000;
    for (let round = 0; ; round++) {
      await traffic.runRound();
      await new Promise((r) => setTimeout(r, 250));
      answers = await evaluateAll(prometheus, ALL);
      const missing = targets.filter((t) => !NOT_MOVED.has(t.panel) && !moved(answers.get(t)!, ZERO_ALLOWED.has(t.panel))).map((t) => `${t.panel} (${t.refId}): ${t.expr}`);
      for (const [panel, label, values] of EXPECTED_LABELS) {
        const found = labelValues(panel, label);
        for (const value of values) if (!found.includes(value)) missing.push(`${panel}: no ${label}="${value}" (${found.join(', ')})`);
      }
      if (missing.length === 0) break;
      assert.ok(Date.now() < deadline, `after ${round + 1} rounds of traffic, targets still empty or 0:\n${missing.join('\n')}`);
    }
    // Every query valid, the unmoved ones included (a bad query is an error answer, not an empty one).
    for (const [target, answer] of answers) assert.equal(answer.status, 'success', `${target.panel} (${target.refId}): ${JSON.stringify(answer)}`);

    // Plausible values, by panel: only the label values the traffic makes.
    assert.deepEqual(labelValues('Handshakes by result', 'result'), ['accepted', 'refused']);
    assert.deepEqual(labelValues('Messages per second', 'type'), ['text']);
    assert.deepEqual(labelValues('Rate-limit hits', 'action'), ['reject']);
    for (const [panel, refIds] of [['Delivery (fan-out) latency', ['A', 'B', 'C']], ['Connection lifetime', ['A']], ['Request latency by kind', ['A', 'B']]] as const) {
      for (const refId of refIds) {
        const values = series(panel, refId).map((s) => s.value).filter(Number.isFinite);
        assert.ok(values.length > 0 && values.every((v) => v > 0 && v <= 10), `${panel} ${refId}: ${values.join(', ')} is not a latency in seconds`);
      }
    }
    const [bytesIn] = series('Bytes per second', 'A');
    const [messagesIn] = series('Messages in /s');
    // Each round sends messages of 200 B to 4 kB: the mean size lies between.
    const meanSize = bytesIn!.value / messagesIn!.value;
    assert.ok(meanSize > 20 && meanSize < 5000, `mean received size ${meanSize} B`);

    // Between rounds only the long-lived members remain: the gauges say so once Prometheus has scraped again.
    await waitUntil(async () => {
      const now = await evaluateAll(prometheus, ALL);
      const value = (panel: string) => {
        const a = now.get(targets.find((t) => t.panel === panel)!)!;
        return a.status === 'success' ? Number(a.data.result[0]?.value?.[1]) : NaN;
      };
      return value('Connections open') === traffic.openConnections && value('Hub connections') === traffic.openConnections && value('Rooms') === 2 && value('Room members') === 4;
    }, 'the gauges: 3 connections, 2 rooms, 4 memberships', 30_000);

    // Selecting an instance that is not there empties the panels (the variables are applied to every target).
    const elsewhere = await evaluateAll(prometheus, { job: 'switchboard', instance: 'nowhere:1' });
    for (const [target, answer] of elsewhere) assert.deepEqual(answer.status === 'success' && answer.data.result, [], `${target.panel} ${target.refId} ignores $instance`);
  });
});

async function evaluateAll(prometheus: Prometheus, variables: Record<string, string>): Promise<Map<Target, PromAnswer>> {
  const answers = new Map<Target, PromAnswer>();
  for (const target of targets) answers.set(target, await prometheus.query(substitute(target.expr, variables)));
  return answers;
}

/** Non-empty, and (unless `zeroAllowed`) some series has a finite value above 0. */
function moved(answer: PromAnswer, zeroAllowed: boolean): boolean {
  if (answer.status !== 'success' || answer.data.result.length === 0) return false;
  return zeroAllowed || answer.data.result.some((r) => {
    const v = Number(r.value?.[1]);
    return Number.isFinite(v) && v > 0;
  });
}

async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
