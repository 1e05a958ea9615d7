// Generators of switchboard.v1 client messages for the hub fuzz targets:
// valid messages with wrong types, odd room names, __proto__ keys, huge
// numbers and deep nesting mixed in.
import { token, utf8Text } from './generators.js';
import type { Rng } from './rng.js';

const ROOM_NAMES = ['lobby', 'a', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'é', '😀', '\u0000', ' ', 'x'.repeat(256), 'x'.repeat(257), '', 'room/1'];
const MESSAGE_TYPES = ['hello', 'join', 'leave', 'resume', 'pub', 'dm', 'emit', 'req', 'ack', 'error', 'ping', 'welcome', 'PUB', '', '__proto__'];

/** A JSON value of random shape; `depth` levels of nesting at most. */
export function jsonValue(rng: Rng, depth: number): unknown {
  const r = rng.below(depth > 0 ? 10 : 6);
  switch (r) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -0, 1, -1, 0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 5e-324, rng.next(), -rng.next()]);
    case 3:
      return rng.pick(ROOM_NAMES);
    case 4:
      return utf8Text(rng, 40).toString('utf8');
    case 5:
      return rng.pick(['', 'AAAA', 'AA==', 'A===', '====', 'not base64!', '\ud800', '\udfff\ud800']);
    case 6:
    case 7: {
      const n = rng.size(6);
      return Array.from({ length: n }, () => jsonValue(rng, depth - 1));
    }
    default: {
      const o: Record<string, unknown> = {};
      for (let n = rng.size(6); n > 0; n--) {
        const keyName = rng.chance(0.3) ? rng.pick(['__proto__', 'constructor', 'prototype', 't', 'id', 'room', 'data', 'bin']) : token(rng, 6);
        Object.defineProperty(o, keyName, { value: jsonValue(rng, depth - 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

/** `depth` nested arrays or objects around a small value, as text. */
export function deeplyNested(rng: Rng, depth: number): string {
  const useArray = rng.chance(0.5);
  return useArray ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function field(rng: Rng, valid: () => unknown): unknown {
  return rng.chance(0.85) ? valid() : jsonValue(rng, 2);
}

/**
 * The text of a hub client message: a valid message of a random type with
 * some fields of the wrong type, extra keys (`__proto__` among them),
 * huge numbers, odd room names and, with `maxDepth` above 0, `data` nested
 * up to that deep.
 */
export function hubMessage(rng: Rng, maxDepth: number): string {
  const t = rng.chance(0.9) ? rng.pick(MESSAGE_TYPES.slice(0, 11)) : rng.pick(MESSAGE_TYPES);
  const name = (): string => (rng.chance(0.8) ? token(rng, 10) : rng.pick(ROOM_NAMES));
  const id = (): unknown => (rng.chance(0.8) ? rng.below(1000) : rng.pick([-1, 1.5, 2 ** 53, '1', null, 1e308]));
  const m: Record<string, unknown> = { t };
  if (rng.chance(0.6)) m.id = id();
  switch (t) {
    case 'hello':
      if (rng.chance(0.5)) m.auth = jsonValue(rng, 3);
      break;
    case 'join':
    case 'leave':
      m.room = field(rng, name);
      if (rng.chance(0.3)) m.since = field(rng, () => rng.below(100));
      break;
    case 'resume': {
      const rooms: Record<string, unknown> = {};
      for (let n = rng.size(rng.chance(0.05) ? 2000 : 8); n > 0; n--) {
        Object.defineProperty(rooms, name(), { value: field(rng, () => rng.below(100)), enumerable: true, writable: true, configurable: true });
      }
      m.rooms = field(rng, () => rooms);
      if (rng.chance(0.3)) m.was = field(rng, () => Array.from({ length: rng.size(20) }, name));
      break;
    }
    case 'pub':
    case 'dm':
    case 'emit':
    case 'req':
    case 'ack':
      if (t === 'pub') m.room = field(rng, name);
      if (t === 'dm') m.to = field(rng, () => (rng.chance(0.5) ? { user: name() } : { client: name() }));
      if (t !== 'ack') m.ev = field(rng, name);
      if (rng.chance(0.2)) {
        m.bin = field(rng, () => 1);
        m.data = field(rng, () => rng.bytes(rng.size(64)).toString('base64'));
      } else m.data = jsonValue(rng, 4);
      if (t === 'pub' && rng.chance(0.2)) m.volatile = field(rng, () => rng.chance(0.5));
      break;
    case 'error':
      m.code = field(rng, name);
      if (rng.chance(0.5)) m.message = field(rng, name);
      break;
    default:
      if (rng.chance(0.5)) m.ts = jsonValue(rng, 2);
  }
  if (rng.chance(0.1)) Object.defineProperty(m, '__proto__', { value: jsonValue(rng, 2), enumerable: true, writable: true, configurable: true });
  let text = JSON.stringify(m);
  if (maxDepth > 0 && rng.chance(0.02)) {
    const nested = deeplyNested(rng, rng.int(1, maxDepth));
    text = `{"t":"pub","room":"lobby","ev":"e","data":${nested}}`;
  }
  if (rng.chance(0.05)) text = rng.pick(['', 'null', '[]', '"x"', '1', '{', '{"t":"pub"', '\ufeff{"t":"ping"}', '{"t":"ping",}', text + text, ' '.repeat(rng.size(100)) + text]);
  return text;
}
