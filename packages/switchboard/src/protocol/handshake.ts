import { Buffer } from 'node:buffer';
import * as crypto from 'node:crypto';
import { HANDSHAKE_GUID } from './constants.js';
import { parseExtensions } from './extensions.js';
import { PERMESSAGE_DEFLATE, acceptDeflateAnswer, type DeflateNegotiationErrorCode, type DeflateParams, type PerMessageDeflateOptions } from './permessage-deflate.js';
import { SwitchboardError } from './switchboard-error.js';

/** Stable codes for refused opening handshakes. */
export type HandshakeErrorCode =
  | 'WS_ERR_INVALID_METHOD'
  | 'WS_ERR_INVALID_HTTP_VERSION'
  | 'WS_ERR_MISSING_HOST'
  | 'WS_ERR_INVALID_UPGRADE_HEADER'
  | 'WS_ERR_INVALID_CONNECTION_HEADER'
  | 'WS_ERR_INVALID_KEY'
  | 'WS_ERR_INVALID_VERSION'
  | 'WS_ERR_INVALID_PROTOCOL_HEADER'
  | 'WS_ERR_INVALID_EXTENSION_HEADER'
  | 'WS_ERR_INVALID_PATH'
  // A client refusing the server's answer (checkUpgradeResponse):
  | 'WS_ERR_UNEXPECTED_RESPONSE'
  | 'WS_ERR_INVALID_ACCEPT'
  | 'WS_ERR_INVALID_SUBPROTOCOL'
  // The answer's permessage-deflate parameters refused, as a server refuses a bad offer.
  | DeflateNegotiationErrorCode;

/**
 * A refused opening handshake: a precise reason, the HTTP status, and any
 * headers an answer needs. A server refusing a request answers with `status`;
 * a client refusing a server's answer finds there the status it got.
 */
export class HandshakeError extends SwitchboardError {
  declare readonly code: HandshakeErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(code: HandshakeErrorCode, status: number, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.name = 'HandshakeError';
    this.status = status;
    this.headers = headers;
  }
}

/** The parts of an HTTP request the handshake looks at (Node's `IncomingMessage` has this shape). */
export interface UpgradeRequest {
  method?: string | undefined;
  httpVersionMajor?: number;
  httpVersionMinor?: number;
  headers: Record<string, string | string[] | undefined>;
}

export interface ValidatedUpgrade {
  key: string;
  version: number;
  /** Subprotocols offered, in the client's order of preference. */
  protocols: Set<string>;
  /** The raw Sec-WebSocket-Extensions offer, if any. */
  extensions: string | undefined;
}

