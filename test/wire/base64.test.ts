// The portable base64 codec of switchboard/wire agrees with Node's Buffer.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeBase64, encodeBase64, isBase64 } from '../../packages/switchboard/src/wire/index.js';

describe('wire: base64', () => {
  test('encodes and decodes every length 0-64 and 1 MiB as Buffer does', () => {
    for (const length of [...Array(65).keys(), 1 << 20]) {
      const bytes = randomBytes(length);
      const text = bytes.toString('base64');
      assert.equal(encodeBase64(bytes), text, `encode ${length}`);
      assert.ok(isBase64(text), `valid ${length}`);
      assert.deepEqual(Buffer.from(decodeBase64(text)), bytes, `decode ${length}`);
    }
  });

  test('refuses what is not standard padded base64', () => {
    for (const bad of ['A', 'AB', 'ABC', 'AB=C', 'A===', '-_AA', 'AAA*', 'é'.repeat(4), '====']) assert.equal(isBase64(bad), false, bad);
  });
});
