import { CLOSE_CODE_NAMES } from '../../shared/close-codes';
// Small pure helpers: hex, sizes, times, close codes, JSON.

/** "48 65 6c" / "48656c" / "0x48, 0x65" → bytes; an error message for anything else. */
export function parseHex(input: string): Uint8Array | string {
  const cleaned = input.replace(/0x/gi, '').replace(/[\s,:;-]+/g, '');
  if (cleaned.length === 0) return 'Enter hex bytes, e.g. 48 65 6c 6c 6f';
  const bad = /[^0-9a-f]/i.exec(cleaned);
  if (bad) return `Not a hex digit: ${JSON.stringify(bad[0])}`;
  if (cleaned.length % 2 !== 0) return `Odd number of hex digits (${cleaned.length}): each byte is two digits`;
  const bytes = new Uint8Array(cleaned.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(cleaned.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** "48 65 6c" (at most `max` bytes, then "…"). */
export function toHex(bytes: Uint8Array, max = Infinity): string {
  const n = Math.min(bytes.length, max);
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = HEX[bytes[i]!]!;
  return parts.join(' ') + (bytes.length > n ? ' …' : '');
}

/** Lowercase hex without spaces (for the relay's ping payloads). */
export function toCompactHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b]!;
  return s;
}

/** A classic hex dump: offset, 16 bytes, printable ASCII. */
export function hexDump(bytes: Uint8Array, maxBytes = 64 * 1024): string {
  const lines: string[] = [];
  const n = Math.min(bytes.length, maxBytes);
  for (let offset = 0; offset < n; offset += 16) {
    const row = bytes.subarray(offset, Math.min(offset + 16, n));
    const hex = toHex(row).padEnd(47, ' ');
    let ascii = '';
    for (const b of row) ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex}  ${ascii}`);
  }
  if (bytes.length > n) lines.push(`… ${bytes.length - n} more bytes`);
  return lines.join('\n');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** "14:03:07.123" */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const p = (v: number, w = 2): string => String(v).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** "1000 (normal closure)" */
export function describeCloseCode(code: number): string {
  const name = CLOSE_CODE_NAMES[code];
  return name ? `${code} (${name})` : String(code);
}

/** JSON.parse with the error message, for the composer. */
export function parseJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Whether text looks like a JSON object or array (cheap: checked for every message in the list). */
export function looksLikeJson(text: string): boolean {
  let i = 0;
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  const c = text[i];
  return c === '{' || c === '[';
}

const encoder = new TextEncoder();

export function utf8Length(text: string): number {
  // Exact byte length without allocating for ASCII-only text.
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.length : encoder.encode(text).length;
}

export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}
