// How `switchboard replay` compares a reply with the recording: exactly, or,
// when both are JSON, after dropping the fields named with --ignore
// ("id" anywhere, or a path such as "meta.time"); and how it shows the
// difference: one line per differing JSON path, or both texts.
import { safeJson } from './terminal-safe.js';

export interface Recorded {
  opcode: 'text' | 'binary';
  data: string;
}

/** Lines describing how `received` differs from `expected`; empty when they match. */
export function compareReply(expected: Recorded, received: Recorded, ignore: string[]): string[] {
  if (expected.opcode !== received.opcode) return [`type: expected ${expected.opcode}, received ${received.opcode}`];
  if (expected.data === received.data) return [];
  if (expected.opcode === 'text' && ignore.length > 0) {
    const a = parseJson(expected.data);
    const b = parseJson(received.data);
    if (a !== undefined && b !== undefined) return diffJson(withoutIgnored(a, ignore), withoutIgnored(b, ignore), '$');
  } else if (expected.opcode === 'text') {
    const a = parseJson(expected.data);
    const b = parseJson(received.data);
    if (a !== undefined && b !== undefined) {
      const lines = diffJson(a, b, '$');
      return lines.length > 0 ? lines : ['same JSON value, written differently'];
    }
  }
  return ['the data differs'];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A copy of `value` without the ignored fields: a bare name at any depth, a dotted path from the top. */
export function withoutIgnored(value: unknown, ignore: string[], path: string[] = []): unknown {
  if (Array.isArray(value)) return value.map((item, i) => withoutIgnored(item, ignore, [...path, String(i)]));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const here = [...path, key].join('.');
    if (ignore.some((field) => (field.includes('.') ? matchesPath(field, here) : field === key))) continue;
    out[key] = withoutIgnored(item, ignore, [...path, key]);
  }
  return out;
}

/** "items.*.id" matches "items.3.id". */
function matchesPath(pattern: string, path: string): boolean {
  const p = pattern.split('.');
  const q = path.split('.');
  return p.length === q.length && p.every((part, i) => part === '*' || part === q[i]);
}

function diffJson(a: unknown, b: unknown, path: string): string[] {
  if (Object.is(a, b)) return [];
  const bothObjects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b);
  if (!bothObjects) return [`${path}: expected ${safeJson(a)}, received ${safeJson(b)}`];
  const lines: string[] = [];
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])];
  for (const key of keys) {
    const sub = Array.isArray(a) ? `${path}[${key}]` : `${path}.${key}`;
    if (!(key in rb)) lines.push(`${sub}: expected ${safeJson(ra[key])}, missing`);
    else if (!(key in ra)) lines.push(`${sub}: not expected, received ${safeJson(rb[key])}`);
    else lines.push(...diffJson(ra[key], rb[key], sub));
  }
  return lines;
}
