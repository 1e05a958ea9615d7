// The implementation under test.
//
// By default every end-to-end test exercises Switchboard itself: the ESM
// sources in src/ (through tsx) and the CLI in bin/switchboard.js.
//
// SWITCHBOARD_TEST_AGAINST=ws runs the same tests against the `ws` package
// instead (the reference Switchboard is a drop-in for). That checks the tests
// themselves: a test that fails against ws is either wrong or documents a
// deliberate difference. It is never set by `npm test`.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type * as Switchboard from '../../src/index.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type Impl = typeof Switchboard;

const against = process.env.SWITCHBOARD_TEST_AGAINST ?? '';
if (against !== '' && against !== 'ws' && against !== 'switchboard') {
  throw new Error(`SWITCHBOARD_TEST_AGAINST must be "ws" or "switchboard", not ${JSON.stringify(against)}`);
}

/** "switchboard" normally, "ws" when the tests are pointed at the reference implementation. */
export const IMPL_NAME: 'ws' | 'switchboard' = against === 'ws' ? 'ws' : 'switchboard';

if (IMPL_NAME === 'ws') {
  process.stderr.write('\n*** SWITCHBOARD_TEST_AGAINST=ws: these tests run against the `ws` package, NOT Switchboard ***\n\n');
}

const mod: Impl =
  IMPL_NAME === 'ws' ? ((await import('ws')) as unknown as Impl) : await import('../../src/index.js');

export const impl = mod;
export const { WebSocketServer, WebSocket } = mod;
