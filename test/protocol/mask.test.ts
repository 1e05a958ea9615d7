import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { applyMask, copyMasked, simdMaskBuffer, SIMD_BUFFER_SIZE } from '../../packages/switchboard/src/protocol/index.js';
import { maskRegion, unmaskText } from '../../packages/switchboard/src/protocol/mask.js';
import { hex } from './helpers.js';

/** Reference masking: byte i XOR key[(i + keyOffset) % 4]. */
function referenceMask(data: Uint8Array, key: Uint8Array, keyOffset = 0): Buffer {
  return Buffer.from(data.map((b, i) => b ^ key[(i + keyOffset) % 4]!));
}

const KEY = hex('37 fa 21 3d');

describe('applyMask', () => {
  test('RFC 6455 section 5.7 example: "Hello" with key 37 fa 21 3d', () => {
    const data = Buffer.from('Hello');
    applyMask(data, KEY);
    assert.deepEqual(data, hex('7f 9f 4d 51 58'));
    applyMask(data, KEY);
    assert.deepEqual(data, Buffer.from('Hello'));
  });

  test('every length 0..17 and every key offset 0..7 matches the reference', () => {
    const key = hex('01 80 ff 5a');
    for (let len = 0; len <= 17; len++) {
      for (let offset = 0; offset < 8; offset++) {
        const data = Buffer.from(Array.from({ length: len }, (_, i) => (i * 31 + 7) & 0xff));
        const expected = referenceMask(data, key, offset);
        applyMask(data, key, offset);
        assert.deepEqual(data, expected, `len ${len} offset ${offset}`);
      }
    }
  });

  test('the word-at-a-time path (32+ bytes) matches the reference at every alignment, key offset and tail length', () => {
    const key = hex('c3 01 7e a5');
    const backing = Buffer.alloc(256 + 8);
    for (let align = 0; align < 4; align++) {
      for (let offset = 0; offset < 4; offset++) {
        for (let len = 28; len <= 72; len++) {
          for (let i = 0; i < backing.length; i++) backing[i] = (i * 13 + len) & 0xff;
          const before = Buffer.from(backing);
          const view = backing.subarray(align, align + len);
          const expected = referenceMask(view, key, offset);
          applyMask(view, key, offset);
          assert.deepEqual(view, expected, `align ${align} offset ${offset} len ${len}`);
          assert.deepEqual(backing.subarray(align + len), before.subarray(align + len), 'bytes after the view untouched');
          assert.deepEqual(backing.subarray(0, align), before.subarray(0, align), 'bytes before the view untouched');
        }
      }
    }
  });

  test('the 32-bit view kept for the last buffer still reaches a payload after that buffer grew (resizable ArrayBuffer)', () => {
    const key = hex('c3 01 7e a5');
    // Resizable ArrayBuffers (ES2024) are in Node 20's V8 but not in this project's TypeScript lib.
    const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer & { resize(length: number): void };
    const buffer = new Resizable(64, { maxByteLength: 4096 });
    applyMask(new Uint8Array(buffer, 0, 64), key); // the view of this buffer is kept: 16 words
    buffer.resize(4096);
    const payload = new Uint8Array(buffer, 1024, 256);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const expected = referenceMask(payload, key);
    applyMask(payload, key);
    assert.deepEqual(Buffer.from(payload), expected);
  });

  test('only touches the given view', () => {
    const backing = Buffer.alloc(16, 0xaa);
    applyMask(backing.subarray(4, 9), hex('ff ff ff ff'));
    assert.deepEqual(backing, hex('aaaaaaaa 5555555555 aaaaaaaaaaaaaa'));
  });

  test('property: masking in pieces with running key offsets equals masking whole, and is an involution', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (data, key, cuts) => {
        const whole = Buffer.from(data);
        applyMask(whole, key, 0);
        assert.deepEqual(whole, referenceMask(data, key));

        const pieces = Buffer.from(data);
        const points = [0, ...cuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b), data.length];
        for (let i = 0; i + 1 < points.length; i++) applyMask(pieces.subarray(points[i], points[i + 1]), key, points[i]);
        assert.deepEqual(pieces, whole);

        applyMask(whole, key, 0);
        assert.deepEqual(whole, Buffer.from(data));
      }),
      { numRuns: 300 },
    );
  });
});

