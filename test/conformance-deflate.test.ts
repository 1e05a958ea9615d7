// permessage-deflate (RFC 7692) conformance, with the shared Autobahn-style
// harness (../shared/conformance, see its README.md): its groups 12.*
// (compressed payloads) and 13.* (negotiated parameters: context takeover,
// window bits), 1000 messages per case,
//   - in server mode against `switchboard serve --echo --deflate`,
//   - in client mode against scripts/conformance-client.mjs, whose client
//     offers permessage-deflate by default (it imports the built package:
//     `npm run build` first, as `npm test` does).
//
// Every case must be OK: there is no NON-STRICT or INFORMATIONAL case in
// these groups, and UNIMPLEMENTED means deflate was not negotiated.
//
// The suite is found the way test/conformance.test.ts finds it
// (SWITCHBOARD_CONFORMANCE_DIR, else ../shared/conformance). If it is missing
// the test fails (it does not skip).
//
// Each case waits for every echo before sending the next message, so a run is
// bound by latency, not CPU: about 14 minutes per mode on a 2-CPU machine
// (`ws` is no faster). Both modes therefore run at the same time. The harness
// bounds every case (120 s for 12.*/13.*); SUITE_TIMEOUT_MS bounds each run.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { IMPL_NAME, repoRoot, conformanceSuiteDir } from './helpers/env.js';
import { startEchoCli, startNode, type Child, type CliServer } from './helpers/process.js';

const CASES = '12.*,13.*';
const GROUPS = ['12', '13'];
const SUITE_TIMEOUT_MS = 25 * 60_000;

const suiteDir = conformanceSuiteDir();
const runner = path.join(suiteDir, 'run.mjs');
const agentScript = path.join(repoRoot, 'scripts/conformance-client.mjs');
const builtEntry = path.join(repoRoot, 'dist/esm/index.js');

interface CaseResult {
  id: string;
  description: string;
  outcome: 'OK' | 'NON-STRICT' | 'INFORMATIONAL' | 'FAILED' | 'UNIMPLEMENTED';
  reason: string;
  duration_ms: number;
}
interface CaseDef {
  id: string;
  informational?: boolean;
}

function suiteMissing(): Error {
  return new Error(
    `conformance suite not found: ${runner} does not exist. ` +
      `Put the suite at ${path.resolve(repoRoot, '../shared/conformance')} or set SWITCHBOARD_CONFORMANCE_DIR to its directory.`,
  );
}

async function selectCases(mode: 'server' | 'client'): Promise<CaseDef[]> {
  const index = (await import(pathToFileURL(path.join(suiteDir, 'cases/index.mjs')).href)) as {
    selectCases: (mode: string, include?: string, exclude?: string) => CaseDef[];
  };
  const selected = index.selectCases(mode, CASES);
  assert.ok(selected.length > 0, 'the suite selected no cases');
  return selected;
}

/** Waits for the harness (bounded: killed after SUITE_TIMEOUT_MS) and returns its JSON report's cases. */
async function harnessResults(run: Child, jsonFile: string): Promise<CaseResult[]> {
  const timer = setTimeout(() => void run.stop('SIGKILL'), SUITE_TIMEOUT_MS);
  const exit = await run.exited;
  clearTimeout(timer);
  // The harness's own report: per-group table and every non-OK case.
  process.stdout.write(`\n${run.stdout}\n`);
  if (exit.signal) throw new Error(`conformance run did not finish within ${SUITE_TIMEOUT_MS / 1000} s (killed): ${run.describe()}`);
  if (exit.code === 2 || !existsSync(jsonFile)) throw new Error(`conformance harness did not complete: ${run.describe()}`);
  return (JSON.parse(readFileSync(jsonFile, 'utf8')) as { cases: CaseResult[] }).cases;
}

