// A whole text message that unmasking finds all ASCII skips the parser's call of isUtf8 (see
// unmaskText in protocol/mask.ts): these tests make sure that shortcut never lets a byte of
// 0x80 or more through unchecked, wherever the frame lies and wherever the byte sits in it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { FrameParser, Opcode, simdMaskBuffer, type FrameParserOptions } from '../../packages/switchboard/src/protocol/index.js';
import { cat, rawFrame, Recorder } from './helpers.js';

const KEY = [0x9d, 0x00, 0xff, 0x42];
const simd = simdMaskBuffer()!;

/**
 * Where the bytes lie when the parser gets them: the SIMD buffer lent (as node/shared-reads reads sockets),
 * the SIMD buffer owned, an ordinary buffer lent, an ordinary buffer owned. `start` moves the frame's first byte.
 */
const PLACEMENTS = [
  { name: 'the SIMD buffer, lent', inSimd: true, borrowedChunks: true },
  { name: 'the SIMD buffer, owned', inSimd: true, borrowedChunks: false },
  { name: 'an ordinary buffer, lent', inSimd: false, borrowedChunks: true },
  { name: 'an ordinary buffer, owned', inSimd: false, borrowedChunks: false },
] as const;

function parse(placement: (typeof PLACEMENTS)[number], start: number, ...frames: Buffer[]): Recorder {
  const rec = new Recorder();
  const options: FrameParserOptions = { role: 'server', borrowedChunks: placement.borrowedChunks };
  const parser = new FrameParser(rec, options);
  for (const frame of frames) {
    let chunk: Buffer;
    if (placement.inSimd) {
      simd.set(frame, start);
      chunk = Buffer.from(simd.buffer, simd.byteOffset + start, frame.length);
    } else {
      chunk = Buffer.alloc(start + frame.length);
      frame.copy(chunk, start);
      chunk = chunk.subarray(start);
    }
    parser.push(chunk);
    if (placement.borrowedChunks) chunk.fill(0xee);
  }
  return rec;
}

function asciiText(length: number): Buffer {
  const text = Buffer.alloc(length);
  for (let i = 0; i < length; i++) text[i] = 0x20 + ((i * 31) % 95);
  return text;
}

function summary(rec: Recorder): string {
  return JSON.stringify(rec.plain().map((e) => (e as { type: string; code?: string }).code ?? (e as { type: string }).type));
}

// Around the 128-byte SIMD threshold and the 64-, 16-, 4- and 1-byte steps of mask.wat.
const LENGTHS = [1, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 64, 65, 127, 128, 129, 130, 131, 132, 143, 144, 145, 191, 192, 193, 255, 256, 257, 1000, 1027];

describe('FrameParser: text found all ASCII while unmasking', () => {
  for (const placement of PLACEMENTS) {
    test(`in ${placement.name}: one invalid byte anywhere in a text frame is WS_ERR_INVALID_UTF8 / 1007, at every length and start`, () => {
      for (const start of [0, 1, 2, 3, 16]) {
        for (const length of LENGTHS) {
          const positions = new Set([0, 1, 2, 3, length >> 1, length - 4, length - 3, length - 2, length - 1].filter((p) => p >= 0 && p < length));
          for (const position of positions) {
            for (const bad of [0xff, 0x80, 0xc0]) {
              const payload = asciiText(length);
              payload[position] = bad;
              const rec = parse(placement, start, rawFrame({ opcode: Opcode.Text, payload, maskKey: KEY }));
              assert.equal(summary(rec), '["WS_ERR_INVALID_UTF8"]', `start ${start}, length ${length}, 0x${bad.toString(16)} at ${position}`);
            }
          }
        }
      }
    });

    test(`in ${placement.name}: valid UTF-8 with one non-ASCII character anywhere, and plain ASCII, arrive intact`, () => {
      for (const start of [0, 3]) {
        for (const length of LENGTHS.filter((n) => n >= 2)) {
          const ascii = asciiText(length);
          const rec = parse(placement, start, rawFrame({ opcode: Opcode.Text, payload: ascii, maskKey: KEY }));
          assert.deepEqual(rec.plain(), [{ type: 'message', data: ascii, isBinary: false, compressed: false }], `ASCII, length ${length}`);
          for (const position of new Set([0, length >> 1, length - 2].filter((p) => p + 1 < length))) {
            const payload = asciiText(length);
            payload[position] = 0xc3; // é
            payload[position + 1] = 0xa9;
            const withAccent = parse(placement, start, rawFrame({ opcode: Opcode.Text, payload, maskKey: KEY }));
            assert.deepEqual(withAccent.plain(), [{ type: 'message', data: payload, isBinary: false, compressed: false }], `length ${length}, é at ${position}`);
          }
        }
      }
    });

    test(`in ${placement.name}: an all-ASCII fragment between the two halves of a sequence is still WS_ERR_INVALID_UTF8`, () => {
      for (const length of [16, 200, 1000]) {
        const first = rawFrame({ opcode: Opcode.Text, fin: false, payload: cat('ab', [0xc3]), maskKey: KEY });
        const middle = rawFrame({ opcode: Opcode.Continuation, fin: false, payload: asciiText(length), maskKey: KEY });
        const last = rawFrame({ opcode: Opcode.Continuation, payload: [0xa9], maskKey: KEY });
        assert.equal(summary(parse(placement, 0, first, middle, last)), '["WS_ERR_INVALID_UTF8"]', `middle fragment of ${length} ASCII bytes`);
        const completing = rawFrame({ opcode: Opcode.Continuation, fin: false, payload: cat([0xa9], asciiText(length)), maskKey: KEY });
        const end = rawFrame({ opcode: Opcode.Continuation, payload: asciiText(length), maskKey: KEY });
        assert.equal(summary(parse(placement, 0, first, completing, end)), '["message"]', `a continuation that completes é, then ${length} ASCII bytes`);
      }
    });
  }

  test('property: a text frame in the lent SIMD buffer is accepted exactly when its payload is valid UTF-8, and arrives as sent', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 700, size: 'max' }).map((bytes) => Buffer.from(bytes.map((b) => b & 0x7f))),
          fc.uint8Array({ maxLength: 700, size: 'max' }).map((bytes) => Buffer.from(bytes)),
          fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 700, size: 'max' }), fc.nat(), fc.integer({ min: 0x80, max: 0xff })).map(([bytes, at, high]) => {
            const payload = Buffer.from(bytes.map((b) => b & 0x7f));
            payload[at % payload.length] = high;
            return payload;
          }),
        ),
        fc.nat({ max: 64 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (payload, start, key) => {
          const rec = parse(PLACEMENTS[0], start, rawFrame({ opcode: Opcode.Text, payload, maskKey: [...key] }));
          const valid = Buffer.from(payload.toString('utf8'), 'utf8').equals(payload);
          if (valid) assert.deepEqual(rec.plain(), [{ type: 'message', data: payload, isBinary: false, compressed: false }]);
          else assert.equal(summary(rec), '["WS_ERR_INVALID_UTF8"]');
        },
      ),
      { numRuns: 500 },
    );
  });
});
