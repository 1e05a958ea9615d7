import { describe, test } from 'node:test';
import { deflateTarget } from './targets/deflate.js';
import { fuzzBriefly } from './helpers.js';

describe('fuzz: permessage-deflate decoding', () => {
  test('valid, mutated, random and bomb messages: answered once, ProtocolError 1007/1009 or the right bytes within maxPayload', async () => {
    await fuzzBriefly(deflateTarget, 3_000, 3);
  });
});