/** The checks shared by both modes, on results that `get()` returns once the run is done. */
function checks(get: () => { results: CaseResult[]; selected: CaseDef[] }): void {
  test('every selected case was run and reported', () => {
    const { results, selected } = get();
    const got = new Set(results.map((r) => r.id));
    const missing = selected.filter((c) => !got.has(c.id)).map((c) => c.id);
    assert.deepEqual(missing, [], `cases missing from the report: ${missing.join(', ')}`);
    assert.equal(results.length, selected.length);
  });

  for (const group of GROUPS) {
    test(`group ${group}: every case OK`, () => {
      const { results } = get();
      const mine = results.filter((r) => r.id.split('.')[0] === group);
      assert.ok(mine.length > 0, `no results for group ${group}`);
      const bad = mine.filter((r) => r.outcome !== 'OK');
      const lines = bad.slice(0, 40).map((r) => `  ${r.id} ${r.outcome}: ${r.reason}\n      (${r.description})`);
      assert.equal(bad.length, 0, `${bad.length} case(s) in group ${group} not OK:\n${lines.join('\n')}`);
    });
  }

  test('summary', (t) => {
    const { results } = get();
    const outcomes = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'FAILED', 'UNIMPLEMENTED'] as const;
    const rows = GROUPS.map((g) => {
      const mine = results.filter((r) => r.id.split('.')[0] === g);
      return [g, ...outcomes.map((o) => mine.filter((r) => r.outcome === o).length), mine.length];
    });
    rows.push(['all', ...outcomes.map((o) => results.filter((r) => r.outcome === o).length), results.length]);
    const head = ['group', ...outcomes, 'total'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    const fmt = (r: (string | number)[]): string => r.map((v, i) => (i === 0 ? String(v).padEnd(widths[i]!) : String(v).padStart(widths[i]!))).join('  ');
    const total = results.reduce((n, r) => n + r.duration_ms, 0);
    const table = [fmt(head), ...rows.map(fmt), `cases took ${(total / 1000).toFixed(1)} s in all`];
    for (const r of results.filter((x) => x.outcome !== 'OK')) table.push(`${r.id.padEnd(8)} ${r.outcome.padEnd(13)} ${r.reason}`);
    for (const l of table) t.diagnostic(l);
  });
}

// The two modes run concurrently; within each, the checks follow the run.
describe(`permessage-deflate conformance (${CASES})`, { concurrency: true, timeout: SUITE_TIMEOUT_MS + 180_000 }, () => {
  describe(`server mode (${IMPL_NAME} serve --echo --deflate)`, { concurrency: false, timeout: SUITE_TIMEOUT_MS + 120_000 }, () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-conformance-deflate-'));
    let server: CliServer | undefined;
    let harnessRun: Child | undefined;
    let results: CaseResult[] = [];
    let selected: CaseDef[] = [];
    let setupError: Error | undefined;

    test(`run the suite (${CASES}) against serve --echo --deflate`, { timeout: SUITE_TIMEOUT_MS + 60_000 }, async () => {
      try {
        if (!existsSync(runner)) throw suiteMissing();
        selected = await selectCases('server');
        server = await startEchoCli(['--deflate']);
        const jsonFile = path.join(tmp, 'results.json');
        harnessRun = startNode(runner, ['server', '--url', server.url, '--cases', CASES, '--json', jsonFile], { cwd: suiteDir });
        results = await harnessResults(harnessRun, jsonFile);
      } catch (e) {
        setupError = e as Error;
        throw e;
      }
    });

    after(async () => {
      await harnessRun?.stop('SIGKILL', 1000);
      await server?.stop();
      rmSync(tmp, { recursive: true, force: true });
    });

    checks(() => {
      if (setupError) throw new Error(`no results, the conformance run failed: ${setupError.message}`);
      if (!results.length) throw new Error('no results: the conformance run did not happen');
      return { results, selected };
    });

    test('serve --echo --deflate exits on SIGTERM', async () => {
      assert.ok(server, 'the echo server was not started');
      const r = await server.stop('SIGTERM', 5000);
      assert.equal(r.killed, false, `serve --echo --deflate did not exit within 5 s of SIGTERM: ${server.child.describe()}`);
    });
  });

  describe('client mode (scripts/conformance-client.mjs)', { concurrency: false, timeout: SUITE_TIMEOUT_MS + 120_000 }, () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-conformance-deflate-client-'));
    let harnessRun: Child | undefined;
    let results: CaseResult[] = [];
    let selected: CaseDef[] = [];
    let setupError: Error | undefined;

    test(`run the suite in client mode (${CASES})`, { timeout: SUITE_TIMEOUT_MS + 60_000 }, async () => {
      try {
        if (!existsSync(runner)) throw suiteMissing();
        if (!existsSync(builtEntry)) {
          throw new Error(`${builtEntry} does not exist: scripts/conformance-client.mjs imports the built package; run \`npm run build\` (npm test does it first)`);
        }
        selected = await selectCases('client');
        const jsonFile = path.join(tmp, 'results.json');
        harnessRun = startNode(
          runner,
          ['client', '--port', '0', '--agent', 'switchboard', '--json', jsonFile, '--cases', CASES, '--', process.execPath, agentScript],
          { cwd: repoRoot },
        );
        results = await harnessResults(harnessRun, jsonFile);
        assert.match(harnessRun.stdout, /client command exited with 0\b/, `the echo client did not exit cleanly: ${harnessRun.describe()}`);
      } catch (e) {
        setupError = e as Error;
        throw e;
      }
    });

    after(async () => {
      await harnessRun?.stop('SIGKILL', 1000);
      rmSync(tmp, { recursive: true, force: true });
    });

    checks(() => {
      if (setupError) throw new Error(`no results, the conformance run failed: ${setupError.message}`);
      if (!results.length) throw new Error('no results: the conformance run did not happen');
      return { results, selected };
    });
  });
});
