import { describe, test } from 'node:test';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { frameParserTarget, type FrameInput } from './targets/frame-parser.js';
import { fuzzBriefly } from './helpers.js';

describe('fuzz: FrameParser', () => {
  test('mutated and random frame streams, both roles, split, lent and paused: no throw, typed errors, limits kept, same events however split', async () => {
    await fuzzBriefly(frameParserTarget, 30_000, 3);
  });

  test('fast-check: random bytes in random chunks keep the same invariants (shrinks to a small input)', () => {
    const inputArb: fc.Arbitrary<FrameInput> = fc
      .record({
        role: fc.constantFrom('server' as const, 'client' as const),
        maxPayload: fc.constantFrom(undefined, 0, 1, 125, 1000),
        allowRsv1: fc.boolean(),
        bytes: fc.uint8Array({ maxLength: 300 }),
        cuts: fc.array(fc.nat(), { maxLength: 20 }),
        pauseEvery: fc.boolean(),
      })
      .map(({ role, maxPayload, allowRsv1, bytes, cuts, pauseEvery }) => {
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, bytes.length]) {
          chunks.push(Buffer.from(bytes.subarray(prev, p)));
          prev = p;
        }
        return { options: { role, maxPayload, allowRsv1 }, chunks, pauseEvery };
      });
    fc.assert(
      fc.property(inputArb, (input) => {
        frameParserTarget.check(input, undefined);
      }),
      { numRuns: 500 },
    );
  });
});
