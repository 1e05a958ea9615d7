// Parsing and validation of switchboard.v1 messages, both directions
// (docs/protocol.md, sections 2 and 3). A message that breaks the protocol
// throws a WireError carrying the code to answer it with.
import { decodeBase64, isBase64 } from './base64.js';
import { WireError } from './errors.js';
import { jsonDepthWithin } from './json-depth.js';
import type { ClientMessage, Member, Sender, ServerMessage } from './messages.js';
import { DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_ROOMS, MAX_EPOCH_LENGTH, MAX_NODE_URLS, MAX_PREVIOUS_IDS, isEpoch, isId, isName, isNodeUrl } from './protocol.js';

export interface ParseOptions {
  /** Deepest nesting accepted, the message object counting as 1 (default 64). */
  maxJsonDepth?: number;
  /** Most rooms a `resume` may name (default 1,000). */
  maxResumeRooms?: number;
  /** Turns the base64 text of `bin: 1` data into bytes (default: a Uint8Array; the hub passes Buffer's decoder). */
  decodeBinary?: (base64: string) => unknown;
}
/** @deprecated The former name of ParseOptions. */
export type ParseLimits = ParseOptions;

type Fields = Record<string, unknown>;

const EPOCH_RULE = `"epoch" must be a string of 1-${MAX_EPOCH_LENGTH} characters`;

/** The depth check, JSON.parse, and "an object with fields": what every message needs. */
function parseObject(text: string, maxDepth: number): Fields {
  // Checked before parsing: JSON.parse accepts any depth, but what is stored must serialise again.
  if (!jsonDepthWithin(text, maxDepth)) throw new WireError('bad_message', `Messages may nest at most ${maxDepth} levels deep`);
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new WireError('bad_json', 'The message is not valid JSON');
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new WireError('bad_message', 'A message must be a JSON object');
  return m as Fields;
}

/** `data`, decoded: binary payloads travel base64-encoded with `bin: 1` beside them (section 2, "Binary data"). */
function dataOf(m: Fields, ref: number | undefined, decode: (base64: string) => unknown): unknown {
  if (m.bin === undefined || m.bin === 0) return m.data;
  if (m.bin !== 1 || typeof m.data !== 'string' || !isBase64(m.data)) {
    throw new WireError('bad_message', '"bin": 1 needs "data" to be a base64 string', ref);
  }
  return decode(m.data);
}

function unknownType(o: Fields, ref: number | undefined): WireError {
  return new WireError('unknown_type', typeof o.t === 'string' ? `Unknown message type ${JSON.stringify(o.t.slice(0, 40))}` : 'A message needs a string "t"', ref);
}

