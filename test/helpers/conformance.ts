// Runs of the Autobahn-style conformance harness (the workspace package
// packages/conformance, see its README.md) and the tests every conformance
// file makes of them. Each file keeps its own rule for which outcomes it accepts.
//
// SWITCHBOARD_CONFORMANCE_DIR points the tests at another copy of the harness.
// If the harness is missing the run fails (it does not skip).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, conformanceSuiteDir } from './env.js';
import { startNode, type Child } from './process.js';

export interface CaseResult {
  id: string;
  description: string;
  outcome: 'OK' | 'NON-STRICT' | 'INFORMATIONAL' | 'FAILED' | 'UNIMPLEMENTED';
  reason: string;
  duration_ms: number;
}

export interface CaseDef {
  id: string;
  informational?: boolean;
}

/** Whether a case's outcome is acceptable; `def` is how the suite defines the case. */
export type AcceptOutcome = (result: CaseResult, def: CaseDef | undefined) => boolean;

const OUTCOMES = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'FAILED', 'UNIMPLEMENTED'] as const;
const suiteDir = conformanceSuiteDir();
const runner = path.join(suiteDir, 'run.mjs');
const agentScript = path.join(repoRoot, 'scripts/conformance-client.mjs');
const builtEntry = path.join(repoRoot, 'packages/switchboard/dist/esm/index.js');

function groupOf(result: CaseResult): string {
  return result.id.split('.')[0]!;
}

/**
 * One run of the harness, in server mode (against a server the test starts)
 * or in client mode (against scripts/conformance-client.mjs). The run is a
 * test of its own; the checks that follow read `report()`, which throws the
 * run's failure instead of letting them pass on no results.
 */
export class ConformanceRun {
  private results: CaseResult[] = [];
  private selected: CaseDef[] = [];
  private setupError: Error | undefined;
  private harness: Child | undefined;
  private readonly tmp: string;

  /** `cases` as the harness takes them (`1.*,2.*`); each run is killed after `timeoutMs`. */
  constructor(
    private readonly cases: string,
    private readonly timeoutMs: number,
    tmpPrefix: string,
  ) {
    this.tmp = mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  }

  /** Runs the server-mode cases against the server that `startServer` starts (once the cases are selected) and returns the URL of; `harnessArgs` go to run.mjs (e.g. --http2). */
  async againstServer(startServer: () => Promise<string>, harnessArgs: string[] = []): Promise<void> {
    await this.recordingFailure(async () => {
      requireSuite();
      this.selected = await selectCases('server', this.cases);
      const url = await startServer();
      const jsonFile = path.join(this.tmp, 'results.json');
      this.harness = startNode(runner, ['server', '--url', url, '--cases', this.cases, '--json', jsonFile, ...harnessArgs], { cwd: suiteDir });
      this.results = await this.harnessResults(this.harness, jsonFile);
    });
  }

  /** Runs the client-mode cases with scripts/conformance-client.mjs, which imports the built package. */
  async againstClient(): Promise<void> {
    await this.recordingFailure(async () => {
      requireSuite();
      if (!existsSync(builtEntry)) {
        throw new Error(`${builtEntry} does not exist: scripts/conformance-client.mjs imports the built package; run \`npm run build\` (npm test does it first)`);
      }
      this.selected = await selectCases('client', this.cases);
      const jsonFile = path.join(this.tmp, 'results.json');
      const harness = startNode(
        runner,
        ['client', '--port', '0', '--agent', 'switchboard', '--json', jsonFile, '--cases', this.cases, '--', process.execPath, agentScript],
        { cwd: repoRoot },
      );
      this.harness = harness;
      this.results = await this.harnessResults(harness, jsonFile);
      assert.match(harness.stdout, /client command exited with 0\b/, `the echo client did not exit cleanly: ${harness.describe()}`);
    });
  }

  /** The run's results and the cases the suite selected; throws if the run failed or did not happen. */
  report(): { results: CaseResult[]; selected: CaseDef[] } {
    if (this.setupError) throw new Error(`no results, the conformance run failed: ${this.setupError.message}`);
    if (!this.results.length) throw new Error('no results: the conformance run did not happen');
    return { results: this.results, selected: this.selected };
  }

  /** For an `after` hook: kills a harness still running and removes the run's files. */
  async dispose(): Promise<void> {
    await this.harness?.stop('SIGKILL', 1000);
    rmSync(this.tmp, { recursive: true, force: true });
  }

