// The depth scan that runs before JSON.parse (src/wire/json-depth.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonDepthWithin } from '../../packages/switchboard/src/wire/json-depth.js';
import { parseClientMessage, WireError } from '../../packages/switchboard/src/wire/index.js';

describe('hub: JSON depth', () => {
  test('counts objects and arrays, not brackets inside strings (escaped quotes included)', () => {
    const nested = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    assert.equal(jsonDepthWithin(`{"a":${nested(63)}}`, 64), true);
    assert.equal(jsonDepthWithin(`{"a":${nested(64)}}`, 64), false);
    const inString = JSON.stringify({ a: '['.repeat(500), b: 'say \\"[[[[\\" \\\\', c: '\\\\"' });
    assert.equal(jsonDepthWithin(inString + ' '.repeat(100), 2), true);
    assert.equal(jsonDepthWithin(`{"x":"\\\\"${'['.repeat(10)}`, 5), false, 'an escaped backslash ends before the quote');
    assert.equal(jsonDepthWithin(`"unterminated ${'['.repeat(200)}`, 5), true, 'left to JSON.parse');
  });

  test('parseClientMessage refuses a message deeper than the limit with bad_message', () => {
    const deep = `{"t":"pub","room":"r","ev":"e","data":${'['.repeat(6000)}${']'.repeat(6000)}}`;
    assert.throws(
      () => parseClientMessage(deep),
      (e: unknown) => e instanceof WireError && e.code === 'bad_message',
    );
    assert.equal(parseClientMessage(`{"t":"pub","room":"r","ev":"e","data":${'['.repeat(63)}${']'.repeat(63)}}`).t, 'pub');
    assert.throws(() => parseClientMessage(`{"t":"emit","ev":"e","data":[[1]]}`, { maxJsonDepth: 2 }), WireError);
  });
});
