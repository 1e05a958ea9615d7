// The switchboard.v1 wire protocol: message shapes, validation and encoding.
// docs/protocol.md is the specification; this file is its server-side code.
import { Buffer } from 'node:buffer';
import { jsonDepthWithin } from './json-depth.js';

/** The WebSocket subprotocol both sides must negotiate. */
export const SUBPROTOCOL = 'switchboard.v1';

/** Error codes carried by `error` messages (see docs/protocol.md, "Errors"). */
export type ErrorCode =
  | 'bad_json'
  | 'bad_message'
  | 'unknown_type'
  | 'hello_required'
  | 'unauthorized'
  | 'forbidden'
  | 'not_member'
  | 'rate_limited'
  | 'too_large'
  | 'too_many_rooms'
  | 'no_handler'
  | 'handler_error'
  | 'timeout'
  | 'internal';

/** Close codes the hub uses (docs/protocol.md, "Closing"). */
export const HubCloseCode = {
  /** The hub stops (server shutting down). */
  GoingAway: 1001,
  /** Not sent by the hub (a binary frame gets `error` `bad_message`); the client library treats it as final. */
  Unsupported: 1003,
  /** The client's send buffer passed `disconnectBufferedAmount` (slow consumer). Reconnect and resume. */
  TryAgainLater: 1013,
  /** Authentication failed (middleware refused). Do not reconnect with the same credentials. */
  Unauthorized: 4401,
  /** Subprotocol switchboard.v1 not negotiated. */
  WrongProtocol: 4400,
  /** No `hello` within `helloTimeout`, or no message at all within the heartbeat timeout. */
  Timeout: 4408,
  /** Rate limit exceeded with `rateLimit.onLimit: 'disconnect'`. */
  RateLimited: 4429,
} as const;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A message a client sent, validated. */
export type ClientMessage =
  | { t: 'hello'; auth?: unknown }
  | { t: 'join'; id?: number; room: string; since?: number }
  | { t: 'leave'; id?: number; room: string }
  | { t: 'resume'; id?: number; rooms: Record<string, number>; was?: string[] }
  | { t: 'pub'; id?: number; room: string; ev: string; data: unknown; volatile?: boolean }
  | { t: 'dm'; id?: number; to: { user: string } | { client: string }; ev: string; data: unknown }
  | { t: 'emit'; ev: string; data: unknown }
  | { t: 'req'; id: number; ev: string; data: unknown }
  | { t: 'ack'; id: number; data: unknown }
  | { t: 'error'; id?: number; code: string; message?: string }
  | { t: 'ping'; ts?: unknown };

export class WireError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The id of the offending message, when it had a valid one. */
    readonly ref?: number,
  ) {
    super(message);
  }
}

export const MAX_NAME_LENGTH = 256;

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME_LENGTH;
}

/**
 * Decodes `data`: binary payloads travel base64-encoded with `bin: 1`
 * beside them (docs/protocol.md, "Binary data").
 */
function decodeData(m: Record<string, unknown>, ref: number | undefined): unknown {
  if (m.bin === undefined || m.bin === 0) return m.data;
  if (m.bin !== 1 || typeof m.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(m.data) || m.data.length % 4 !== 0) {
    throw new WireError('bad_message', '"bin": 1 needs "data" to be a base64 string', ref);
  }
  return Buffer.from(m.data, 'base64');
}

/** Earlier connection ids a `resume` may name (its replay leaves out what was kept from them). */
export const MAX_PREVIOUS_IDS = 16;

export interface ParseLimits {
  /** Deepest nesting accepted, the message object counting as 1 (default 64). */
  maxJsonDepth?: number;
  /** Most rooms a `resume` may name (default 1,000). */
  maxResumeRooms?: number;
}

