import type { Buffer } from 'node:buffer';

/** An HTTP/1.x request head: request line and header fields. */
export interface RequestHead {
  method: string;
  target: string;
  versionMajor: number;
  versionMinor: number;
  /** Alternating names and values as sent (names keep their case), as Node's `IncomingMessage#rawHeaders`. */
  rawHeaders: string[];
  /**
   * The fields as Node's `IncomingMessage#headers` has them: lower-case
   * names; a repeated field joined with ", " (`cookie` with "; "), or only
   * its first value kept for the fields Node keeps once (`host`,
   * `authorization`, `user-agent` ...); `set-cookie` always a list.
   */
  headers: Record<string, string | string[]>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/(\d)\.(\d)$/;
/** Control characters, which RFC 9110's field-value excludes (a bare CR or LF would be a line break to some other parser). */
const FORBIDDEN_IN_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const { hasOwnProperty } = Object.prototype;
/** Fields of which Node's `IncomingMessage#headers` keeps the first value only (lib/_http_incoming.js). */
const FIRST_VALUE_ONLY = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);
/**
 * Largest request head a server accepts, request line and blank line
 * included: Node's http server (`maxHeaderSize`) and ws behind it use
 * 16 KiB too. Larger heads get 431.
 */
export const MAX_HEAD_BYTES = 16 * 1024;
/**
 * Most header fields a request head may have: python-websockets' limit
 * (Node's http server keeps 2,000 and drops the rest). A browser sends
 * about 15; more get 431.
 */
export const MAX_HEADER_FIELDS = 128;
/** What `parseRequestHead` returns for a head with more than `maxFields` fields. */
export const TOO_MANY_FIELDS = 'too-many-fields';
const SPACE = 0x20;
const TAB = 0x09;

/**
 * Index just past the blank line that ends a request head in `buffer`
 * (searching from `from`), or -1 when it has not arrived yet.
 */
export function findHeadEnd(buffer: Buffer, from = 0): number {
  const end = buffer.indexOf('\r\n\r\n', Math.max(0, from - 3), 'latin1');
  return end === -1 ? -1 : end + 4;
}

/**
 * Parses a request head (everything up to and including the blank line).
 * Returns null when it does not follow RFC 9112's grammar; obsolete line
 * folding is refused, as RFC 9112 section 5.2 allows. Given `maxFields`,
 * a head with more fields is not parsed further: TOO_MANY_FIELDS.
 */
export function parseRequestHead(head: Buffer): RequestHead | null;
export function parseRequestHead(head: Buffer, maxFields: number): RequestHead | null | typeof TOO_MANY_FIELDS;
export function parseRequestHead(head: Buffer, maxFields = Infinity): RequestHead | null | typeof TOO_MANY_FIELDS {
  const maxRawHeaders = maxFields * 2;
  // One string for the whole head, scanned by index: every name and value is one slice of it.
  const text = head.toString('latin1', 0, head.length - 4);
  // An empty line before the end: the head ended earlier than the caller said.
  if (text.endsWith('\r\n')) return null;
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = text.length;
  const match = REQUEST_LINE.exec(text.slice(0, lineEnd));
  if (match === null) return null;
  const rawHeaders: string[] = [];
  const headers: Record<string, string | string[]> = {};
  for (let start = lineEnd + 2; start < text.length; start = lineEnd + 2) {
    if (rawHeaders.length === maxRawHeaders) return TOO_MANY_FIELDS;
    lineEnd = text.indexOf('\r\n', start);
    if (lineEnd === -1) lineEnd = text.length;
    const colon = text.indexOf(':', start);
    if (colon <= start || colon > lineEnd) return null;
    const name = text.slice(start, colon);
    if (!TOKEN.test(name)) return null;
    // Optional whitespace (spaces and tabs only) around the value is not part of it.
    let valueStart = colon + 1;
    let valueEnd = lineEnd;
    while (valueStart < valueEnd && isOptionalWhitespace(text.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isOptionalWhitespace(text.charCodeAt(valueEnd - 1))) valueEnd--;
    const value = text.slice(valueStart, valueEnd);
    if (FORBIDDEN_IN_VALUE.test(value)) return null;
    rawHeaders.push(name, value);
    addField(headers, name.toLowerCase(), value);
  }
  return { method: match[1]!, target: match[2]!, versionMajor: Number(match[3]), versionMinor: Number(match[4]), rawHeaders, headers };
}

function isOptionalWhitespace(code: number): boolean {
  return code === SPACE || code === TAB;
}

function addField(headers: Record<string, string | string[]>, name: string, value: string): void {
  const existing = headers[name];
  // A name such as "constructor" finds Object.prototype's member the first time.
  if (existing === undefined || !hasOwnProperty.call(headers, name)) headers[name] = name === 'set-cookie' ? [value] : value;
  else if (Array.isArray(existing)) existing.push(value);
  else if (!FIRST_VALUE_ONLY.has(name)) headers[name] = `${existing}${name === 'cookie' ? '; ' : ', '}${value}`;
}