const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/;
const TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function single(headers: UpgradeRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Whether a comma-separated header value contains `token` (case-insensitive). */
export function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  // The usual header holds just the token, or does not mention it at all.
  const lower = value.toLowerCase();
  if (lower === token) return true;
  if (!lower.includes(token)) return false;
  for (const part of value.split(',')) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

/**
 * Parses Sec-WebSocket-Protocol: comma-separated tokens, each offered once.
 * Throws a HandshakeError for anything else.
 */
export function parseProtocolList(value: string): Set<string> {
  const protocols = new Set<string>();
  for (const part of value.split(',')) {
    const protocol = part.trim();
    if (!TOKEN_PATTERN.test(protocol)) {
      throw new HandshakeError('WS_ERR_INVALID_PROTOCOL_HEADER', 400, 'Invalid Sec-WebSocket-Protocol header');
    }
    if (protocols.has(protocol)) {
      throw new HandshakeError('WS_ERR_INVALID_PROTOCOL_HEADER', 400, 'Invalid Sec-WebSocket-Protocol header');
    }
    protocols.add(protocol);
  }
  return protocols;
}

/**
 * Checks a client's opening handshake (RFC 6455 section 4.2.1). Returns what
 * the server needs to answer it, or throws a HandshakeError saying which
 * rule the request broke (its `code`; the message is ws's text where ws has
 * the check) and with which HTTP status to refuse it.
 */
export function validateUpgradeRequest(request: UpgradeRequest): ValidatedUpgrade {
  const { headers } = request;
  if (request.method !== undefined && request.method !== 'GET') {
    throw new HandshakeError('WS_ERR_INVALID_METHOD', 405, 'Invalid HTTP method', { Allow: 'GET' });
  }
  const major = request.httpVersionMajor ?? 1;
  const minor = request.httpVersionMinor ?? 1;
  if (major < 1 || (major === 1 && minor < 1)) {
    throw new HandshakeError('WS_ERR_INVALID_HTTP_VERSION', 400, `Invalid HTTP version ${major}.${minor}: the handshake needs HTTP/1.1 or later`);
  }
  if (!single(headers, 'host')) {
    throw new HandshakeError('WS_ERR_MISSING_HOST', 400, 'Missing Host header');
  }
  const upgrade = single(headers, 'upgrade');
  if (upgrade === undefined || !hasToken(upgrade, 'websocket')) {
    throw new HandshakeError('WS_ERR_INVALID_UPGRADE_HEADER', 400, 'Invalid Upgrade header');
  }
  if (!hasToken(single(headers, 'connection'), 'upgrade')) {
    throw new HandshakeError('WS_ERR_INVALID_CONNECTION_HEADER', 400, 'Invalid Connection header');
  }
  const key = single(headers, 'sec-websocket-key');
  if (key === undefined) {
    throw new HandshakeError('WS_ERR_INVALID_KEY', 400, 'Missing or invalid Sec-WebSocket-Key header');
  }
  if (!KEY_PATTERN.test(key.trim())) {
    throw new HandshakeError('WS_ERR_INVALID_KEY', 400, 'Missing or invalid Sec-WebSocket-Key header');
  }
  const versionHeader = single(headers, 'sec-websocket-version');
  if (versionHeader === undefined) {
    throw new HandshakeError('WS_ERR_INVALID_VERSION', 426, 'Missing or invalid Sec-WebSocket-Version header', { 'Sec-WebSocket-Version': '13' });
  }
  // Compare the token itself: Number() would also turn "0x0d", "13.0", "+13" or "1.3e1" into 13.
  const version = versionHeader.trim() === '13' ? 13 : NaN;
  if (version !== 13) {
    throw new HandshakeError('WS_ERR_INVALID_VERSION', 426, 'Missing or invalid Sec-WebSocket-Version header', {
      'Sec-WebSocket-Version': '13',
    });
  }
  const protocolHeader = single(headers, 'sec-websocket-protocol');
  const protocols = protocolHeader === undefined ? new Set<string>() : parseProtocolList(protocolHeader);
  return { key: key.trim(), version, protocols, extensions: single(headers, 'sec-websocket-extensions') };
}

/** The parts of the server's answer the client looks at (Node's `IncomingMessage` gives them as `statusCode` and `headers`). */
export interface UpgradeResponse {
  status: number;
  /** Header names in lower case, as Node gives them (a repeated field as a list or joined with ", "). */
  headers: Record<string, string | string[] | undefined>;
}

/** What the client sent in its opening handshake. */
export interface UpgradeOffer {
  /** The Sec-WebSocket-Key sent. */
  key: string;
  /** The subprotocols offered (none: empty). */
  protocols: readonly string[];
  /** The permessage-deflate offer made, or null when none was. */
  perMessageDeflate: PerMessageDeflateOptions | null;
}

export interface AcceptedUpgrade {
  /** The subprotocol the server chose ('' for none). */
  protocol: string;
  /** The Sec-WebSocket-Extensions answer ('' for none). */
  extensions: string;
  /** The permessage-deflate parameters agreed on, or null. */
  deflate: DeflateParams | null;
}

/**
 * Checks the server's answer to our opening handshake (RFC 6455 section
 * 4.1, the client's side, and RFC 7692 section 5.1 for permessage-deflate)
 * and returns what was agreed on; throws a HandshakeError naming the first
 * rule the answer broke.
 */
export function checkUpgradeResponse(response: UpgradeResponse, offer: UpgradeOffer): AcceptedUpgrade {
  const { headers, status } = response;
  if (status !== 101) throw new HandshakeError('WS_ERR_UNEXPECTED_RESPONSE', status, `Unexpected server response: ${status}`);
  const upgrade = headers.upgrade;
  if (typeof upgrade !== 'string' || upgrade.trim().toLowerCase() !== 'websocket') {
    throw new HandshakeError('WS_ERR_INVALID_UPGRADE_HEADER', status, 'Invalid Upgrade header');
  }
  if (!hasToken(typeof headers.connection === 'string' ? headers.connection : undefined, 'upgrade')) {
    throw new HandshakeError('WS_ERR_INVALID_CONNECTION_HEADER', status, 'Invalid Connection header');
  }
  const accept = headers['sec-websocket-accept'];
  if (accept === undefined) throw new HandshakeError('WS_ERR_INVALID_ACCEPT', status, 'Invalid Sec-WebSocket-Accept header');
  if (accept !== computeAcceptKey(offer.key)) throw new HandshakeError('WS_ERR_INVALID_ACCEPT', status, 'Invalid Sec-WebSocket-Accept header');
  const protocolHeader = headers['sec-websocket-protocol'];
  let protocol = '';
  if (protocolHeader !== undefined) {
    const chosen = String(protocolHeader).trim();
    if (offer.protocols.length === 0) throw new HandshakeError('WS_ERR_INVALID_SUBPROTOCOL', status, 'Server sent a subprotocol but none was requested');
    if (!offer.protocols.includes(chosen)) throw new HandshakeError('WS_ERR_INVALID_SUBPROTOCOL', status, 'Server sent an invalid subprotocol');
    // A repeated header (a list) names no one subprotocol and was refused above.
    protocol = chosen;
  }
  const deflate = acceptExtensionsAnswer(headers['sec-websocket-extensions'], offer.perMessageDeflate, status);
  return { protocol, extensions: deflate === null ? '' : String(headers['sec-websocket-extensions']), deflate };
}

/** Checks the extensions the server accepted against the offer; returns the deflate parameters, or null for none. */
function acceptExtensionsAnswer(header: string | string[] | undefined, offered: PerMessageDeflateOptions | null, status: number): DeflateParams | null {
  if (header === undefined) return null;
  if (offered === null) throw new HandshakeError('WS_ERR_INVALID_EXTENSION', status, 'Server sent a Sec-WebSocket-Extensions header but no extension was requested');
  const answers = parseExtensions(String(header));
  if (answers === null) throw new HandshakeError('WS_ERR_INVALID_EXTENSION', status, 'Invalid Sec-WebSocket-Extensions header');
  // ws's texts: an extension other than the one offered, or an answer to the offer that breaks RFC 7692.
  if (answers.length !== 1 || answers[0]!.name !== PERMESSAGE_DEFLATE) {
    throw new HandshakeError('WS_ERR_INVALID_EXTENSION', status, 'Server indicated an extension that was not requested');
  }
  try {
    return acceptDeflateAnswer(answers, offered);
  } catch {
    throw new HandshakeError('WS_ERR_INVALID_EXTENSION', status, 'Invalid Sec-WebSocket-Extensions header');
  }
}

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)). */
export function computeAcceptKey(key: string): string {
  return sha1Base64(key + HANDSHAKE_GUID);
}

