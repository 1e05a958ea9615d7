// permessage-deflate (RFC 7692) conformance, with the Autobahn-style
// harness (packages/conformance, see its README.md): its groups 12.*
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
// test/helpers/conformance.ts finds the suite (SWITCHBOARD_CONFORMANCE_DIR,
// else packages/conformance) and runs it. If it is missing the test fails
// (it does not skip).
//
// Each case waits for every echo before sending the next message, so a run is
// bound by latency, not CPU: about 14 minutes per mode on a 2-CPU machine
// (`ws` is no faster). Both modes therefore run at the same time. The harness
// bounds every case (120 s for 12.*/13.*); SUITE_TIMEOUT_MS bounds each run.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IMPL_NAME } from './helpers/env.js';
import { startEchoCli, type CliServer } from './helpers/process.js';
import { ConformanceRun, testOutcomes, testSummary, type AcceptOutcome } from './helpers/conformance.js';

const CASES = '12.*,13.*';
const GROUPS = ['12', '13'];
const SUITE_TIMEOUT_MS = 25 * 60_000;

const acceptable: AcceptOutcome = (r) => r.outcome === 'OK';

// The two modes run concurrently; within each, the checks follow the run.
describe(`permessage-deflate conformance (${CASES})`, { concurrency: true, timeout: SUITE_TIMEOUT_MS + 180_000 }, () => {
  describe(`server mode (${IMPL_NAME} serve --echo --deflate)`, { concurrency: false, timeout: SUITE_TIMEOUT_MS + 120_000 }, () => {
    const run = new ConformanceRun(CASES, SUITE_TIMEOUT_MS, 'switchboard-conformance-deflate-');
    let server: CliServer | undefined;

    test(`run the suite (${CASES}) against serve --echo --deflate`, { timeout: SUITE_TIMEOUT_MS + 60_000 }, () =>
      run.againstServer(async () => {
        server = await startEchoCli(['--deflate']);
        return server.url;
      }),
    );

    after(async () => {
      await run.dispose();
      await server?.stop();
    });

    testOutcomes(run, GROUPS, 'every case OK', acceptable);
    testSummary(run, GROUPS);

    test('serve --echo --deflate exits on SIGTERM', async () => {
      assert.ok(server, 'the echo server was not started');
      const r = await server.stop('SIGTERM', 5000);
      assert.equal(r.killed, false, `serve --echo --deflate did not exit within 5 s of SIGTERM: ${server.child.describe()}`);
    });
  });

  describe('client mode (scripts/conformance-client.mjs)', { concurrency: false, timeout: SUITE_TIMEOUT_MS + 120_000 }, () => {
    const run = new ConformanceRun(CASES, SUITE_TIMEOUT_MS, 'switchboard-conformance-deflate-client-');

    test(`run the suite in client mode (${CASES})`, { timeout: SUITE_TIMEOUT_MS + 60_000 }, () => run.againstClient());

    after(() => run.dispose());

    testOutcomes(run, GROUPS, 'every case OK', acceptable);
    testSummary(run, GROUPS);
  });
});
