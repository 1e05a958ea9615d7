// Reading the Grafana dashboard (packages/metrics/grafana/switchboard.json)
// for its test and its screenshot: every panel's query targets, the query
// text as Grafana sends it (template variables substituted), and the metric
// names a query reads (not a test file).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { SwitchboardMetrics } from '../../packages/metrics/src/index.js';
import { repoRoot } from '../helpers/env.js';

export const DASHBOARD_PATH = path.join(repoRoot, 'packages/metrics/grafana/switchboard.json');

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: GridPos;
  datasource?: { type: string; uid: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Array<{ refId: string; expr: string; legendFormat?: string; datasource?: { type: string; uid: string } }>;
  panels?: Panel[];
}

export interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; definition?: string; allValue?: string }> };
}

export function loadDashboard(file = DASHBOARD_PATH): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Every panel, those inside collapsed rows too, in the dashboard's order. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export interface Target {
  panel: string;
  refId: string;
  expr: string;
  legendFormat: string;
}

export function targetsOf(dashboard: Dashboard): Target[] {
  return allPanels(dashboard).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr, legendFormat: t.legendFormat ?? '' })));
}

/**
 * The query as Grafana would send it: `$__rate_interval` and `$__interval`
 * as given, each `$var` / `${var}` / `[[var]]` by `variables` (an "All"
 * selection of job and instance is their allValue, `.*`).
 */
export function substitute(expr: string, variables: Record<string, string>, rateInterval = '15s', interval = '1s'): string {
  return expr
    .replaceAll('$__rate_interval', rateInterval)
    .replaceAll('$__interval', interval)
    .replace(/\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
      const name = (a ?? b ?? c)!;
      if (!(name in variables)) throw new Error(`${expr}: no value for the template variable ${whole}`);
      return variables[name]!;
    });
}

/**
 * The metric names a PromQL expression reads: its identifiers outside label
 * matchers, ranges, strings and `by (...)` lists, that are not function or
 * aggregation names (followed by "(") or keywords.
 */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);
  const names = new Set<string>();
  for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] !== undefined || keywords.has(m[1]!.toLowerCase())) continue;
    names.add(m[1]!);
  }
  return [...names];
}

/** The series names @switchboard/metrics exposes: each metric's name, and a histogram's _bucket, _sum and _count. */
export async function exportedMetricNames(): Promise<Set<string>> {
  const metrics = new SwitchboardMetrics({ registry: new Registry() });
  try {
    const names = new Set<string>();
    for (const { name, type } of await metrics.registry.getMetricsAsJSON()) {
      if (String(type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
      else names.add(name);
    }
    return names;
  } finally {
    metrics.close();
  }
}

/** "panel (refId): name" for every metric name a target reads that the package does not export. */
export function unknownMetricNames(targets: Target[], exported: Set<string>): string[] {
  return targets.flatMap((t) => metricNamesIn(t.expr).filter((n) => !exported.has(n)).map((n) => `${t.panel} (${t.refId}): ${n}`));
}
