// The constants of switchboard.v1 (docs/protocol.md): the subprotocol name,
// close and error codes, reserved names and limits. Shared by the hub, the
// browser client and any third-party client.

import { codedError } from '../protocol/switchboard-error.js';

/** The WebSocket subprotocol both sides must negotiate (section 1). */
export const SUBPROTOCOL = 'switchboard.v1';

/** Error codes carried by `error` messages (section 10). Applications may add their own in answers to requests. */
export const ERROR_CODES = [
  'bad_json',
  'bad_message',
  'unknown_type',
  'hello_required',
  'unauthorized',
  'forbidden',
  'not_member',
  'rate_limited',
  'too_large',
  'too_many_rooms',
  'no_handler',
  'handler_error',
  'timeout',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Close codes of the protocol (section 11). */
export const HubCloseCode = {
  /** The hub stops (server shutting down). */
  GoingAway: 1001,
  /** Not sent by the hub (a binary frame gets `error` `bad_message`); the client library treats it as final. */
  Unsupported: 1003,
  /** Refused by middleware with a code other than `unauthorized`. */
  PolicyViolation: 1008,
  /** The replay of a join failed (RFC 6455 section 7.4.1): reconnect and resume. */
  InternalError: 1011,
  /** A room's ids restarted (a new epoch) while this connection was in it (IANA: Service Restart): reconnect and resume, which announces the reset. */
  ServiceRestart: 1012,
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

/** Close codes after which reconnecting is pointless (section 11, "reconnect? no"). */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  HubCloseCode.WrongProtocol,
  HubCloseCode.Unauthorized,
  HubCloseCode.PolicyViolation,
  HubCloseCode.Unsupported,
]);

/** Names the client library uses for its own events; application events may not use them (section 2). */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set(['connect', 'disconnect', 'reconnecting', 'error', 'gap', 'presence', 'joined', 'left', 'transport']);

/** Longest room or event name (section 2). */
export const MAX_NAME_LENGTH = 256;
/** Earlier connection ids a `resume` may name (section 5). */
export const MAX_PREVIOUS_IDS = 16;
/** Default deepest nesting of a message, the message object counting as 1 (section 2, server option `maxJsonDepth`). */
export const DEFAULT_MAX_JSON_DEPTH = 64;
/** Default rooms per connection (section 4, server option `maxRoomsPerConnection`). */
export const DEFAULT_MAX_ROOMS = 1000;
/** Default largest client message in bytes (section 2, server option `maxMessageSize`). */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;
/** Default heartbeat a hub announces in `welcome.hb` (section 8). */
export const DEFAULT_HEARTBEAT = { interval: 25_000, timeout: 10_000 } as const;
/** Default time a requester waits for an answer (section 3, "Requests"). */
export const DEFAULT_REQUEST_TIMEOUT = 10_000;

/** A room or event name: a string of 1 to 256 characters (section 2). */
export function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_NAME_LENGTH;
}

/** Longest epoch (section 5): servers draw short random ones; the bound keeps what a client echoes small. */
export const MAX_EPOCH_LENGTH = 64;

/** An epoch, the name of one run of a room's id sequence: a string of 1 to 64 characters (section 5). */
export function isEpoch(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_EPOCH_LENGTH;
}

/** Most node URLs a `welcome` carries that a client takes (section 1): more are ignored. */
export const MAX_NODE_URLS = 16;
/** Longest node URL a client takes (section 1). */
export const MAX_NODE_URL_LENGTH = 2048;

/** A node URL of `welcome.nodes` (section 1): a ws: or wss: URL of at most 2,048 characters. */
export function isNodeUrl(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_NODE_URL_LENGTH && /^wss?:\/\/[^/?#\s]/i.test(value);
}

/** A message id: an integer in 0 .. 2^53 - 1 (section 2). */
export function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Throws a TypeError unless `event` may be sent as an application event (a name, not reserved). */
export function checkEventName(event: string): void {
  if (!isName(event)) throw codedError(new TypeError(`Invalid event name ${JSON.stringify(event)}: an event name is a string of 1-256 characters`), 'WS_ERR_INVALID_ARGUMENT');
  if (RESERVED_EVENTS.has(event)) throw codedError(new TypeError(`Invalid event name "${event}": it is reserved`), 'WS_ERR_INVALID_ARGUMENT');
}