describe('applyMask in the SIMD buffer (WebAssembly, mask.wat)', () => {
  const simd = simdMaskBuffer();

  test('WebAssembly SIMD is available on this Node, and the buffer is four 64 KiB pages', () => {
    assert.ok(simd !== null, 'simdMaskBuffer() returned null');
    assert.equal(simd.length, SIMD_BUFFER_SIZE);
    assert.equal(simdMaskBuffer(), simd, 'one buffer per process');
  });

  test('src/protocol/mask-wasm.ts is what src/protocol/mask.wat compiles to', () => {
    // Exits 1 with a message when they differ.
    execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { stdio: 'pipe' });
  });

  test('every start alignment, key offset and length around the 128-byte threshold and the 64/16/4-byte steps matches the reference', () => {
    const key = hex('c3 01 7e a5');
    const lengths = [0, 1, 3, 4, 5, 31, 32, 127, 128, 129, 130, 131, 132, 143, 144, 145, 191, 192, 193, 255, 256, 257, 1000, 4099];
    for (const start of [0, 1, 2, 3, 5, 16, 61]) {
      for (let offset = 0; offset < 4; offset++) {
        for (const len of lengths) {
          const view = simd!.subarray(start, start + len);
          for (let i = 0; i < 5000; i++) simd![i] = (i * 13 + len + start) & 0xff;
          const before = Buffer.from(simd!.subarray(0, 5000));
          const expected = referenceMask(view, key, offset);
          applyMask(view, key, offset);
          assert.deepEqual(Buffer.from(view), expected, `start ${start} offset ${offset} len ${len}`);
          assert.deepEqual(Buffer.from(simd!.subarray(0, start)), before.subarray(0, start), 'bytes before the view untouched');
          assert.deepEqual(Buffer.from(simd!.subarray(start + len, 5000)), before.subarray(start + len), 'bytes after the view untouched');
        }
      }
    }
  });

  test('the whole buffer, and its last bytes, at every key offset', () => {
    const key = hex('9d 00 ff 42');
    for (const [start, len] of [[0, SIMD_BUFFER_SIZE], [SIMD_BUFFER_SIZE - 200, 200], [SIMD_BUFFER_SIZE - 131, 131]] as const) {
      for (let offset = 0; offset < 4; offset++) {
        for (let i = 0; i < SIMD_BUFFER_SIZE; i++) simd![i] = (i * 7 + (i >>> 8)) & 0xff;
        const view = simd!.subarray(start, start + len);
        const expected = referenceMask(view, key, offset);
        applyMask(view, key, offset);
        assert.ok(Buffer.from(view).equals(expected), `start ${start} len ${len} offset ${offset}`);
      }
    }
  });

  test('property: in the SIMD buffer, masking in pieces with running key offsets equals the reference', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000, size: 'max' }),
        fc.nat({ max: 4000 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (data, start, key, cuts) => {
          simd!.set(data, start);
          const points = [0, ...cuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b), data.length];
          for (let i = 0; i + 1 < points.length; i++) applyMask(simd!.subarray(start + points[i]!, start + points[i + 1]!), key, points[i]);
          assert.deepEqual(Buffer.from(simd!.subarray(start, start + data.length)), referenceMask(data, key));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('maskRegion (by position in an ArrayBuffer, no view)', () => {
  const simd = simdMaskBuffer();

  for (const [where, memory] of [
    ['an ordinary ArrayBuffer', () => new Uint8Array(8192)],
    ['the SIMD buffer', () => simd!],
  ] as const) {
    test(`property: in ${where}, equals the reference at any start, length and key offset, and touches nothing else`, () => {
      const bytes = memory();
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 3000, size: 'max' }),
          fc.nat({ max: 4000 }),
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.nat({ max: 11 }),
          (data, start, key, keyOffset) => {
            bytes.fill(0xa5);
            bytes.set(data, start);
            maskRegion(bytes.buffer, bytes.byteOffset + start, data.length, key, keyOffset, bytes.subarray(start, start + data.length));
            assert.deepEqual(Buffer.from(bytes.subarray(start, start + data.length)), referenceMask(data, key, keyOffset));
            assert.ok(bytes.subarray(0, start).every((b) => b === 0xa5), 'bytes before the region');
            assert.ok(bytes.subarray(start + data.length, start + 4096 + 8).every((b) => b === 0xa5), 'bytes after the region');
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  test('reaches a region past the end of the views kept for an earlier, smaller state of a resizable ArrayBuffer', () => {
    const ResizableArrayBuffer = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer & { resize(length: number): void };
    const memory = new ResizableArrayBuffer(64, { maxByteLength: 4096 });
    const key = hex('5a 0f f0 33');
    maskRegion(memory, 0, 40, key, 0, new Uint8Array(memory, 0, 40));
    memory.resize(4096);
    const bytes = new Uint8Array(memory);
    bytes.fill(7, 3000, 3100);
    maskRegion(memory, 3000, 100, key, 1, bytes.subarray(3000, 3100));
    assert.deepEqual(Buffer.from(bytes.subarray(3000, 3100)), referenceMask(new Uint8Array(100).fill(7), key, 1));
  });
});

describe('unmaskText (unmasks, and tells whether the bytes are all ASCII)', () => {
  const simd = simdMaskBuffer();

  test('property: equals the reference; true exactly for all-ASCII payloads of 128+ bytes in the SIMD buffer, false elsewhere', () => {
    const ordinary = new Uint8Array(8192);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000, size: 'max' }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.nat({ max: 4000 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.boolean(),
        (bytes, highAt, start, key, inSimd) => {
          // Mostly ASCII once unmasked, with at most one byte of 0x80 or more: the case that matters.
          const plain = bytes.map((b) => b & 0x7f);
          if (highAt !== undefined && plain.length > 0) plain[highAt % plain.length] |= 0x80;
          const memory = inSimd ? simd! : ordinary;
          memory.set(referenceMask(plain, key), start);
          const view = memory.subarray(start, start + plain.length);
          const ascii = unmaskText(memory.buffer, memory.byteOffset + start, plain.length, key, view);
          assert.deepEqual(Buffer.from(view), Buffer.from(plain));
          const allAscii = plain.every((b) => b < 0x80);
          assert.equal(ascii, inSimd && plain.length >= 128 && allAscii);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('copyMasked', () => {
  test('writes the masked bytes at the offset and leaves the source alone', () => {
    const source = Buffer.from('Hello');
    const target = Buffer.alloc(9, 0xee);
    copyMasked(source, target, 2, KEY);
    assert.deepEqual(source, Buffer.from('Hello'));
    assert.deepEqual(target, hex('ee ee 7f 9f 4d 51 58 ee ee'));
  });

  test('property: equals the reference for any length, without touching the source or bytes outside the range', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat({ max: 10 }), (data, key, offset) => {
        const source = Uint8Array.from(data);
        const target = Buffer.alloc(offset + data.length + 3, 0xcd);
        copyMasked(source, target, offset, key);
        assert.deepEqual(source, data);
        assert.deepEqual(target.subarray(offset, offset + data.length), referenceMask(data, key));
        assert.ok(target.subarray(0, offset).every((b) => b === 0xcd));
        assert.ok(target.subarray(offset + data.length).every((b) => b === 0xcd));
      }),
      { numRuns: 300 },
    );
  });
});
