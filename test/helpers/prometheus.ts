// A real Prometheus (Debian's `prometheus`, from scripts/system-deps.mjs) for
// the tests and the dashboard screenshot: on a free 127.0.0.1 port, its TSDB
// in a temp directory, scraping the given targets every second, stopped (and
// its directory removed) by `stop()`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child } from './process.js';
import { getFreePort, HOST } from './net.js';

/** One result of an instant or range query (`/api/v1/query`, `/api/v1/query_range`). */
export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

export type PromAnswer = { status: 'success'; data: { resultType: string; result: PromSeries[] } } | { status: 'error'; errorType: string; error: string };

export class Prometheus {
  private constructor(
    readonly child: Child,
    readonly url: string,
    private readonly dir: string,
  ) {}

  /** Starts Prometheus scraping `targets` (host:port, path /metrics) as job `job`, and waits until it is ready. */
  static async start(targets: string[], job = 'switchboard'): Promise<Prometheus> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'prometheus-'));
    const config = path.join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', `  - job_name: ${job}`, '    static_configs:', `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`, ''].join('\n'),
    );
    // A port free a moment ago may be taken by the time Prometheus binds it: try a few.
    let lastError = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await getFreePort();
      const child = new Child('prometheus', [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=${HOST}:${port}`,
        '--storage.tsdb.retention.time=1h',
        '--log.level=warn',
      ]);
      const url = `http://${HOST}:${port}`;
      try {
        const deadline = Date.now() + 20_000;
        for (;;) {
          if (!child.running) throw new Error(`prometheus exited: ${child.describe()}`);
          const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
          if (ready) return new Prometheus(child, url, dir);
          if (Date.now() > deadline) throw new Error(`prometheus not ready after 20 s: ${child.describe()}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } catch (error) {
        await child.stop('SIGKILL', 2000);
        lastError = (error as Error).message;
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw new Error(lastError);
  }

  /** GET /api/v1/<endpoint>?params; the parsed answer (an error answer too: a bad query is a 400 with a body). */
  async api(endpoint: string, params: Record<string, string>): Promise<PromAnswer> {
    const res = await fetch(`${this.url}/api/v1/${endpoint}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as PromAnswer;
  }

  query(expr: string): Promise<PromAnswer> {
    return this.api('query', { query: expr });
  }

  queryRange(expr: string, start: number, end: number, step: number): Promise<PromAnswer> {
    return this.api('query_range', { query: expr, start: String(start), end: String(end), step: String(step) });
  }

  /** Whether a scrape of every target has succeeded at least once since `since` (ms). */
  async scrapedSince(since: number): Promise<boolean> {
    const res = await fetch(`${this.url}/api/v1/targets`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { data: { activeTargets: Array<{ health: string; lastScrape: string }> } };
    const targets = body.data.activeTargets;
    return targets.length > 0 && targets.every((t) => t.health === 'up' && Date.parse(t.lastScrape) > since);
  }

  async stop(): Promise<void> {
    await this.child.stop('SIGTERM', 5000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