// crypto.hash (Node 20.12+) hashes in one call, without a Hash object and its stream machinery.
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;
const sha1Base64: (data: string) => string =
  typeof oneShotHash === 'function'
    ? (data) => oneShotHash('sha1', data, 'base64')
    : (data) => crypto.createHash('sha1').update(data).digest('base64');

/** The whole head of a 101 answer, blank line included: what `acceptResponseLines` gives, joined. */
export function acceptResponse(key: string, protocol: string | undefined, extensions: string | undefined): string {
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n`;
  if (protocol !== undefined) head += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  if (extensions !== undefined) head += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  return `${head}\r\n`;
}

/**
 * The head of a 101 answer as a list of header lines (without the final blank
 * line), so the server can let users edit it (ws's `headers` event) before it
 * is sent.
 */
export function acceptResponseLines(key: string, protocol: string | undefined, extensions: string | undefined): string[] {
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${computeAcceptKey(key)}`];
  if (protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  if (extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
  return lines;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A complete HTTP error answer to a refused handshake, with the reason as a plain-text body. */
export function errorResponse(status: number, message: string, headers: Record<string, string | number> = {}): string {
  const statusText = STATUS_TEXT[status] ?? 'Error';
  const body = message || statusText;
  let head = `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const name of Object.keys(headers)) head += `${name}: ${headers[name]}\r\n`;
  return `${head}\r\n${body}`;
}
