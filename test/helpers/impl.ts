// The library under test, loaded in-process: src/index.ts (ESM, through tsx),
// or the `ws` package when SWITCHBOARD_TEST_AGAINST=ws (see env.ts).
import type * as Switchboard from '../../packages/switchboard/src/index.js';
import { IMPL_NAME } from './env.js';

export { IMPL_NAME, repoRoot } from './env.js';

export type Impl = typeof Switchboard;

const mod: Impl = IMPL_NAME === 'ws' ? ((await import('ws')) as unknown as Impl) : await import('../../packages/switchboard/src/index.js');

export const impl = mod;
export const { WebSocketServer, WebSocket } = mod;
