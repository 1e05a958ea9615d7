// RFC 6455 conformance of Switchboard's *client*, checked with the
// Autobahn-style harness (packages/conformance) in client mode (like Autobahn's fuzzingserver): the
// harness listens on 127.0.0.1 and runs scripts/conformance-client.mjs, an
// echo client built on the package ('switchboard' resolves to dist/, which
// `npm test` builds first).
//
// Every selected case must be OK. INFORMATIONAL is accepted only for the
// cases the suite marks informational (7.1.6, 7.13.*). NON-STRICT, FAILED and
// UNIMPLEMENTED are never accepted.
//
// test/helpers/conformance.ts finds the suite (SWITCHBOARD_CONFORMANCE_DIR,
// else packages/conformance) and runs it. If it is missing the test fails
// (it does not skip).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConformanceRun, testOutcomes, testSummary, type AcceptOutcome } from './helpers/conformance.js';

const CASES = '1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*,H.*';
const GROUPS = ['1', '2', '3', '4', '5', '6', '7', '9', '10', 'H'];
const SUITE_TIMEOUT_MS = 8 * 60_000;

const acceptable: AcceptOutcome = (r, def) => {
  if (r.outcome === 'OK') return true;
  if (r.outcome === 'INFORMATIONAL') return !!def?.informational;
  return false;
};

const run = new ConformanceRun(CASES, SUITE_TIMEOUT_MS, 'switchboard-conformance-client-');

describe(`conformance of the client (scripts/conformance-client.mjs, cases ${CASES})`, { timeout: SUITE_TIMEOUT_MS + 60_000 }, () => {
  test(`run the suite in client mode (${CASES})`, { timeout: SUITE_TIMEOUT_MS + 30_000 }, () => run.againstClient());

  after(() => run.dispose());

  testOutcomes(run, GROUPS, 'every case OK (INFORMATIONAL only where the suite marks it)', acceptable);

  test('informational cases are exactly 7.1.6 and 7.13.*', () => {
    const { selected } = run.report();
    const informational = selected.filter((c) => c.informational).map((c) => c.id);
    const unexpected = informational.filter((id) => id !== '7.1.6' && !id.startsWith('7.13.'));
    assert.deepEqual(unexpected, [], `the suite marks other cases informational: ${unexpected.join(', ')}`);
  });

  testSummary(run, GROUPS);
});
