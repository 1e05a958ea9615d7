// docs/protocol.md and switchboard/wire say the same thing: every example
// message in the document passes the module's validators, every message type
// of the table is one the module knows in that direction, and the tables of
// error and close codes are the module's.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, FINAL_CLOSE_CODES, HubCloseCode, WireError, parseClientMessage, parseServerMessage } from '../../packages/switchboard/src/wire/index.js';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/** The `C: {...}` / `S: {...}` / `S (to ...): {...}` lines of the fenced blocks. */
function exampleLines(): Array<{ dir: 'C' | 'S'; text: string; line: number }> {
  const found: Array<{ dir: 'C' | 'S'; text: string; line: number }> = [];
  let inBlock = false;
  doc.split('\n').forEach((line, i) => {
    if (line.startsWith('```')) {
      inBlock = !inBlock;
      return;
    }
    if (!inBlock) return;
    const m = /^(C|S)(?: \([^)]*\))?: (\{.*\})(?:\s+\(.*\))?$/.exec(line);
    if (m) found.push({ dir: m[1] as 'C' | 'S', text: m[2]!, line: i + 1 });
    else assert.ok(!/^(C|S)\b/.test(line), `line ${i + 1} looks like an example but is not "C: {json}": ${line}`);
  });
  return found;
}

/** A section's table rows, as cells. */
function tableRows(heading: string): string[][] {
  const start = doc.indexOf(heading);
  assert.notEqual(start, -1, heading);
  const rows: string[][] = [];
  for (const line of doc.slice(start).split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    if (!line.startsWith('|') || line.startsWith('|---')) continue;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
  }
  return rows.slice(1); // the header
}

const unquote = (cell: string): string => cell.replace(/`/g, '');

describe('docs/protocol.md against switchboard/wire', () => {
  test('every example message is valid JSON and passes the validator of its direction', () => {
    const lines = exampleLines();
    assert.ok(lines.length >= 30, `examples found: ${lines.length}`);
    for (const { dir, text, line } of lines) {
      try {
        if (dir === 'C') parseClientMessage(text);
        else parseServerMessage(text);
      } catch (error) {
        assert.fail(`line ${line} (${dir}): ${text}\n  ${(error as Error).message}`);
      }
    }
  });

  test('every field of every example is one the validator keeps (a field the module drops is one it does not know)', () => {
    for (const { dir, text, line } of exampleLines()) {
      const parsed = (dir === 'C' ? parseClientMessage(text) : parseServerMessage(text)) as unknown as Record<string, unknown>;
      // `bin` exists only on the wire: the parsed `data` is the bytes.
      const dropped = Object.keys(JSON.parse(text) as object).filter((field) => field !== 'bin' && parsed[field] === undefined);
      assert.deepEqual(dropped, [], `line ${line} (${dir}): ${text}`);
    }
  });

  test('the message table lists exactly the types each validator knows, per direction', () => {
    const client = new Set<string>();
    const server = new Set<string>();
    for (const [type, dir] of tableRows('## 3. Messages')) {
      const t = unquote(type!);
      if (dir!.includes('C')) client.add(t);
      if (dir!.includes('S')) server.add(t);
    }
    const known = (parse: (text: string) => unknown, t: string): boolean => {
      try {
        parse(JSON.stringify({ t }));
        return true;
      } catch (error) {
        return !(error instanceof WireError && error.code === 'unknown_type');
      }
    };
    const all = new Set([...client, ...server, 'msg', 'welcome', 'hello', 'nonsense']);
    for (const t of all) {
      assert.equal(known(parseClientMessage, t), client.has(t), `client message "${t}"`);
      assert.equal(known(parseServerMessage, t), server.has(t), `server message "${t}"`);
    }
  });

  test('the error code table is ERROR_CODES', () => {
    const documented = tableRows('## 10. Errors').map(([code]) => unquote(code!));
    assert.deepEqual([...documented].sort(), [...ERROR_CODES].sort());
  });

  test('the close code table holds every HubCloseCode, and "no" rows are the final codes', () => {
    const rows = tableRows('## 11. Closing');
    const documented = new Set(rows.map(([code]) => Number(code)));
    for (const [name, code] of Object.entries(HubCloseCode)) assert.ok(documented.has(code), `${name} (${code}) is documented`);
    const final = rows.filter(([code, , again]) => again!.startsWith('no') && code !== '1000').map(([code]) => Number(code));
    assert.deepEqual(final.sort(), [...FINAL_CLOSE_CODES].sort());
  });
});
