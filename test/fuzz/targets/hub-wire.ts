// Fuzz target: the hub's wire parser, parseClientMessage (src/hub/wire.ts),
// on random and mutated switchboard.v1 messages.
import { Buffer } from 'node:buffer';
import { MAX_NAME_LENGTH, WireError, encodeMessage, parseClientMessage, type ClientMessage } from '../../../packages/switchboard/src/hub/wire.js';
import type { FuzzTarget } from '../engine.js';
import { hubMessage } from '../hub-messages.js';
import { mutateBytes, type Rng } from '../rng.js';

/** Nesting of `data` the generator reaches by default: deep, but not so deep that storing it would fail today (see findings.test.ts). */
export const DEFAULT_HUB_DEPTH = 10_000;

const PARSE_ERRORS = new Set(['bad_json', 'bad_message', 'unknown_type']);
const TYPES = new Set(['hello', 'join', 'leave', 'resume', 'pub', 'dm', 'emit', 'req', 'ack', 'error', 'ping']);
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).length;

function fail(message: string): never {
  throw new Error(message);
}

const isId = (v: unknown): boolean => v === undefined || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
const isName = (v: unknown): boolean => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME_LENGTH;

/** The contract of a parsed message, checked independently of the parser's code. */
function checkMessage(m: ClientMessage): void {
  if (!TYPES.has(m.t)) fail(`type ${String(m.t)}`);
  if ('id' in m && !isId(m.id)) fail(`id ${String(m.id)}`);
  switch (m.t) {
    case 'join':
      if (!isName(m.room) || !isId(m.since)) fail('join fields');
      break;
    case 'leave':
      if (!isName(m.room)) fail('leave fields');
      break;
    case 'resume':
      if (typeof m.rooms !== 'object' || m.rooms === null || Array.isArray(m.rooms)) fail('resume rooms');
      for (const [room, last] of Object.entries(m.rooms)) if (!isName(room) || !isId(last) || last === undefined) fail(`resume room ${room}`);
      if (m.was !== undefined && (!Array.isArray(m.was) || !m.was.every(isName))) fail('resume was');
      break;
    case 'pub':
      if (!isName(m.room) || !isName(m.ev) || (m.volatile !== undefined && typeof m.volatile !== 'boolean')) fail('pub fields');
      break;
    case 'dm': {
      const to = m.to as { user?: unknown; client?: unknown };
      if (!isName(m.ev) || !(isName(to.user) !== isName(to.client))) fail('dm fields');
      break;
    }
    case 'emit':
      if (!isName(m.ev)) fail('emit fields');
      break;
    case 'req':
      if (!isName(m.ev) || m.id === undefined) fail('req fields');
      break;
    case 'ack':
      if (m.id === undefined) fail('ack id');
      break;
    case 'error':
      if (typeof m.code !== 'string') fail('error code');
      break;
    default:
  }
  // What the hub stores and sends on must serialise (an unserialisable message in history breaks every later replay).
  if ('data' in m) {
    try {
      encodeMessage({ t: 'msg', room: 'r', mid: 1, ev: 'e', data: m.data });
    } catch (error) {
      fail(`parsed ${m.t} whose data cannot be serialised again: ${(error as Error).message}`);
    }
  }
}

export interface HubWireInput {
  text: string;
}

export function hubWireTarget(maxDepth = DEFAULT_HUB_DEPTH): FuzzTarget<HubWireInput> {
  return {
    name: 'hub-wire',
    generate(rng: Rng): HubWireInput {
      let text = hubMessage(rng, maxDepth);
      if (rng.chance(0.3)) text = mutateBytes(rng, Buffer.from(text, 'utf8'), 3).toString('utf8');
      return { text };
    },
    check({ text }: HubWireInput): void {
      let message: ClientMessage;
      try {
        message = parseClientMessage(text);
      } catch (error) {
        if (!(error instanceof WireError)) fail(`parseClientMessage threw ${error instanceof Error ? error.stack : String(error)}`);
        if (!PARSE_ERRORS.has(error.code)) fail(`WireError code ${error.code}`);
        if (!isId(error.ref)) fail(`WireError ref ${String(error.ref)}`);
        if (typeof error.message !== 'string' || error.message.length > 1000) fail('WireError message too long to send back');
        return;
      }
      checkMessage(message);
      if (Object.getOwnPropertyNames(Object.prototype).length !== PROTOTYPE_KEYS) fail('Object.prototype was changed');
    },
    describe(input: HubWireInput): unknown {
      return input;
    },
  };
}
