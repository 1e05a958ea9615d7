import type { Buffer } from 'node:buffer';

/** An HTTP/1.x request head: request line and header fields as sent (names keep their case). */
export interface RequestHead {
  method: string;
  target: string;
  versionMajor: number;
  versionMinor: number;
  /** Alternating names and values, as Node's `IncomingMessage#rawHeaders`. */
  rawHeaders: string[];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/(\d)\.(\d)$/;

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
 * folding is refused, as RFC 9112 section 5.2 allows.
 */
export function parseRequestHead(head: Buffer): RequestHead | null {
  const text = head.toString('latin1', 0, head.length - 4);
  const lines = text.split('\r\n');
  const match = REQUEST_LINE.exec(lines[0]!);
  if (match === null) return null;
  const rawHeaders: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return null;
    const value = line.slice(colon + 1).trim();
    if (/[\0\r\n]/.test(value)) return null;
    rawHeaders.push(name, value);
  }
  return { method: match[1]!, target: match[2]!, versionMajor: Number(match[3]), versionMinor: Number(match[4]), rawHeaders };
}