/** Parses and validates one text frame; throws WireError with the code to answer. */
export function parseClientMessage(text: string, limits: ParseLimits = {}): ClientMessage {
  const maxDepth = limits.maxJsonDepth ?? 64;
  // Checked before parsing: JSON.parse accepts any depth, but what is stored must serialise again.
  if (!jsonDepthWithin(text, maxDepth)) throw new WireError('bad_message', `Messages may nest at most ${maxDepth} levels deep`);
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new WireError('bad_json', 'The message is not valid JSON');
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new WireError('bad_message', 'A message must be a JSON object');
  const o = m as Record<string, unknown>;
  if (o.id !== undefined && !isId(o.id)) throw new WireError('bad_message', '"id" must be a non-negative integer');
  const ref = o.id as number | undefined;
  const need = (cond: boolean, what: string): void => {
    if (!cond) throw new WireError('bad_message', `${String(o.t)}: ${what}`, ref);
  };
  switch (o.t) {
    case 'hello':
      return { t: 'hello', auth: o.auth };
    case 'join':
      need(isName(o.room), '"room" must be a string of 1-256 characters');
      need(o.since === undefined || isId(o.since), '"since" must be a non-negative integer');
      return { t: 'join', id: ref, room: o.room as string, since: o.since as number | undefined };
    case 'leave':
      need(isName(o.room), '"room" must be a string of 1-256 characters');
      return { t: 'leave', id: ref, room: o.room as string };
    case 'resume': {
      need(typeof o.rooms === 'object' && o.rooms !== null && !Array.isArray(o.rooms), '"rooms" must be an object of room → last seen id');
      const rooms = o.rooms as Record<string, unknown>;
      const maxRooms = limits.maxResumeRooms ?? 1000;
      let count = 0;
      for (const _ in rooms) need(++count <= maxRooms, `"rooms" may name at most ${maxRooms} rooms`);
      for (const [room, last] of Object.entries(rooms)) {
        need(isName(room) && isId(last), `"rooms": ${JSON.stringify(room).slice(0, 40)} needs a non-negative integer id`);
      }
      need(
        o.was === undefined || (Array.isArray(o.was) && o.was.length <= MAX_PREVIOUS_IDS && o.was.every((id) => isName(id))),
        `"was" must be a list of at most ${MAX_PREVIOUS_IDS} earlier connection ids`,
      );
      return { t: 'resume', id: ref, rooms: rooms as Record<string, number>, ...(o.was === undefined ? {} : { was: o.was as string[] }) };
    }
    case 'pub':
      need(isName(o.room), '"room" must be a string of 1-256 characters');
      need(isName(o.ev), '"ev" must be a string of 1-256 characters');
      need(o.volatile === undefined || typeof o.volatile === 'boolean', '"volatile" must be a boolean');
      return { t: 'pub', id: ref, room: o.room as string, ev: o.ev as string, data: decodeData(o, ref), volatile: o.volatile as boolean | undefined };
    case 'dm': {
      const to = o.to as Record<string, unknown> | undefined;
      need(
        typeof to === 'object' && to !== null && ((isName(to.user) && to.client === undefined) || (isName(to.client) && to.user === undefined)),
        '"to" must be {"user": id} or {"client": id}',
      );
      need(isName(o.ev), '"ev" must be a string of 1-256 characters');
      const target = to!.user !== undefined ? { user: to!.user as string } : { client: to!.client as string };
      return { t: 'dm', id: ref, to: target, ev: o.ev as string, data: decodeData(o, ref) };
    }
    case 'emit':
      need(isName(o.ev), '"ev" must be a string of 1-256 characters');
      return { t: 'emit', ev: o.ev as string, data: decodeData(o, ref) };
    case 'req':
      need(ref !== undefined, '"id" is required');
      need(isName(o.ev), '"ev" must be a string of 1-256 characters');
      return { t: 'req', id: ref!, ev: o.ev as string, data: decodeData(o, ref) };
    case 'ack':
      need(ref !== undefined, '"id" is required');
      return { t: 'ack', id: ref!, data: decodeData(o, ref) };
    case 'error':
      need(typeof o.code === 'string', '"code" must be a string');
      return { t: 'error', id: ref, code: o.code as string, message: typeof o.message === 'string' ? o.message : undefined };
    case 'ping':
      return { t: 'ping', ts: o.ts };
    default:
      throw new WireError('unknown_type', typeof o.t === 'string' ? `Unknown message type ${JSON.stringify(o.t.slice(0, 40))}` : 'A message needs a string "t"', ref);
  }
}

export function isBinary(data: unknown): data is ArrayBuffer | ArrayBufferView {
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data);
}

function base64Of(data: ArrayBuffer | ArrayBufferView): string {
  const bytes = data instanceof ArrayBuffer ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return bytes.toString('base64');
}

/**
 * Serialises the `data` of a room message once, before it is published
 * (RoomMessage.encoded): its JSON text, or the JSON string of its base64
 * when it is binary; undefined when there is no data to send. Throws what
 * JSON.stringify throws (a cycle, a BigInt, nesting too deep).
 */
export function encodeData(data: unknown): string | undefined {
  return isBinary(data) ? `"${base64Of(data)}"` : (JSON.stringify(data) as string | undefined);
}

/** The text of a `msg` frame, from a message whose `data` was serialised by `encodeData`. */
export function encodeRoomMessage(message: { room: string; mid: number; ev: string; data: unknown; encoded: string; from?: unknown }): string {
  let text = `{"t":"msg","room":${JSON.stringify(message.room)},"ev":${JSON.stringify(message.ev)},"data":${message.encoded}`;
  if (isBinary(message.data)) text += ',"bin":1';
  if (message.mid !== 0) text += `,"mid":${message.mid}`;
  if (message.from !== undefined) text += `,"from":${JSON.stringify(message.from)}`;
  return `${text}}`;
}

/**
 * Serialises a message the server sends. A top-level binary `data`
 * (Buffer, typed array, ArrayBuffer) is sent base64-encoded with `bin: 1`.
 */
export function encodeMessage(message: Record<string, unknown>): string {
  const data = message.data;
  if (isBinary(data)) return JSON.stringify({ ...message, data: base64Of(data), bin: 1 });
  return JSON.stringify(message);
}

export function errorMessage(code: ErrorCode | string, message: string, id?: number): Record<string, unknown> {
  return id === undefined ? { t: 'error', code, message } : { t: 'error', id, code, message };
}
