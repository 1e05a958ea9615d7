// RFC 6455 conformance of Switchboard's *client*, checked with the shared
// Autobahn-style harness in client mode (like Autobahn's fuzzingserver): the
// harness listens on 127.0.0.1 and runs scripts/conformance-client.mjs, an
// echo client built on the package ('switchboard' resolves to dist/, which
// `npm test` builds first).
//
// Every selected case must be OK. INFORMATIONAL is accepted only for the
// cases the suite marks informational (7.1.6, 7.13.*). NON-STRICT, FAILED and
// UNIMPLEMENTED are never accepted.
//
// The suite is found the way test/conformance.test.ts finds it
// (SWITCHBOARD_CONFORMANCE_DIR, else ../shared/conformance). If it is missing
// the test fails (it does not skip).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, conformanceSuiteDir } from './helpers/env.js';
import { startNode, type Child } from './helpers/process.js';

const CASES = '1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,H.*';
const GROUPS = ['1', '2', '3', '4', '5', '6', '7', '9', '10', 'H'];
const SUITE_TIMEOUT_MS = 8 * 60_000;

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

let results: CaseResult[] = [];
let selected: CaseDef[] = [];
let setupError: Error | undefined;
let harnessRun: Child | undefined;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-conformance-client-'));

function requireSetup(): void {
  if (setupError) throw new Error(`no results, the conformance run failed: ${setupError.message}`);
  if (!results.length) throw new Error('no results: the conformance run did not happen');
}

describe(`conformance of the client (scripts/conformance-client.mjs, cases ${CASES})`, { timeout: SUITE_TIMEOUT_MS + 60_000 }, () => {
  test(`run the suite in client mode (${CASES})`, { timeout: SUITE_TIMEOUT_MS + 30_000 }, async () => {
    try {
      if (!existsSync(runner)) {
        throw new Error(
          `conformance suite not found: ${runner} does not exist. ` +
            `Put the suite at ${path.resolve(repoRoot, '../shared/conformance')} or set SWITCHBOARD_CONFORMANCE_DIR to its directory.`,
        );
      }
      if (!existsSync(builtEntry)) {
        throw new Error(`${builtEntry} does not exist: scripts/conformance-client.mjs imports the built package; run \`npm run build\` (npm test does it first)`);
      }
      const index = (await import(pathToFileURL(path.join(suiteDir, 'cases/index.mjs')).href)) as {
        selectCases: (mode: string, include?: string, exclude?: string) => CaseDef[];
      };
      selected = index.selectCases('client', CASES);
      assert.ok(selected.length > 0, 'the suite selected no cases');

      const jsonFile = path.join(tmp, 'results.json');
      harnessRun = startNode(
        runner,
        ['client', '--port', '0', '--agent', 'switchboard', '--json', jsonFile, '--cases', CASES, '--', process.execPath, agentScript],
        { cwd: repoRoot },
      );
      const timer = setTimeout(() => void harnessRun?.stop('SIGKILL'), SUITE_TIMEOUT_MS);
      const exit = await harnessRun.exited;
      clearTimeout(timer);
      process.stdout.write(`\n${harnessRun.stdout}\n`);
      if (exit.signal) throw new Error(`conformance run did not finish within ${SUITE_TIMEOUT_MS / 1000} s (killed): ${harnessRun.describe()}`);
      if (exit.code === 2 || !existsSync(jsonFile)) throw new Error(`conformance harness did not complete: ${harnessRun.describe()}`);
      const doc = JSON.parse(readFileSync(jsonFile, 'utf8')) as { cases: CaseResult[]; meta?: { command_exit?: { code?: number | null } } };
      results = doc.cases;
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

  test('every selected case was run and reported', () => {
    requireSetup();
    const got = new Set(results.map((r) => r.id));
    const missing = selected.filter((c) => !got.has(c.id)).map((c) => c.id);
    assert.deepEqual(missing, [], `cases missing from the report: ${missing.join(', ')}`);
    assert.equal(results.length, selected.length);
  });

  for (const group of GROUPS) {
    test(`group ${group}: every case OK (INFORMATIONAL only where the suite marks it)`, () => {
      requireSetup();
      const defs = new Map(selected.map((c) => [c.id, c]));
      const mine = results.filter((r) => r.id.split('.')[0] === group);
      assert.ok(mine.length > 0, `no results for group ${group}`);
      const bad = mine.filter((r) => {
        if (r.outcome === 'OK') return false;
        if (r.outcome === 'INFORMATIONAL') return !defs.get(r.id)?.informational;
        return true;
      });
      const lines = bad.map((r) => `  ${r.id} ${r.outcome}: ${r.reason}\n      (${r.description})`);
      assert.equal(bad.length, 0, `${bad.length} case(s) in group ${group} not acceptable:\n${lines.join('\n')}`);
    });
  }

  test('informational cases are exactly 7.1.6 and 7.13.*', () => {
    requireSetup();
    const informational = selected.filter((c) => c.informational).map((c) => c.id);
    const unexpected = informational.filter((id) => id !== '7.1.6' && !id.startsWith('7.13.'));
    assert.deepEqual(unexpected, [], `the suite marks other cases informational: ${unexpected.join(', ')}`);
  });

  test('summary', (t) => {
    requireSetup();
    const outcomes = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'FAILED', 'UNIMPLEMENTED'] as const;
    for (const g of GROUPS) {
      const mine = results.filter((r) => r.id.split('.')[0] === g);
      t.diagnostic(`${g.padEnd(3)} ${outcomes.map((o) => `${o} ${mine.filter((r) => r.outcome === o).length}`).join(', ')} (of ${mine.length})`);
    }
    for (const r of results.filter((x) => x.outcome !== 'OK')) t.diagnostic(`${r.id.padEnd(8)} ${r.outcome.padEnd(13)} ${r.reason}`);
  });
});
