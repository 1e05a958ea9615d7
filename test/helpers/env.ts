// Where the repository is and which implementation the tests target.
//
// By default every end-to-end test exercises Switchboard itself: the ESM
// sources in src/ (through tsx), the CLI in bin/switchboard.js and the built
// package. SWITCHBOARD_TEST_AGAINST=ws runs the same tests against the `ws`
// package instead (the reference Switchboard is a drop-in for), which checks
// the tests themselves: a test that fails against ws is either wrong or
// documents a deliberate difference. `npm test` never sets it.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const against = process.env.SWITCHBOARD_TEST_AGAINST ?? '';
if (against !== '' && against !== 'ws' && against !== 'switchboard') {
  throw new Error(`SWITCHBOARD_TEST_AGAINST must be "ws" or "switchboard", not ${JSON.stringify(against)}`);
}

/** "switchboard" normally, "ws" when the tests are pointed at the reference implementation. */
export const IMPL_NAME: 'ws' | 'switchboard' = against === 'ws' ? 'ws' : 'switchboard';

if (IMPL_NAME === 'ws') {
  process.stderr.write('\n*** SWITCHBOARD_TEST_AGAINST=ws: these tests run against the `ws` package, NOT Switchboard ***\n\n');
}

/**
 * The conformance suite (../shared/conformance beside the repository; the
 * workplace keeps it at /work/shared/conformance). SWITCHBOARD_CONFORMANCE_DIR
 * overrides both. Returns the first that has run.mjs, else the expected path,
 * so the tests that need it fail with a message naming it.
 */
export function conformanceSuiteDir(): string {
  const candidates = [
    process.env.SWITCHBOARD_CONFORMANCE_DIR,
    path.resolve(repoRoot, '../shared/conformance'),
    '/work/shared/conformance',
  ].filter((dir): dir is string => typeof dir === 'string' && dir !== '');
  return candidates.find((dir) => existsSync(path.join(dir, 'run.mjs'))) ?? path.resolve(candidates[0]!);
}
