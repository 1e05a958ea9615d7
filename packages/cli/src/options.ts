// Parsers for option values. They throw commander's InvalidArgumentError, which
// commander reports as a usage error (exit code 2) naming the option.
import { InvalidArgumentError } from 'commander';

/** A usage error found after parsing (a file that cannot be read, a bad URL): exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(port) || port > 65535) {
    throw new InvalidArgumentError('expected a port number, 0-65535 (0 picks a free port)');
  }
  return port;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes: "1048576", "64k", "16M", "1G" (binary multiples). */
export function parseSize(value: string): number {
  const m = /^(\d+)([kmg]?)(?:i?b)?$/i.exec(value.trim());
  const size = m ? Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new InvalidArgumentError('expected a size in bytes, e.g. 1048576, 64k, 16M');
  }
  return size;
}

/** A whole number, 0 or more. */
export function parseCount(value: string): number {
  const count = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(count)) {
    throw new InvalidArgumentError('expected a whole number, 0 or more');
  }
  return count;
}

export function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new InvalidArgumentError('expected a number of seconds (0 or more, e.g. 0.5)');
  }
  return seconds;
}

/** --wait: seconds, or -1 for "for ever" (wscat -w -1, websocat -n): Infinity. */
export function parseWait(value: string): number {
  if (value.trim() === '-1') return Infinity;
  try {
    return parseSeconds(value);
  } catch {
    throw new InvalidArgumentError('expected a number of seconds (0 or more, e.g. 0.5), or -1 to wait for ever');
  }
}

/** Collects a repeatable option's values in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** RFC 7230 token: header names and subprotocols. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function parseSubprotocol(value: string, previous: string[] | undefined): string[] {
  if (!TOKEN.test(value)) throw new InvalidArgumentError('a subprotocol is a token: letters, digits and !#$%&\'*+-.^_`|~, no spaces or commas');
  if (previous?.includes(value)) throw new InvalidArgumentError(`${value} is given twice`);
  return collect(value, previous);
}

/** "Name: value" → [name, value], for -H. */
export function parseHeader(value: string, previous: Array<[string, string]> | undefined): Array<[string, string]> {
  const colon = value.indexOf(':');
  const name = colon === -1 ? '' : value.slice(0, colon).trim();
  const headerValue = colon === -1 ? '' : value.slice(colon + 1).trim();
  if (!TOKEN.test(name) || /[\r\n\0]/.test(headerValue)) {
    throw new InvalidArgumentError('expected "Name: value"');
  }
  return [...(previous ?? []), [name, headerValue]];
}

