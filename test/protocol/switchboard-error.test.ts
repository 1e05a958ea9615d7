// One error model: every error the library throws or emits is a
// SwitchboardError with a stable `code`; every code the sources declare is
// declared once, used, and documented; no throw site makes an error without one.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DeflateNegotiationError, HandshakeError, ProtocolError, SwitchboardError } from '../../packages/switchboard/src/protocol/index.js';
import { codedError } from '../../packages/switchboard/src/protocol/switchboard-error.js';
import { WebSocketError } from '../../packages/switchboard/src/index.js';
import { HubError, WireError } from '../../packages/switchboard/src/wire/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The library: what users import. The CLI (packages/cli) is an application of it, with its own exit codes. */
const LIBRARY = ['protocol', 'node', 'hub', 'wire', 'client', 'index.ts'].map((p) => `packages/switchboard/src/${p}`);

function files(path: string): string[] {
  const full = join(root, path);
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full).flatMap((name) => files(join(path, name))).filter((f) => f.endsWith('.ts'));
}
const sources = LIBRARY.flatMap(files).map((file) => ({ file: relative(root, file), text: readFileSync(file, 'utf8') }));

interface Declaration {
  code: string;
  where: string;
}

/**
 * The codes the sources declare: the string members of every `export type
 * ...Code = ...` union (an `Extract<...>` of another union re-uses codes, it
 * declares none) and of the wire's `ERROR_CODES` list.
 */
function declaredCodes(): Declaration[] {
  const found: Declaration[] = [];
  for (const { file, text } of sources) {
    for (const match of text.matchAll(/export type (\w+Code) =([\s\S]*?);\n/g)) {
      const body = match[2]!.replace(/\/\*[\s\S]*?\*\//g, '').replace(/Extract<[^>]*>/g, '');
      for (const literal of body.matchAll(/'([A-Za-z0-9_]+)'/g)) found.push({ code: literal[1]!, where: `${file} ${match[1]}` });
    }
    for (const match of text.matchAll(/export const ERROR_CODES = \[([\s\S]*?)\] as const/g)) {
      for (const literal of match[1]!.matchAll(/'([a-z_]+)'/g)) found.push({ code: literal[1]!, where: `${file} ERROR_CODES` });
    }
  }
  return found;
}

const declared = declaredCodes();
const docs = [join(root, 'README.md'), ...readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md')).map((n) => join(root, 'docs', n))]
  .map((file) => readFileSync(file, 'utf8'))
  .join('\n');

describe('error codes', () => {
  it('the sources declare codes (the scan finds them)', () => {
    const codes = declared.map((d) => d.code);
    for (const code of ['WS_ERR_INVALID_UTF8', 'WS_ERR_INVALID_KEY', 'WS_ERR_NOT_OPEN', 'WS_ERR_INVALID_ARGUMENT', 'WS_ERR_INVALID_EXTENSION', 'bad_message', 'outbox_full']) {
      assert.ok(codes.includes(code), `${code} not found by the scan`);
    }
  });

  it('each code is declared once', () => {
    const seen = new Map<string, string>();
    for (const { code, where } of declared) {
      assert.ok(!seen.has(code), `${code} is declared twice: ${seen.get(code)} and ${where}`);
      seen.set(code, where);
    }
  });

  it('each declared code is used by the code that throws or emits it (no dead codes)', () => {
    const text = sources.map((s) => s.text.replace(/export type \w+Code =[\s\S]*?;\n|export const ERROR_CODES = \[[\s\S]*?\] as const/g, '')).join('\n');
    const dead = declared.filter(({ code }) => !text.includes(`'${code}'`)).map((d) => `${d.code} (${d.where})`);
    assert.deepEqual(dead, []);
  });

  it('each declared code is documented (README.md or docs/)', () => {
    const undocumented = declared.filter(({ code }) => !docs.includes(`\`${code}\``)).map((d) => `${d.code} (${d.where})`);
    assert.deepEqual(undocumented, []);
  });

  it('no throw site of the library makes an error without a code', () => {
    const bare: string[] = [];
    for (const { file, text } of sources) {
      const lines = text.split('\n');
      lines.forEach((line, i) => {
        if (!/new (Error|TypeError|RangeError|SyntaxError)\(/.test(line)) return;
        if (/codedError\(/.test(line) || /codedError\($/.test(lines[i - 1] ?? '')) return;
        // A local throw caught on the next line never leaves the function.
        if (/^\s*\} catch/.test(lines[i + 1] ?? '')) return;
        bare.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(bare, []);
  });
});

describe('SwitchboardError', () => {
  it('is the root of every error class', () => {
    const errors = [
      new ProtocolError('WS_ERR_INVALID_UTF8', 'x'),
      new HandshakeError('WS_ERR_INVALID_KEY', 400, 'x'),
      new DeflateNegotiationError('x'),
      new WebSocketError('WS_ERR_NOT_OPEN', 'x'),
      new HubError('closed'),
      new WireError('bad_message', 'x'),
    ];
    for (const error of errors) {
      assert.ok(error instanceof SwitchboardError, error.name);
      assert.ok(error instanceof Error, error.name);
      assert.equal(typeof error.code, 'string');
      assert.ok(error.code.length > 0);
    }
    assert.equal(new DeflateNegotiationError('x').code, 'WS_ERR_INVALID_EXTENSION');
    assert.equal(new HubError('timeout').message, 'timeout');
    assert.equal(new WireError('bad_json', 'x', 7).ref, 7);
  });

  it('argument errors keep ws\'s classes (TypeError, RangeError) and join the root with a code', () => {
    const error = codedError(new RangeError('too long'), 'WS_ERR_INVALID_ARGUMENT');
    assert.ok(error instanceof RangeError);
    assert.ok(error instanceof SwitchboardError);
    assert.equal(error.code, 'WS_ERR_INVALID_ARGUMENT');
    assert.ok(!(new TypeError('plain') instanceof SwitchboardError));
    assert.ok(!(new Error('plain') instanceof SwitchboardError));
    assert.ok(!((null as unknown) instanceof SwitchboardError));
  });

  it('subclasses answer instanceof for their own instances only', () => {
    assert.ok(!(codedError(new TypeError('x'), 'WS_ERR_INVALID_ARGUMENT') instanceof ProtocolError));
    assert.ok(!(new HubError('closed') instanceof ProtocolError));
    assert.ok(new ProtocolError('WS_ERR_INVALID_UTF8', 'x') instanceof ProtocolError);
  });
});