/** Parses and validates one text frame a client sent; throws WireError with the code to answer. */
export function parseClientMessage(text: string, options: ParseOptions = {}): ClientMessage {
  const o = parseObject(text, options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH);
  if (o.id !== undefined && !isId(o.id)) throw new WireError('bad_message', '"id" must be a non-negative integer');
  const ref = o.id as number | undefined;
  const decode = options.decodeBinary ?? decodeBase64;
  const need = (cond: boolean, what: string): void => {
    if (!cond) throw new WireError('bad_message', `${String(o.t)}: ${what}`, ref);
  };
  switch (o.t) {
    case 'hello':
      return { t: 'hello', auth: o.auth };
    case 'join':
      need(isName(o.room), '"room" must be a string of 1-256 characters');
      need(o.since === undefined || isId(o.since), '"since" must be a non-negative integer');
      need(o.epoch === undefined || isEpoch(o.epoch), EPOCH_RULE);
      return { t: 'join', id: ref, room: o.room as string, since: o.since as number | undefined, ...(o.epoch === undefined ? {} : { epoch: o.epoch as string }) };
    case 'leave':
      need(isName(o.room), '"room" must be a string of 1-256 characters');
      return { t: 'leave', id: ref, room: o.room as string };
    case 'resume': {
      need(typeof o.rooms === 'object' && o.rooms !== null && !Array.isArray(o.rooms), '"rooms" must be an object of room → last seen id');
      const rooms = o.rooms as Fields;
      const maxRooms = options.maxResumeRooms ?? DEFAULT_MAX_ROOMS;
      let count = 0;
      for (const _ in rooms) need(++count <= maxRooms, `"rooms" may name at most ${maxRooms} rooms`);
      for (const [room, last] of Object.entries(rooms)) {
        need(isName(room) && isId(last), `"rooms": ${JSON.stringify(room).slice(0, 40)} needs a non-negative integer id`);
      }
      const epochs = o.epochs as Fields | undefined;
      need(epochs === undefined || (typeof epochs === 'object' && epochs !== null && !Array.isArray(epochs)), '"epochs" must be an object of room → epoch');
      if (epochs !== undefined) {
        count = 0;
        for (const room in epochs) {
          need(++count <= maxRooms, `"epochs" may name at most ${maxRooms} rooms`);
          need(isEpoch(epochs[room]), `"epochs": ${JSON.stringify(room).slice(0, 40)}: ${EPOCH_RULE}`);
        }
      }
      need(
        o.was === undefined || (Array.isArray(o.was) && o.was.length <= MAX_PREVIOUS_IDS && o.was.every((id) => isName(id))),
        `"was" must be a list of at most ${MAX_PREVIOUS_IDS} earlier connection ids`,
      );
      return {
        t: 'resume',
        id: ref,
        rooms: rooms as Record<string, number>,
        ...(epochs === undefined ? {} : { epochs: epochs as Record<string, string> }),
        ...(o.was === undefined ? {} : { was: o.was as string[] }),
      };
    }
    case 'pub':
      need(isName(o.room), '"room" must be a string of 1-256 characters');
      need(isName(o.ev), '"ev" must be a string of 1-256 characters');
      need(o.volatile === undefined || typeof o.volatile === 'boolean', '"volatile" must be a boolean');
      return { t: 'pub', id: ref, room: o.room as string, ev: o.ev as string, data: dataOf(o, ref, decode), volatile: o.volatile as boolean | undefined };
    case 'dm': {
      const to = o.to as Fields | undefined;
      need(
        typeof to === 'object' && to !== null && ((isName(to.user) && to.client === undefined) || (isName(to.client) && to.user === undefined)),
        '"to" must be {"user": id} or {"client": id}',
      );
      need(isName(o.ev), '"ev" must be a string of 1-256 characters');
      const target = to!.user !== undefined ? { user: to!.user as string } : { client: to!.client as string };
      return { t: 'dm', id: ref, to: target, ev: o.ev as string, data: dataOf(o, ref, decode) };
    }
    case 'emit':
      need(isName(o.ev), '"ev" must be a string of 1-256 characters');
      return { t: 'emit', ev: o.ev as string, data: dataOf(o, ref, decode) };
    case 'req':
      need(ref !== undefined, '"id" is required');
      need(isName(o.ev), '"ev" must be a string of 1-256 characters');
      return { t: 'req', id: ref!, ev: o.ev as string, data: dataOf(o, ref, decode) };
    case 'ack':
      need(ref !== undefined, '"id" is required');
      return { t: 'ack', id: ref!, data: dataOf(o, ref, decode) };
    case 'error':
      need(typeof o.code === 'string', '"code" must be a string');
      return { t: 'error', id: ref, code: o.code as string, message: typeof o.message === 'string' ? o.message : undefined };
    case 'ping':
      return { t: 'ping', ts: o.ts };
    default:
      throw unknownType(o, ref);
  }
}

function isSender(v: unknown): v is Sender {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Fields;
  return typeof s.id === 'string' && (s.user === null || typeof s.user === 'string');
}

/** A member, with only the fields of section 7. */
function memberOf(v: unknown): Member | null {
  if (!isSender(v)) return null;
  const fields = v as unknown as Fields;
  const member: Member = { id: v.id, user: v.user };
  if (fields.meta !== undefined) member.meta = fields.meta;
  return member;
}

function membersOf(v: unknown): Member[] | null {
  if (!Array.isArray(v)) return null;
  const members: Member[] = [];
  for (const item of v) {
    const member = memberOf(item);
    if (member === null) return null;
    members.push(member);
  }
  return members;
}

/**
 * Parses and validates one text frame a server sent (what a client needs to
 * trust the fields it reads). Unknown fields are left out; an unknown type
 * throws `unknown_type`, which a client ignores (a later minor version may
 * add types). Binary `data` becomes a Uint8Array.
 */
