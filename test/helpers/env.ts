// Where the repository is and which implementation the tests target.
//
// By default every end-to-end test exercises Switchboard itself: the ESM
// sources in src/ (through tsx), the CLI in bin/switchboard.js and the built
// package. SWITCHBOARD_TEST_AGAINST=ws runs the same tests against the `ws`
// package instead (the reference Switchboard is a drop-in for), which checks
// the tests themselves: a test that fails against ws is either wrong or
// documents a deliberate difference. `npm test` never sets it.
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
 * The conformance suite: the workspace package packages/conformance, unless
 * SWITCHBOARD_CONFORMANCE_DIR names another copy of it (to run a newer or
 * patched harness against this tree).
 */
export function conformanceSuiteDir(): string {
  const override = process.env.SWITCHBOARD_CONFORMANCE_DIR;
  return path.resolve(override !== undefined && override !== '' ? override : path.join(repoRoot, 'packages/conformance'));
}