  private async recordingFailure(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (e) {
      this.setupError = e as Error;
      throw e;
    }
  }

  /** Waits for the harness (killed after `timeoutMs`) and returns its JSON report's cases. */
  private async harnessResults(run: Child, jsonFile: string): Promise<CaseResult[]> {
    const timer = setTimeout(() => void run.stop('SIGKILL'), this.timeoutMs);
    const exit = await run.exited;
    clearTimeout(timer);
    // The harness's own report: per-group table and every non-OK case.
    process.stdout.write(`\n${run.stdout}\n`);
    if (exit.signal) throw new Error(`conformance run did not finish within ${this.timeoutMs / 1000} s (killed): ${run.describe()}`);
    if (exit.code === 2 || !existsSync(jsonFile)) throw new Error(`conformance harness did not complete: ${run.describe()}`);
    return (JSON.parse(readFileSync(jsonFile, 'utf8')) as { cases: CaseResult[] }).cases;
  }
}

function requireSuite(): void {
  if (!existsSync(runner)) {
    throw new Error(
      `conformance suite not found: ${runner} does not exist. ` +
        (process.env.SWITCHBOARD_CONFORMANCE_DIR
          ? 'SWITCHBOARD_CONFORMANCE_DIR names a directory without it; unset it to use packages/conformance.'
          : 'It is part of this repository (packages/conformance): restore it with `git checkout -- packages/conformance`.'),
    );
  }
}

async function selectCases(mode: 'server' | 'client', cases: string): Promise<CaseDef[]> {
  const index = (await import(pathToFileURL(path.join(suiteDir, 'cases/index.mjs')).href)) as {
    selectCases: (mode: string, include?: string, exclude?: string) => CaseDef[];
  };
  const selected = index.selectCases(mode, cases);
  assert.ok(selected.length > 0, 'the suite selected no cases');
  return selected;
}

/**
 * The tests of a run's outcomes: every selected case was reported, and in
 * each of `groups` every case is one `accept` accepts (`rule` names it in the
 * tests' titles).
 */
export function testOutcomes(run: ConformanceRun, groups: readonly string[], rule: string, accept: AcceptOutcome): void {
  test('every selected case was run and reported', () => {
    const { results, selected } = run.report();
    const got = new Set(results.map((r) => r.id));
    const missing = selected.filter((c) => !got.has(c.id)).map((c) => c.id);
    assert.deepEqual(missing, [], `cases missing from the report: ${missing.join(', ')}`);
    assert.equal(results.length, selected.length);
  });

  for (const group of groups) {
    test(`group ${group}: ${rule}`, () => {
      const { results, selected } = run.report();
      const defs = new Map(selected.map((c) => [c.id, c]));
      const mine = results.filter((r) => groupOf(r) === group);
      assert.ok(mine.length > 0, `no results for group ${group}`);
      const bad = mine.filter((r) => !accept(r, defs.get(r.id)));
      // A broken build can fail hundreds of cases: the first 40 say enough.
      const lines = bad.slice(0, 40).map((r) => `  ${r.id} ${r.outcome}: ${r.reason}\n      (${r.description})`);
      assert.equal(bad.length, 0, `${bad.length} case(s) in group ${group} not acceptable:\n${lines.join('\n')}`);
    });
  }
}

/** A test that reports, as diagnostics, each group's count of every outcome and every case that was not OK. */
export function testSummary(run: ConformanceRun, groups: readonly string[]): void {
  test('summary', (t) => {
    const { results } = run.report();
    const rows = groups.map((g) => {
      const mine = results.filter((r) => groupOf(r) === g);
      return [g, ...OUTCOMES.map((o) => mine.filter((r) => r.outcome === o).length), mine.length];
    });
    rows.push(['all', ...OUTCOMES.map((o) => results.filter((r) => r.outcome === o).length), results.length]);
    const head = ['group', ...OUTCOMES, 'total'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    const fmt = (r: (string | number)[]): string => r.map((v, i) => (i === 0 ? String(v).padEnd(widths[i]!) : String(v).padStart(widths[i]!))).join('  ');
    const total = results.reduce((n, r) => n + r.duration_ms, 0);
    const table = [fmt(head), ...rows.map(fmt), `cases took ${(total / 1000).toFixed(1)} s in all`];
    for (const r of results.filter((x) => x.outcome !== 'OK')) table.push(`${r.id.padEnd(8)} ${r.outcome.padEnd(13)} ${r.reason}`);
    for (const l of table) t.diagnostic(l);
  });
}
