// Every fuzz target, with its share of a run's inputs (see scripts/fuzz.mjs).
import type { FuzzTarget } from '../engine.js';
import { deflateTarget } from './deflate.js';
import { frameParserTarget } from './frame-parser.js';
import { handshakeTarget } from './handshake.js';
import { DEFAULT_HUB_DEPTH, hubWireTarget } from './hub-wire.js';
import { socketTarget } from './sockets.js';
import { clientSocketTarget } from './client-socket.js';

export interface TargetEntry {
  name: string;
  /** Fraction of the total inputs this target gets. */
  share: number;
  make(options: { hubDepth: number }): FuzzTarget<any, any>;
}

export const TARGETS: TargetEntry[] = [
  { name: 'frame-parser', share: 0.45, make: () => frameParserTarget },
  { name: 'handshake', share: 0.25, make: () => handshakeTarget },
  { name: 'hub-wire', share: 0.25, make: ({ hubDepth }) => hubWireTarget(hubDepth) },
  { name: 'deflate', share: 0.01, make: () => deflateTarget },
  { name: 'socket-client', share: 0.01, make: () => clientSocketTarget },
  { name: 'socket-echo', share: 0.015, make: () => socketTarget('echo') },
  { name: 'socket-hub', share: 0.015, make: ({ hubDepth }) => socketTarget('hub', { hubDepth }) },
];

export { DEFAULT_HUB_DEPTH };