export function parseServerMessage(text: string, options: Pick<ParseOptions, 'maxJsonDepth' | 'decodeBinary'> = {}): ServerMessage {
  const o = parseObject(text, options.maxJsonDepth ?? Infinity);
  if (o.id !== undefined && o.t !== 'welcome' && !isId(o.id)) throw new WireError('bad_message', '"id" must be a non-negative integer');
  const ref = o.t === 'welcome' ? undefined : (o.id as number | undefined);
  const decode = options.decodeBinary ?? decodeBase64;
  const need = (cond: boolean, what: string): void => {
    if (!cond) throw new WireError('bad_message', `${String(o.t)}: ${what}`, ref);
  };
  const room = (): string => {
    need(isName(o.room), '"room" must be a string of 1-256 characters');
    return o.room as string;
  };
  const ev = (): string => {
    need(isName(o.ev), '"ev" must be a string of 1-256 characters');
    return o.ev as string;
  };
  const from = (): { from?: Sender } => {
    if (o.from === undefined) return {};
    need(isSender(o.from), '"from" must be {"id": string, "user": string or null}');
    const s = o.from as Sender;
    return { from: { id: s.id, user: s.user } };
  };
  switch (o.t) {
    case 'welcome': {
      need(typeof o.id === 'string' && o.id !== '', '"id" must be the connection id');
      need(o.user === undefined || o.user === null || typeof o.user === 'string', '"user" must be a string or null');
      need(o.hb === undefined || (typeof o.hb === 'object' && o.hb !== null), '"hb" must be an object');
      const message: ServerMessage = { t: 'welcome', id: o.id as string, user: (o.user as string | null | undefined) ?? null };
      if (o.hb !== undefined) {
        const hb = o.hb as Fields;
        message.hb = {};
        if (typeof hb.interval === 'number') message.hb.interval = hb.interval;
        if (typeof hb.timeout === 'number') message.hb.timeout = hb.timeout;
      }
      if (o.nodes !== undefined) {
        need(Array.isArray(o.nodes), '"nodes" must be a list of URLs');
        // Entries a later version might add (other schemes) are skipped, not fatal; the count is bounded.
        message.nodes = [];
        for (const url of o.nodes as unknown[]) {
          if (message.nodes.length === MAX_NODE_URLS) break;
          if (isNodeUrl(url)) message.nodes.push(url);
        }
      }
      return message;
    }
    case 'joined': {
      const name = room();
      need(isId(o.head), '"head" must be a non-negative integer');
      const members = o.members === undefined ? undefined : membersOf(o.members);
      need(members !== null, '"members" must be a list of {"id", "user"}');
      need(o.epoch === undefined || isEpoch(o.epoch), EPOCH_RULE);
      return {
        t: 'joined',
        room: name,
        head: o.head as number,
        ...(o.epoch === undefined ? {} : { epoch: o.epoch as string }),
        ...(members ? { members } : {}),
        ...(o.more === true ? { more: true } : {}),
      };
    }
    case 'left':
      return { t: 'left', room: room() };
    case 'msg': {
      const name = room();
      const event = ev();
      need(o.mid === undefined || isId(o.mid), '"mid" must be a non-negative integer');
      return { t: 'msg', room: name, ev: event, data: dataOf(o, ref, decode), ...(o.mid === undefined ? {} : { mid: o.mid as number }), ...from() };
    }
    case 'emit': {
      const event = ev();
      return { t: 'emit', ev: event, data: dataOf(o, ref, decode), ...from() };
    }
    case 'req':
      need(ref !== undefined, '"id" is required');
      return { t: 'req', id: ref!, ev: ev(), data: dataOf(o, ref, decode) };
    case 'ack':
      need(ref !== undefined, '"id" is required');
      return { t: 'ack', id: ref!, data: dataOf(o, ref, decode) };
    case 'error':
      need(typeof o.code === 'string', '"code" must be a string');
      need(o.message === undefined || typeof o.message === 'string', '"message" must be a string');
      need(o.retryAfter === undefined || (typeof o.retryAfter === 'number' && o.retryAfter >= 0), '"retryAfter" must be a non-negative number');
      return {
        t: 'error',
        code: o.code as string,
        message: (o.message as string | undefined) ?? (o.code as string),
        ...(ref === undefined ? {} : { id: ref }),
        ...(o.retryAfter === undefined ? {} : { retryAfter: o.retryAfter as number }),
      };
    case 'presence': {
      const name = room();
      const join = o.join === undefined ? undefined : memberOf(o.join);
      const leave = o.leave === undefined ? undefined : memberOf(o.leave);
      need(join !== null && leave !== null && (join === undefined) !== (leave === undefined), 'needs one of "join" or "leave", a member');
      return join ? { t: 'presence', room: name, join } : { t: 'presence', room: name, leave: leave! };
    }
    case 'gap': {
      const name = room();
      need(isId(o.from) && isId(o.to), '"from" and "to" must be non-negative integers');
      need(o.epoch === undefined || isEpoch(o.epoch), EPOCH_RULE);
      return {
        t: 'gap',
        room: name,
        from: o.from as number,
        to: o.to as number,
        ...(o.reset === true ? { reset: true } : {}),
        ...(o.epoch === undefined ? {} : { epoch: o.epoch as string }),
      };
    }
    case 'pong':
      return { t: 'pong', ts: o.ts };
    default:
      throw unknownType(o, ref);
  }
}
