import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import {
  encodeClosePayload,
  encodeFrame,
  encodeFrameHeader,
  FrameParser,
  frameHeaderSize,
  MAX_HEADER_SIZE,
  Opcode,
  writeFrameHeader,
} from '../../packages/switchboard/src/protocol/index.js';
import { feed, hex, rawFrame, Recorder } from './helpers.js';

const KEY = hex('37 fa 21 3d');

describe('encodeFrame', () => {
  test('RFC 6455 section 5.7 examples, byte for byte', () => {
    assert.deepEqual(encodeFrame(Buffer.from('Hello'), { opcode: Opcode.Text }), hex('81 05 48 65 6c 6c 6f'));
    assert.deepEqual(encodeFrame(Buffer.from('Hello'), { opcode: Opcode.Text, maskKey: KEY }), hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
    assert.deepEqual(encodeFrame(Buffer.from('Hel'), { opcode: Opcode.Text, fin: false }), hex('01 03 48 65 6c'));
    assert.deepEqual(encodeFrame(Buffer.from('lo'), { opcode: Opcode.Continuation }), hex('80 02 6c 6f'));
    assert.deepEqual(encodeFrame(Buffer.from('Hello'), { opcode: Opcode.Ping }), hex('89 05 48 65 6c 6c 6f'));
    assert.deepEqual(encodeFrame(Buffer.from('Hello'), { opcode: Opcode.Pong, maskKey: KEY }), hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'));
    const b256 = Buffer.alloc(256, 9);
    assert.deepEqual(encodeFrame(b256, { opcode: Opcode.Binary }), Buffer.concat([hex('82 7e 01 00'), b256]));
    const b64k = Buffer.alloc(65536, 3);
    assert.deepEqual(encodeFrame(b64k, { opcode: Opcode.Binary }), Buffer.concat([hex('82 7f 00 00 00 00 00 01 00 00'), b64k]));
  });

  test('always the shortest length form', () => {
    const cases: [number, string][] = [
      [0, '82 00'],
      [1, '82 01'],
      [125, '82 7d'],
      [126, '82 7e 00 7e'],
      [127, '82 7e 00 7f'],
      [256, '82 7e 01 00'],
      [65535, '82 7e ff ff'],
      [65536, '82 7f 00 00 00 00 00 01 00 00'],
      [65537, '82 7f 00 00 00 00 00 01 00 01'],
    ];
    for (const [len, header] of cases) {
      const frame = encodeFrame(Buffer.alloc(len), { opcode: Opcode.Binary });
      const h = hex(header);
      assert.deepEqual(frame.subarray(0, h.length), h, `length ${len}`);
      assert.equal(frame.length, h.length + len);
      assert.equal(frameHeaderSize(len, false), h.length);
      assert.equal(frameHeaderSize(len, true), h.length + 4);
      const masked = encodeFrame(Buffer.alloc(len), { opcode: Opcode.Binary, maskKey: KEY });
      assert.equal(masked[1], h[1]! | 0x80, `mask bit, length ${len}`);
      assert.deepEqual(masked.subarray(2, h.length), h.subarray(2));
      assert.deepEqual(masked.subarray(h.length, h.length + 4), KEY);
    }
  });

  test('FIN, RSV1 and opcode bits', () => {
    assert.equal(encodeFrame(Buffer.alloc(0), { opcode: Opcode.Text })[0], 0x81);
    assert.equal(encodeFrame(Buffer.alloc(0), { opcode: Opcode.Text, fin: false })[0], 0x01);
    assert.equal(encodeFrame(Buffer.alloc(0), { opcode: Opcode.Text, rsv1: true })[0], 0xc1);
    assert.equal(encodeFrame(Buffer.alloc(0), { opcode: Opcode.Binary, fin: false, rsv1: true })[0], 0x42);
    assert.equal(encodeFrame(Buffer.alloc(0), { opcode: Opcode.Continuation, fin: true })[0], 0x80);
    assert.equal(encodeFrame(Buffer.alloc(0), { opcode: Opcode.Close })[0], 0x88);
    assert.equal(encodeFrame(Buffer.alloc(0), { opcode: Opcode.Ping })[0], 0x89);
    assert.equal(encodeFrame(Buffer.alloc(0), { opcode: Opcode.Pong })[0], 0x8a);
    assert.deepEqual(encodeFrame(Buffer.alloc(0), { opcode: Opcode.Pong, maskKey: null }), hex('8a 00'));
  });

  test('client masking does not modify the caller\'s buffer', () => {
    const payload = Buffer.from('do not touch me, please: 0123456789');
    const copy = Buffer.from(payload);
    const frame = encodeFrame(payload, { opcode: Opcode.Text, maskKey: KEY });
    assert.deepEqual(payload, copy);
    // ...and the frame really is masked.
    assert.notDeepEqual(frame.subarray(6), copy);
    for (let i = 0; i < payload.length; i++) assert.equal(frame[6 + i], copy[i]! ^ KEY[i % 4]!);
    // Neither is the key changed.
    assert.deepEqual(KEY, hex('37 fa 21 3d'));
    // Nor a plain Uint8Array payload.
    const u8 = Uint8Array.from([1, 2, 3, 4, 5, 6, 7]);
    encodeFrame(u8, { opcode: Opcode.Binary, maskKey: KEY });
    assert.deepEqual(u8, Uint8Array.from([1, 2, 3, 4, 5, 6, 7]));
  });

  test('the frame does not share memory with the payload', () => {
    const payload = Buffer.from('abc');
    const frame = encodeFrame(payload, { opcode: Opcode.Text });
    payload[0] = 0x7a;
    assert.deepEqual(frame, hex('81 03 61 62 63'));
  });
});

describe('encodeFrameHeader / writeFrameHeader', () => {
  test('header plus payload equals encodeFrame', () => {
    for (const len of [0, 125, 126, 65535, 65536]) {
      const payload = Buffer.alloc(len, 0x61);
      assert.deepEqual(Buffer.concat([encodeFrameHeader(len, { opcode: Opcode.Text }), payload]), encodeFrame(payload, { opcode: Opcode.Text }));
      const masked = encodeFrame(payload, { opcode: Opcode.Text, maskKey: KEY });
      assert.deepEqual(encodeFrameHeader(len, { opcode: Opcode.Text, maskKey: KEY }), masked.subarray(0, frameHeaderSize(len, true)));
    }
  });

  test('64-bit lengths above 2^32 are encoded big-endian in full', () => {
    assert.deepEqual(encodeFrameHeader(2 ** 32 + 5, { opcode: Opcode.Binary }), hex('82 7f 00 00 00 01 00 00 00 05'));
    assert.deepEqual(encodeFrameHeader(0x0123456789ab, { opcode: Opcode.Binary }), hex('82 7f 00 00 01 23 45 67 89 ab'));
    assert.deepEqual(encodeFrameHeader(Number.MAX_SAFE_INTEGER, { opcode: Opcode.Binary }), hex('82 7f 00 1f ff ff ff ff ff ff'));
    assert.deepEqual(encodeFrameHeader(0xffffffff, { opcode: Opcode.Binary, fin: false }), hex('02 7f 00 00 00 00 ff ff ff ff'));
  });

  test('writeFrameHeader writes at an offset, returns the end, and touches nothing else', () => {
    const target = new Uint8Array(3 + MAX_HEADER_SIZE + 3).fill(0xee);
    const end = writeFrameHeader(target, 3, 70000, Opcode.Binary, true, false, KEY);
    assert.equal(end, 3 + MAX_HEADER_SIZE);
    assert.equal(MAX_HEADER_SIZE, 14);
    assert.deepEqual(Buffer.from(target), hex('ee ee ee 82 ff 00 00 00 00 00 01 11 70 37 fa 21 3d ee ee ee'));
    const small = new Uint8Array(4).fill(0xee);
    assert.equal(writeFrameHeader(small, 1, 3, Opcode.Ping, true, false, null), 3);
    assert.deepEqual(Buffer.from(small), hex('ee 89 03 ee'));
  });
});

describe('encodeClosePayload', () => {
  test('no code gives an empty payload (even with a reason)', () => {
    assert.deepEqual(encodeClosePayload(undefined), Buffer.alloc(0));
    assert.deepEqual(encodeClosePayload(undefined, 'ignored'), Buffer.alloc(0));
  });

  test('code in network order, then the UTF-8 reason', () => {
    assert.deepEqual(encodeClosePayload(1000), hex('03 e8'));
    assert.deepEqual(encodeClosePayload(1001, 'bye'), hex('03 e9 62 79 65'));
    assert.deepEqual(encodeClosePayload(4999, 'é'), hex('13 87 c3 a9'));
    assert.deepEqual(encodeClosePayload(3000, Uint8Array.of(1, 2)), hex('0b b8 01 02'));
  });

  test('round trips through the parser', () => {
    for (const [code, reason] of [
      [1000, ''],
      [1011, 'internal'],
      [4000, '€'.repeat(41)], // 123 bytes: the largest reason
    ] as const) {
      const frame = encodeFrame(encodeClosePayload(code, reason), { opcode: Opcode.Close, maskKey: KEY });
      assert.deepEqual(feed({ role: 'server' }, frame).rec.plain(), [{ type: 'close', code, reason: Buffer.from(reason) }]);
    }
    assert.deepEqual(feed({ role: 'client' }, encodeFrame(encodeClosePayload(undefined), { opcode: Opcode.Close })).rec.plain(), [
      { type: 'close', code: 1005, reason: Buffer.alloc(0) },
    ]);
  });
});

describe('writer/parser round trips', () => {
  test('frames from the writer equal frames from the independent test encoder', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(0, 125, 126, 65535, 65536).map((n) => new Uint8Array(n).fill(0x5a))),
        fc.constantFrom(Opcode.Continuation, Opcode.Text, Opcode.Binary),
        fc.boolean(),
        fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: undefined }),
        (payload, opcode, fin, maskKey) => {
          const expected = rawFrame({ opcode, fin, payload, maskKey });
          assert.deepEqual(encodeFrame(payload, { opcode, fin, maskKey }), expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('any single data or control frame parses back to its payload', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(Opcode.Binary, Opcode.Ping, Opcode.Pong, Opcode.Text),
        fc.uint8Array({ maxLength: 125 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        (opcode, bytes, str, key, masked, rsv1) => {
          const payload = opcode === Opcode.Text ? Buffer.from(str) : Buffer.from(bytes);
          const compressed = rsv1 && (opcode === Opcode.Text || opcode === Opcode.Binary);
          const frame = encodeFrame(payload, { opcode, maskKey: masked ? key : null, rsv1: compressed });
          const rec = new Recorder();
          new FrameParser(rec, { role: masked ? 'server' : 'client', allowRsv1: true }).push(frame);
          const expected =
            opcode === Opcode.Ping
              ? { type: 'ping', data: payload }
              : opcode === Opcode.Pong
                ? { type: 'pong', data: payload }
                : { type: 'message', data: payload, isBinary: opcode === Opcode.Binary, compressed };
          assert.deepEqual(rec.plain(), [expected]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
