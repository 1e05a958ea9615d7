// How the CLI shows data, close codes and errors in one line of text.
import { STATUS_CODES } from 'node:http';
import { escapeControls, safeJson } from './terminal-safe.js';
import { CLOSE_CODE_NAMES } from '../shared/close-codes.js';

/** "1009 (message too big)", with the reason quoted when there is one. */
export function describeClose(code: number, reason: Buffer | string = ''): string {
  const name = CLOSE_CODE_NAMES[code];
  const text = typeof reason === 'string' ? reason : reason.toString('utf8');
  return `${code}${name ? ` (${name})` : ''}${text ? ` ${safeJson(text)}` : ''}`;
}

/** Close codes after which a connection ended normally. */
export function isNormalClose(code: number): boolean {
  return code === 1000 || code === 1001 || code === 1005;
}

/** Lowercase hex without separators ("68690a"). */
export function hex(data: Buffer): string {
  return data.toString('hex');
}

/** Lowercase hex bytes separated by spaces ("68 69 0a"). */
export function spacedHex(data: Buffer): string {
  return data.toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

/**
 * The start of a message for a log line: at most `max` characters of text,
 * or of hex for binary data (spaced: "68 69", or not: "6869").
 */
export function preview(data: Buffer, isBinary: boolean, max = 200, spaced = true): { text: string; truncated: boolean } {
  if (isBinary) {
    const bytes = Math.max(1, Math.floor(max / (spaced ? 3 : 2)));
    const head = data.subarray(0, bytes);
    return { text: spaced ? spacedHex(head) : hex(head), truncated: data.length > bytes };
  }
  const truncated = data.length > max * 4 || data.toString('utf8').length > max;
  const text = truncated ? data.subarray(0, max * 4).toString('utf8').slice(0, max) : data.toString('utf8');
  return { text, truncated };
}

/** "200 bytes", "1 byte". */
export function bytes(n: number): string {
  return `${n} byte${n === 1 ? '' : 's'}`;
}

/** "HTTP 403 Forbidden". */
export function httpStatus(status: number, message?: string): string {
  const text = message || STATUS_CODES[status] || '';
  return `HTTP ${status}${text ? ` ${text}` : ''}`;
}

/** An error's message on one line, other control characters shown escaped (it may quote a peer's words). */
export function oneLine(text: string): string {
  return escapeControls(text.replace(/\s*[\r\n]+\s*/g, ' ').trim());
}
