// Sec-WebSocket-Extensions grammar (RFC 6455 section 9.1): parseExtensions and formatExtension.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatExtension, parseExtensions, type ExtensionOffer } from '../../packages/switchboard/src/protocol/index.js';

/** An offer list as plain data: [name, [[param, values]...]] per extension, for deepEqual. */
function plain(offers: ExtensionOffer[] | null): unknown {
  return offers === null ? null : offers.map((o) => [o.name, [...o.params.entries()]]);
}

function parses(header: string, expected: Array<[string, Array<[string, Array<string | true>]>]>): void {
  assert.deepEqual(plain(parseExtensions(header)), expected, `parseExtensions(${JSON.stringify(header)})`);
}

function rejects(header: string): void {
  assert.equal(parseExtensions(header), null, `parseExtensions(${JSON.stringify(header)}) must be null (malformed)`);
}

describe('parseExtensions: well-formed headers', () => {
  test('one extension without parameters', () => {
    parses('permessage-deflate', [['permessage-deflate', []]]);
  });

  test('parameters without values are `true`, with values are strings (never numbers)', () => {
    parses('permessage-deflate; client_max_window_bits; server_max_window_bits=10', [
      ['permessage-deflate', [['client_max_window_bits', [true]], ['server_max_window_bits', ['10']]]],
    ]);
  });

  test('several offers in one header keep their order, each with its own parameters', () => {
    parses('permessage-deflate; server_max_window_bits=10, permessage-deflate; client_no_context_takeover, x-webkit-deflate-frame', [
      ['permessage-deflate', [['server_max_window_bits', ['10']]]],
      ['permessage-deflate', [['client_no_context_takeover', [true]]]],
      ['x-webkit-deflate-frame', []],
    ]);
  });

  test('quoted values are unquoted', () => {
    parses('permessage-deflate; client_max_window_bits="10"; server_max_window_bits=12', [
      ['permessage-deflate', [['client_max_window_bits', ['10']], ['server_max_window_bits', ['12']]]],
    ]);
    parses('foo; bar="baz-qux"', [['foo', [['bar', ['baz-qux']]]]]);
  });

  test('optional whitespace (spaces and tabs) around names, separators and "="', () => {
    parses('  a ;  b = 3 ,\tc\t;\td ', [
      ['a', [['b', ['3']]]],
      ['c', [['d', [true]]]],
    ]);
    parses('a;b=1,c', [
      ['a', [['b', ['1']]]],
      ['c', []],
    ]);
  });

  test('a repeated parameter keeps every value in order (the extension decides whether that is allowed)', () => {
    parses('a; b; b=2; b="3"', [['a', [['b', [true, '2', '3']]]]]);
  });

  test('the same extension may be offered twice', () => {
    parses('permessage-deflate, permessage-deflate', [
      ['permessage-deflate', []],
      ['permessage-deflate', []],
    ]);
  });

  test('every tchar is allowed in names and values', () => {
    const tchars = "!#$%&'*+-.^_`|~09AZaz";
    parses(`${tchars}; ${tchars}=${tchars}`, [[tchars, [[tchars, [tchars]]]]]);
  });
});

describe('parseExtensions: malformed headers are null', () => {
  test('empty or blank header', () => {
    rejects('');
    rejects('   ');
  });

  test('empty list elements and dangling separators', () => {
    rejects('a,');
    rejects(',a');
    rejects('a,,b');
    rejects('a;');
    rejects('a;;b');
    rejects('; a');
  });

  test('a parameter with "=" but no value', () => {
    rejects('a; b=');
    rejects('a; b= , c');
  });

  test('two tokens without a separator', () => {
    rejects('a b');
    rejects('a; b c');
    rejects('a; b=1 2');
  });

  test('bad quoted strings: unterminated, empty, not a token once unquoted, text after the quote', () => {
    rejects('a; b="10');
    rejects('a; b=""');
    rejects('a; b="1 2"');
    rejects('a; b="x,y"');
    rejects('a; b="x\\"y"');
    rejects('a; b="x"y');
    rejects('a; "b"=1');
    rejects('"a"');
  });

  test('"=" without a parameter name, a second "=", or a value on the extension name', () => {
    rejects('a=1');
    rejects('a; =1');
    rejects('a; b=c=d');
  });

  test('characters outside tchar (separators, non-ASCII, control characters)', () => {
    rejects('a/b');
    rejects('a; b=(c)');
    rejects('a; b=c:d');
    rejects('permessage-déflate');
    rejects('a; b=\u0001');
    rejects('a\r\n; b');
  });
});

describe('formatExtension', () => {
  test('name alone, flags, and values', () => {
    assert.equal(formatExtension('permessage-deflate', []), 'permessage-deflate');
    assert.equal(
      formatExtension('permessage-deflate', [
        ['server_no_context_takeover', true],
        ['server_max_window_bits', 10],
        ['x', 'y'],
      ]),
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10; x=y',
    );
  });

  test('what it writes parses back to the same parameters', () => {
    const header = formatExtension('permessage-deflate', [
      ['client_no_context_takeover', true],
      ['client_max_window_bits', 9],
    ]);
    parses(header, [['permessage-deflate', [['client_no_context_takeover', [true]], ['client_max_window_bits', ['9']]]]]);
  });
});
