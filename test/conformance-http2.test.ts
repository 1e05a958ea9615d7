// The conformance harness's frame-level cases over HTTP/2 (RFC 8441): run.mjs
// --http2 opens each case's connection as an extended CONNECT stream of its
// own HTTP/2 session to `switchboard serve --echo --tls-cert --tls-key`
// (a self-signed certificate made at test time), and the frames go over the
// stream unchanged. The H.* cases (the HTTP/1.1 opening handshake) do not
// apply; 12.*/13.* (permessage-deflate) take minutes and are left to the
// TCP run (test/conformance-deflate.test.ts).
//
// The same outcomes are accepted as over TCP (test/conformance.test.ts), and
// the server's log proves every case's connection was a stream.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConformanceRun, testOutcomes, testSummary, type AcceptOutcome } from './helpers/conformance.js';
import { selfSignedCert } from './helpers/tls.js';
import { startServe, stopAll, type Served } from './cli/helpers.js';

const CASES = '1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*';
const GROUPS = ['1', '2', '3', '4', '5', '6', '7', '9', '10'];
const SUITE_TIMEOUT_MS = 8 * 60_000;

const acceptable: AcceptOutcome = (r, def) => {
  if (r.outcome === 'OK' || r.outcome === 'NON-STRICT') return true;
  if (r.outcome === 'INFORMATIONAL') return !!def?.informational;
  return false;
};

let served: Served | undefined;
const run = new ConformanceRun(CASES, SUITE_TIMEOUT_MS, 'switchboard-conformance-h2-');

describe(`conformance over HTTP/2 streams (serve --echo --tls-cert, cases ${CASES})`, { timeout: SUITE_TIMEOUT_MS + 60_000 }, () => {
  test(`run the suite (${CASES}) with --http2`, { timeout: SUITE_TIMEOUT_MS + 30_000 }, () =>
    run.againstServer(async () => {
      const { certPath, keyPath } = selfSignedCert();
      served = await startServe(['--echo', '--json', '--tls-cert', certPath, '--tls-key', keyPath]);
      return served.url;
    }, ['--http2']),
  );

  after(async () => {
    await run.dispose();
    await stopAll();
  });

  testOutcomes(run, GROUPS, 'every case OK (or an outcome the suite allows)', acceptable);

  test('every case\'s connection was an HTTP/2 stream (the server\'s log)', async () => {
    const { results } = run.report();
    assert.ok(served, 'the server was not started');
    const exit = await served.child.stop('SIGTERM', 10_000);
    assert.equal(exit.killed, false, served.child.describe());
    const connects = served.child.lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event: string; http?: string })
      .filter((record) => record.event === 'connect');
    assert.equal(connects.length, results.length, 'one connection per case');
    assert.deepEqual(connects.filter((c) => c.http !== '2'), []);
  });

  testSummary(run, GROUPS);
});
