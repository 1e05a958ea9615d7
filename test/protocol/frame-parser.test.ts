import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { CloseCode, FrameParser, Opcode, ProtocolError, type FrameParserOptions } from '../../packages/switchboard/src/protocol/index.js';
import { assertOnlyError, cat, feed, hex, makeParser, rawFrame, Recorder, splitAt } from './helpers.js';

const CLIENT: FrameParserOptions = { role: 'client' }; // receives unmasked frames from a server
const SERVER: FrameParserOptions = { role: 'server' }; // receives masked frames from a client
const KEY = [0x37, 0xfa, 0x21, 0x3d];

function text(data: string | Buffer) {
  return { type: 'message', data: Buffer.from(data), isBinary: false, compressed: false };
}
function binary(data: Buffer | number[]) {
  return { type: 'message', data: Buffer.from(data), isBinary: true, compressed: false };
}

/** Feeds `bytes` whole, then asserts exactly one error with these codes and that later bytes are ignored. */
function expectError(options: FrameParserOptions, bytes: Buffer, code: string, closeCode: number): void {
  const { parser, rec } = feed(options, bytes);
  assertOnlyError(rec, code, closeCode);
  assert.equal(parser.done, true);
  // Nothing more is reported, whatever follows.
  parser.push(hex('81 00 82 00'));
  parser.push(rawFrame({ opcode: Opcode.Text, payload: 'x', maskKey: KEY }));
  parser.push(hex('88 00'));
  assert.equal(rec.events.length, 1);
}

describe('FrameParser: reserved bits', () => {
  for (const [name, b0] of [
    ['RSV2', 0xa1],
    ['RSV3', 0x91],
    ['RSV2+RSV3', 0xb1],
    ['RSV2 on a ping', 0xa9],
    ['RSV3 on a continuation', 0x10],
  ] as const) {
    test(`${name} set (first byte 0x${b0.toString(16)}) is WS_ERR_UNEXPECTED_RSV_2_3 / 1002`, () => {
      // Only the 2-byte header, announcing 5 bytes: the error must come from the header alone.
      expectError(CLIENT, Buffer.from([b0, 0x05]), 'WS_ERR_UNEXPECTED_RSV_2_3', 1002);
      expectError({ role: 'client', allowRsv1: true }, Buffer.from([b0, 0x05]), 'WS_ERR_UNEXPECTED_RSV_2_3', 1002);
      expectError(SERVER, Buffer.from([b0, 0x85, ...KEY]), 'WS_ERR_UNEXPECTED_RSV_2_3', 1002);
    });
  }

  test('RSV1 on a text/binary frame without allowRsv1 is WS_ERR_UNEXPECTED_RSV_1 / 1002', () => {
    expectError(CLIENT, hex('c1 05'), 'WS_ERR_UNEXPECTED_RSV_1', 1002);
    expectError(CLIENT, hex('c2 00'), 'WS_ERR_UNEXPECTED_RSV_1', 1002);
    expectError({ role: 'client', allowRsv1: false }, hex('41 03'), 'WS_ERR_UNEXPECTED_RSV_1', 1002);
  });

  test('RSV1 with allowRsv1 marks the message compressed and skips the UTF-8 check', () => {
    // 0xff is not UTF-8, but compressed text is checked after inflation, not here.
    const { rec } = feed({ role: 'client', allowRsv1: true }, hex('c1 02 ff fe'), hex('c2 01 07'));
    assert.deepEqual(rec.plain(), [
      { type: 'message', data: hex('ff fe'), isBinary: false, compressed: true },
      { type: 'message', data: hex('07'), isBinary: true, compressed: true },
    ]);
  });

  test('RSV1 fragmented: set on the first frame only; set on a continuation is an error', () => {
    const opts = { role: 'client', allowRsv1: true } as const;
    const ok = feed(opts, hex('41 01 aa'), hex('80 01 bb'));
    assert.deepEqual(ok.rec.plain(), [{ type: 'message', data: hex('aa bb'), isBinary: false, compressed: true }]);
    const bad = feed(opts, hex('41 01 aa'), hex('c0 01'));
    assertOnlyError(bad.rec, 'WS_ERR_UNEXPECTED_RSV_1', 1002);
  });

  test('RSV1 on a control frame is an error even with allowRsv1', () => {
    expectError({ role: 'client', allowRsv1: true }, hex('c9 00'), 'WS_ERR_UNEXPECTED_RSV_1', 1002);
    expectError({ role: 'client', allowRsv1: true }, hex('c8 02 03 e8'), 'WS_ERR_UNEXPECTED_RSV_1', 1002);
    expectError(CLIENT, hex('ca 00'), 'WS_ERR_UNEXPECTED_RSV_1', 1002);
  });
});

describe('FrameParser: opcodes', () => {
  for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    test(`reserved opcode ${op} is WS_ERR_INVALID_OPCODE / 1002`, () => {
      expectError(CLIENT, Buffer.from([0x80 | op, 0x00]), 'WS_ERR_INVALID_OPCODE', 1002);
      expectError(CLIENT, Buffer.from([0x80 | op, 0x03]), 'WS_ERR_INVALID_OPCODE', 1002);
      expectError(SERVER, Buffer.from([0x80 | op, 0x80, ...KEY]), 'WS_ERR_INVALID_OPCODE', 1002);
      // Also with FIN clear.
      expectError(CLIENT, Buffer.from([op, 0x00]), 'WS_ERR_INVALID_OPCODE', 1002);
    });
  }

  test('reserved opcode in the middle of a fragmented message', () => {
    const { rec } = feed(CLIENT, hex('01 01 61'), hex('83 00'));
    assertOnlyError(rec, 'WS_ERR_INVALID_OPCODE', 1002);
  });
});

describe('FrameParser: control frames', () => {
  for (const [name, op] of [
    ['close', 0x8],
    ['ping', 0x9],
    ['pong', 0xa],
  ] as const) {
    test(`${name} with FIN=0 is WS_ERR_EXPECTED_FIN / 1002`, () => {
      expectError(CLIENT, Buffer.from([op, 0x00]), 'WS_ERR_EXPECTED_FIN', 1002);
      expectError(CLIENT, Buffer.from([op, 0x02]), 'WS_ERR_EXPECTED_FIN', 1002);
      expectError(SERVER, Buffer.from([op, 0x80, ...KEY]), 'WS_ERR_EXPECTED_FIN', 1002);
    });

    test(`${name} with a 126-byte payload (126-length form) is WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH / 1002`, () => {
      // Header only: 0x7e then the 16-bit length 126.
      expectError(CLIENT, Buffer.from([0x80 | op, 0x7e, 0x00, 0x7e]), 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002);
      expectError(SERVER, Buffer.from([0x80 | op, 0xfe, 0x00, 0x7e, ...KEY]), 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002);
      // The 64-bit form too.
      expectError(CLIENT, hex(`${(0x80 | op).toString(16)} 7f 00 00 00 00 00 01 00 00`), 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002);
    });
  }

  test('a 125-byte ping and pong are accepted', () => {
    const payload = Buffer.alloc(125, 0x5a);
    const { rec } = feed(CLIENT, rawFrame({ opcode: Opcode.Ping, payload }), rawFrame({ opcode: Opcode.Pong, payload }));
    assert.deepEqual(rec.plain(), [
      { type: 'ping', data: payload },
      { type: 'pong', data: payload },
    ]);
    const masked = feed(SERVER, rawFrame({ opcode: Opcode.Ping, payload, maskKey: KEY }));
    assert.deepEqual(masked.rec.plain(), [{ type: 'ping', data: payload }]);
  });

  test('empty ping and pong', () => {
    const { rec } = feed(CLIENT, hex('89 00 8a 00'));
    assert.deepEqual(rec.plain(), [
      { type: 'ping', data: Buffer.alloc(0) },
      { type: 'pong', data: Buffer.alloc(0) },
    ]);
  });
});

describe('FrameParser: masking', () => {
  test('an unmasked frame sent to a server is WS_ERR_EXPECTED_MASK / 1002', () => {
    expectError(SERVER, hex('81 05'), 'WS_ERR_EXPECTED_MASK', 1002);
    expectError(SERVER, hex('81 05 48 65 6c 6c 6f'), 'WS_ERR_EXPECTED_MASK', 1002);
    expectError(SERVER, hex('89 00'), 'WS_ERR_EXPECTED_MASK', 1002);
    expectError(SERVER, hex('88 02 03 e8'), 'WS_ERR_EXPECTED_MASK', 1002);
  });

  test('a masked frame sent to a client is WS_ERR_UNEXPECTED_MASK / 1002', () => {
    expectError(CLIENT, hex('81 85 37 fa 21 3d'), 'WS_ERR_UNEXPECTED_MASK', 1002);
    expectError(CLIENT, hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), 'WS_ERR_UNEXPECTED_MASK', 1002);
    expectError(CLIENT, hex('8a 80 00 00 00 00'), 'WS_ERR_UNEXPECTED_MASK', 1002);
  });

  test('RFC 6455 section 5.7 examples', () => {
    // A single-frame unmasked text message.
    assert.deepEqual(feed(CLIENT, hex('81 05 48 65 6c 6c 6f')).rec.plain(), [text('Hello')]);
    // A single-frame masked text message.
    assert.deepEqual(feed(SERVER, hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')).rec.plain(), [text('Hello')]);
    // A fragmented unmasked text message.
    assert.deepEqual(feed(CLIENT, hex('01 03 48 65 6c'), hex('80 02 6c 6f')).rec.plain(), [text('Hello')]);
    // Unmasked ping, masked pong.
    assert.deepEqual(feed(CLIENT, hex('89 05 48 65 6c 6c 6f')).rec.plain(), [{ type: 'ping', data: Buffer.from('Hello') }]);
    assert.deepEqual(feed(SERVER, hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58')).rec.plain(), [{ type: 'pong', data: Buffer.from('Hello') }]);
    // 256 bytes binary in one unmasked frame.
    const b256 = Buffer.alloc(256, 0x33);
    assert.deepEqual(feed(CLIENT, cat(hex('82 7e 01 00'), b256)).rec.plain(), [binary(b256)]);
    // 64 KiB binary in one unmasked frame.
    const b64k = Buffer.alloc(65536, 0x44);
    assert.deepEqual(feed(CLIENT, cat(hex('82 7f 00 00 00 00 00 01 00 00'), b64k)).rec.plain(), [binary(b64k)]);
  });
});

describe('FrameParser: payload length encoding', () => {
  test('126 form carrying a value below 126 is WS_ERR_NON_MINIMAL_LENGTH / 1002', () => {
    expectError(CLIENT, hex('82 7e 00 7d'), 'WS_ERR_NON_MINIMAL_LENGTH', 1002);
    expectError(CLIENT, hex('82 7e 00 00'), 'WS_ERR_NON_MINIMAL_LENGTH', 1002);
    expectError(CLIENT, hex('81 7e 00 05 48 65 6c 6c 6f'), 'WS_ERR_NON_MINIMAL_LENGTH', 1002);
    expectError(SERVER, hex('82 fe 00 01 00 00 00 00'), 'WS_ERR_NON_MINIMAL_LENGTH', 1002);
    expectError(CLIENT, hex('00 7e 00 7d'), 'WS_ERR_UNEXPECTED_CONTINUATION', 1002); // continuation rule comes first
  });

  test('126 form carrying exactly 126 is accepted', () => {
    const payload = Buffer.alloc(126, 7);
    const { parser, rec } = feed(CLIENT, hex('82 7e 00 7e'));
    assert.deepEqual(rec.events, []);
    parser.push(payload);
    assert.deepEqual(rec.plain(), [binary(payload)]);
  });

  test('127 form carrying a value below 65536 is WS_ERR_NON_MINIMAL_LENGTH / 1002', () => {
    expectError(CLIENT, hex('82 7f 00 00 00 00 00 00 ff ff'), 'WS_ERR_NON_MINIMAL_LENGTH', 1002);
    expectError(CLIENT, hex('82 7f 00 00 00 00 00 00 00 7e'), 'WS_ERR_NON_MINIMAL_LENGTH', 1002);
    expectError(CLIENT, hex('82 7f 00 00 00 00 00 00 00 05'), 'WS_ERR_NON_MINIMAL_LENGTH', 1002);
    expectError(CLIENT, hex('82 7f 00 00 00 00 00 00 00 00'), 'WS_ERR_NON_MINIMAL_LENGTH', 1002);
    expectError(SERVER, hex('82 ff 00 00 00 00 00 00 01 00 01 02 03 04'), 'WS_ERR_NON_MINIMAL_LENGTH', 1002);
  });

  test('127 form carrying exactly 65536 is accepted', () => {
    const { parser, rec } = feed(CLIENT, hex('82 7f 00 00 00 00 00 01 00 00'));
    assert.deepEqual(rec.events, []);
    assert.equal(parser.done, false);
  });

  test('64-bit length with the most significant bit set is WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH / 1009', () => {
    for (const opts of [CLIENT, { role: 'client', maxPayload: 0 } as const]) {
      expectError(opts, hex('82 7f 80 00 00 00 00 00 00 00'), 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009);
      expectError(opts, hex('82 7f ff ff ff ff ff ff ff ff'), 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009);
      // 80 00 .. 00 01 00 00 : MSB set, low bits would look like a minimal 65536.
      expectError(opts, hex('82 7f 80 00 00 00 00 01 00 00'), 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009);
    }
  });

  test('64-bit length above 2^53 - 1 is WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH / 1009', () => {
    const noLimit = { role: 'client', maxPayload: 0 } as const;
    expectError(noLimit, hex('82 7f 00 20 00 00 00 00 00 00'), 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009); // 2^53
    expectError(noLimit, hex('82 7f 00 20 00 00 00 00 00 01'), 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009);
    expectError(noLimit, hex('82 7f 7f ff ff ff ff ff ff ff'), 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009);
    expectError({ role: 'server', maxPayload: 0 }, hex('82 ff 01 00 00 00 00 00 00 00 01 02 03 04'), 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009);
  });

  test('64-bit length of exactly 2^53 - 1 is accepted when there is no message limit', () => {
    const { parser, rec } = feed({ role: 'client', maxPayload: 0 }, hex('82 7f 00 1f ff ff ff ff ff ff'));
    assert.deepEqual(rec.events, []);
    assert.equal(parser.done, false);
    parser.push(Buffer.alloc(1000));
    assert.deepEqual(rec.events, []);
    // ...but with the default limit (100 MiB) it is too big.
    expectError(CLIENT, hex('82 7f 00 1f ff ff ff ff ff ff'), 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
  });
});

describe('FrameParser: fragmentation rules', () => {
  test('a continuation frame without a started message is WS_ERR_UNEXPECTED_CONTINUATION / 1002', () => {
    expectError(CLIENT, hex('80 00'), 'WS_ERR_UNEXPECTED_CONTINUATION', 1002);
    expectError(CLIENT, hex('00 03'), 'WS_ERR_UNEXPECTED_CONTINUATION', 1002);
    expectError(SERVER, hex('80 80 01 02 03 04'), 'WS_ERR_UNEXPECTED_CONTINUATION', 1002);
  });

  test('a continuation frame after a finished message is WS_ERR_UNEXPECTED_CONTINUATION', () => {
    const { rec } = feed(CLIENT, hex('81 01 61'), hex('80 01 62'));
    assert.deepEqual(rec.plain(), [text('a'), { type: 'error', code: 'WS_ERR_UNEXPECTED_CONTINUATION', closeCode: 1002 }]);
    const { rec: rec2 } = feed(CLIENT, hex('01 01 61 80 01 62 80 01 63'));
    assert.deepEqual(rec2.plain(), [text('ab'), { type: 'error', code: 'WS_ERR_UNEXPECTED_CONTINUATION', closeCode: 1002 }]);
  });

  test('a new text or binary frame while a fragmented message is open is WS_ERR_EXPECTED_CONTINUATION / 1002', () => {
    for (const first of ['01 01 61', '02 01 61', '01 00', '02 00']) {
      for (const second of ['81 01 62', '82 01 62', '01 00', '82 05']) {
        const { parser, rec } = feed(CLIENT, hex(first), hex(second));
        assertOnlyError(rec, 'WS_ERR_EXPECTED_CONTINUATION', 1002);
        assert.equal(parser.done, true);
      }
    }
    // Even after a few continuations and a ping.
    const { rec } = feed(CLIENT, hex('01 01 61 00 01 62 89 00 00 00 81 01 63'));
    assert.deepEqual(rec.plain(), [
      { type: 'ping', data: Buffer.alloc(0) },
      { type: 'error', code: 'WS_ERR_EXPECTED_CONTINUATION', closeCode: 1002 },
    ]);
  });
});

describe('FrameParser: maxPayload', () => {
  test('a single frame above maxPayload fails from its header alone (7-bit length)', () => {
    const opts = { role: 'client', maxPayload: 100 } as const;
    expectError(opts, hex('82 65'), 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009); // 101
    expectError(opts, hex('81 7d'), 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009); // 125
    expectError({ role: 'server', maxPayload: 100 }, hex('82 e5 00 00 00 00'), 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
    // Exactly the limit is fine.
    const { rec } = feed(opts, rawFrame({ opcode: Opcode.Binary, payload: Buffer.alloc(100, 1) }));
    assert.deepEqual(rec.plain(), [binary(Buffer.alloc(100, 1))]);
  });

  test('a single frame above maxPayload fails from its header alone (16- and 64-bit lengths)', () => {
    expectError({ role: 'client', maxPayload: 1000 }, hex('82 7e 03 e9'), 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009); // 1001
    expectError({ role: 'client', maxPayload: 65535 }, hex('82 7f 00 00 00 00 00 01 00 00'), 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
    // Default limit (100 MiB): 100 MiB + 1 fails, 100 MiB passes the header check.
    expectError(CLIENT, hex('82 7f 00 00 00 00 06 40 00 01'), 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
    const ok = feed(CLIENT, hex('82 7f 00 00 00 00 06 40 00 00'));
    assert.deepEqual(ok.rec.events, []);
    // maxPayload 0 means no limit.
    const none = feed({ role: 'client', maxPayload: 0 }, hex('82 7f 00 00 01 00 00 00 00 00'));
    assert.deepEqual(none.rec.events, []);
  });

  test('the sum of fragments above maxPayload fails from the header of the fragment that crosses it', () => {
    const opts = { role: 'client', maxPayload: 10 } as const;
    const { parser, rec } = feed(opts, hex('02 06 00 01 02 03 04 05'));
    assert.deepEqual(rec.events, []);
    parser.push(hex('00 02 06 07')); // 8 so far
    assert.deepEqual(rec.events, []);
    parser.push(hex('80 03')); // header only: 8 + 3 = 11 > 10
    assertOnlyError(rec, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);

    // Exactly 10 in total is fine; control frames in between do not count.
    const ok = feed(opts, hex('02 06 00 01 02 03 04 05'), rawFrame({ opcode: Opcode.Ping, payload: Buffer.alloc(20) }), hex('80 04 06 07 08 09'));
    assert.deepEqual(ok.rec.plain(), [{ type: 'ping', data: Buffer.alloc(20) }, binary([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])]);

    // The count restarts with each message.
    const again = feed(opts, hex('82 0a'), Buffer.alloc(10), hex('82 0a'), Buffer.alloc(10));
    assert.deepEqual(again.rec.plain(), [binary(Buffer.alloc(10)), binary(Buffer.alloc(10))]);
  });

  test('masked fragments over the limit, header fed one byte at a time', () => {
    const { parser, rec } = makeParser({ role: 'server', maxPayload: 4 });
    parser.push(rawFrame({ opcode: Opcode.Text, fin: false, payload: 'abc', maskKey: KEY }));
    const header = hex('80 82 01 02 03 04');
    for (let i = 0; i < header.length; i++) {
      assert.deepEqual(rec.events, [], `no event before header byte ${i}`);
      parser.push(header.subarray(i, i + 1));
    }
    assertOnlyError(rec, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009);
  });
});

describe('FrameParser: maxFragments', () => {
  /** A message of `count` one-byte frames (the last with FIN), as one Buffer. */
  function fragmented(count: number, maskKey?: number[]): Buffer {
    const frames: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      frames.push(rawFrame({ opcode: i === 0 ? Opcode.Binary : Opcode.Continuation, fin: i === count - 1, payload: [i & 0xff], maskKey }));
    }
    return Buffer.concat(frames);
  }

  test('a message of exactly maxFragments frames is delivered; one more frame fails with 1008 (ws: WS_ERR_TOO_MANY_BUFFERED_PARTS)', () => {
    const ok = feed({ role: 'client', maxFragments: 4 }, fragmented(4));
    assert.deepEqual(ok.rec.plain(), [binary([0, 1, 2, 3])]);
    // The fifth frame fails from its header: its payload is never read.
    const { parser, rec } = feed({ role: 'client', maxFragments: 4 }, fragmented(4).subarray(0, -3), hex('00 01 03'));
    assert.deepEqual(rec.events, []);
    parser.push(hex('80'));
    assert.deepEqual(rec.events, []);
    parser.push(hex('01'));
    assertOnlyError(rec, 'WS_ERR_TOO_MANY_BUFFERED_PARTS', CloseCode.PolicyViolation);
    assert.equal(parser.done, true);
    expectError({ role: 'server', maxFragments: 4 }, fragmented(5, KEY), 'WS_ERR_TOO_MANY_BUFFERED_PARTS', 1008);
  });

  test('the count restarts with each message, and control frames in between do not count', () => {
    const ping = rawFrame({ opcode: Opcode.Ping, payload: 'p' });
    const frames = [
      rawFrame({ opcode: Opcode.Text, fin: false, payload: 'a' }),
      ping,
      ping,
      rawFrame({ opcode: Opcode.Continuation, fin: true, payload: 'b' }),
      fragmented(2),
      fragmented(2),
    ];
    const { rec } = feed({ role: 'client', maxFragments: 2 }, Buffer.concat(frames));
    assert.deepEqual(rec.plain().map((e) => (e as { type: string }).type), ['ping', 'ping', 'message', 'message', 'message']);
  });

  test('the default is 16,384 frames, as in ws; 0 means no limit', () => {
    const atLimit = feed(CLIENT, fragmented(16_384));
    assert.equal(atLimit.rec.events.length, 1);
    assert.equal(atLimit.rec.events[0]!.type, 'message');
    expectError(CLIENT, fragmented(16_385), 'WS_ERR_TOO_MANY_BUFFERED_PARTS', 1008);
    const unlimited = feed({ role: 'client', maxFragments: 0 }, fragmented(20_000));
    assert.equal(unlimited.rec.events[0]!.type, 'message');
  });

  test('a million one-byte fragments are refused after 16,384, with borrowed chunks too', () => {
    const { parser, rec } = makeParser({ role: 'server', borrowedChunks: true });
    const chunk = fragmented(1000, KEY).subarray(0, -7); // 999 frames, none with FIN but the first is Binary
    const continuation = Buffer.concat(Array.from({ length: 999 }, () => rawFrame({ opcode: Opcode.Continuation, fin: false, payload: [1], maskKey: KEY })));
    parser.push(Buffer.from(chunk));
    for (let sent = 999; sent < 1_000_000 && !parser.done; sent += 999) parser.push(Buffer.from(continuation));
    assertOnlyError(rec, 'WS_ERR_TOO_MANY_BUFFERED_PARTS', 1008);
  });
});

describe('FrameParser: close frames', () => {
  test('close payload of 1 byte is WS_ERR_INVALID_CLOSE_PAYLOAD / 1002', () => {
    expectError(CLIENT, hex('88 01 03'), 'WS_ERR_INVALID_CLOSE_PAYLOAD', 1002);
    expectError(SERVER, rawFrame({ opcode: Opcode.Close, payload: [0x03], maskKey: KEY }), 'WS_ERR_INVALID_CLOSE_PAYLOAD', 1002);
  });

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    test(`close code ${code} is WS_ERR_INVALID_CLOSE_CODE / 1002`, () => {
      expectError(CLIENT, Buffer.from([0x88, 0x02, code >> 8, code & 0xff]), 'WS_ERR_INVALID_CLOSE_CODE', 1002);
      expectError(CLIENT, cat([0x88, 0x04, code >> 8, code & 0xff], 'ok'), 'WS_ERR_INVALID_CLOSE_CODE', 1002);
    });
  }

  test('valid close codes are reported with their reason', () => {
    const codes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
    for (const code of codes) {
      const { parser, rec } = feed(CLIENT, Buffer.from([0x88, 0x02, code >> 8, code & 0xff]));
      assert.deepEqual(rec.plain(), [{ type: 'close', code, reason: Buffer.alloc(0) }], `code ${code}`);
      assert.equal(parser.done, true);
      const withReason = feed(SERVER, rawFrame({ opcode: Opcode.Close, payload: cat([code >> 8, code & 0xff], 'bye ✓'), maskKey: KEY }));
      assert.deepEqual(withReason.rec.plain(), [{ type: 'close', code, reason: Buffer.from('bye ✓') }], `code ${code}`);
    }
  });

  test('a close frame with no payload reports 1005', () => {
    const { parser, rec } = feed(CLIENT, hex('88 00'));
    assert.deepEqual(rec.plain(), [{ type: 'close', code: CloseCode.NoStatus, reason: Buffer.alloc(0) }]);
    assert.equal(CloseCode.NoStatus, 1005);
    assert.equal(parser.done, true);
    assert.deepEqual(feed(SERVER, hex('88 80 0a 0b 0c 0d')).rec.plain(), [{ type: 'close', code: 1005, reason: Buffer.alloc(0) }]);
  });

  test('a 125-byte close payload (123-byte reason) is accepted', () => {
    const reason = Buffer.alloc(123, 0x72);
    const { rec } = feed(CLIENT, rawFrame({ opcode: Opcode.Close, payload: cat([0x03, 0xe8], reason) }));
    assert.deepEqual(rec.plain(), [{ type: 'close', code: 1000, reason }]);
  });

  test('a close reason that is not UTF-8 is WS_ERR_INVALID_UTF8 / 1007', () => {
    expectError(CLIENT, hex('88 04 03 e8 ff fe'), 'WS_ERR_INVALID_UTF8', 1007);
    expectError(CLIENT, hex('88 04 03 e8 e2 82'), 'WS_ERR_INVALID_UTF8', 1007); // truncated sequence
    expectError(CLIENT, hex('88 05 03 e8 ed a0 80'), 'WS_ERR_INVALID_UTF8', 1007); // surrogate
    expectError(CLIENT, hex('88 04 03 e8 c0 80'), 'WS_ERR_INVALID_UTF8', 1007); // overlong
    expectError(SERVER, rawFrame({ opcode: Opcode.Close, payload: hex('0f a0 61 80'), maskKey: KEY }), 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('skipUtf8Validation accepts an invalid close reason', () => {
    const { rec } = feed({ role: 'client', skipUtf8Validation: true }, hex('88 04 03 e8 ff fe'));
    assert.deepEqual(rec.plain(), [{ type: 'close', code: 1000, reason: hex('ff fe') }]);
  });

  test('nothing is reported after a close frame, in the same chunk or later ones', () => {
    const { parser, rec } = feed(CLIENT, hex('81 01 61 88 02 03 e8 81 01 62 89 00 ff ff'));
    assert.deepEqual(rec.plain(), [text('a'), { type: 'close', code: 1000, reason: Buffer.alloc(0) }]);
    assert.equal(parser.done, true);
    parser.push(hex('81 01 63'));
    parser.push(hex('70 70 70'));
    parser.push(hex('88 00'));
    assert.equal(rec.events.length, 2);
  });

  test('a close frame in the middle of a fragmented message ends parsing', () => {
    const { rec } = feed(CLIENT, hex('01 01 61 88 00 80 01 62'));
    assert.deepEqual(rec.plain(), [{ type: 'close', code: 1005, reason: Buffer.alloc(0) }]);
  });
});

describe('FrameParser: UTF-8 in text messages', () => {
  test('invalid UTF-8 in a single text frame is WS_ERR_INVALID_UTF8 / 1007', () => {
    expectError(CLIENT, hex('81 02 c0 80'), 'WS_ERR_INVALID_UTF8', 1007);
    expectError(CLIENT, hex('81 01 ff'), 'WS_ERR_INVALID_UTF8', 1007);
    expectError(CLIENT, hex('81 04 f4 90 80 80'), 'WS_ERR_INVALID_UTF8', 1007);
    expectError(CLIENT, hex('81 03 ed a0 80'), 'WS_ERR_INVALID_UTF8', 1007);
    expectError(SERVER, rawFrame({ opcode: Opcode.Text, payload: hex('61 62 80'), maskKey: KEY }), 'WS_ERR_INVALID_UTF8', 1007);
    // The same bytes as binary are fine.
    assert.deepEqual(feed(CLIENT, hex('82 02 c0 80')).rec.plain(), [binary([0xc0, 0x80])]);
  });

  test('fail-fast within one frame: the error comes on the piece with the bad byte, before the frame completes', () => {
    for (const opts of [CLIENT, SERVER]) {
      const maskKey = opts.role === 'server' ? KEY : undefined;
      const frame = rawFrame({ opcode: Opcode.Text, payload: cat('abc', [0x64, 0xff], 'rest of it'), maskKey });
      const headerLength = maskKey ? 6 : 2;
      const { parser, rec } = makeParser(opts);
      parser.push(frame.subarray(0, headerLength + 3)); // header + 'abc'
      assert.deepEqual(rec.events, []);
      parser.push(frame.subarray(headerLength + 3, headerLength + 5)); // 'd', 0xff
      assertOnlyError(rec, 'WS_ERR_INVALID_UTF8', 1007);
      parser.push(frame.subarray(headerLength + 5)); // the rest of the frame
      parser.push(hex('81 01 61'));
      assert.equal(rec.events.length, 1);
    }
  });

  test('fail-fast within one frame: a sequence that can never be valid fails without its remaining bytes', () => {
    const { parser, rec } = makeParser(CLIENT);
    parser.push(hex('81 0a 61 f4'));
    assert.deepEqual(rec.events, []);
    parser.push(hex('90')); // F4 90 is above U+10FFFF whatever follows
    assertOnlyError(rec, 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('fail-fast across fragments: [0xF4, 0x90] fails on the fragment that completes it', () => {
    const { parser, rec } = makeParser(CLIENT);
    parser.push(hex('01 01 f4')); // F4 alone may still become valid
    assert.deepEqual(rec.events, []);
    parser.push(hex('00 01 90')); // non-final fragment: no waiting for more
    assertOnlyError(rec, 'WS_ERR_INVALID_UTF8', 1007);
    parser.push(hex('80 02 80 80'));
    assert.equal(rec.events.length, 1);

    // Same with masking and an invalid byte in the middle of the 2nd fragment, which itself arrives in pieces.
    const s = makeParser(SERVER);
    s.parser.push(rawFrame({ opcode: Opcode.Text, fin: false, payload: 'hello ', maskKey: KEY }));
    const second = rawFrame({ opcode: Opcode.Continuation, fin: false, payload: cat('wor', [0xc3, 0x28], 'ld'), maskKey: KEY });
    s.parser.push(second.subarray(0, 6 + 4)); // header + 'wor' + C3
    assert.deepEqual(s.rec.events, []);
    s.parser.push(second.subarray(10, 11)); // 0x28 after C3
    assertOnlyError(s.rec, 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('fail-fast on a lone continuation byte at the start of a fragment', () => {
    const { parser, rec } = makeParser(CLIENT);
    parser.push(hex('01 02 c3 a9')); // é
    assert.deepEqual(rec.events, []);
    parser.push(hex('00 01 a9'));
    assertOnlyError(rec, 'WS_ERR_INVALID_UTF8', 1007);
  });

  test('a valid code point split across fragments and chunks passes', () => {
    // € = E2 82 AC over three fragments.
    assert.deepEqual(feed(CLIENT, hex('01 01 e2'), hex('00 01 82'), hex('80 01 ac')).rec.plain(), [text('€')]);
    // 😀 = F0 9F 98 80 over two fragments, with a ping between and a pong inside the chunk split.
    assert.deepEqual(
      feed(CLIENT, hex('01 02 61 f0 89 00 00 02 9f'), hex('98 8a 00 80 02 80 62')).rec.plain(),
      [{ type: 'ping', data: Buffer.alloc(0) }, { type: 'pong', data: Buffer.alloc(0) }, text('a😀b')],
    );
    // One frame, payload split inside a code point, masked.
    const frame = rawFrame({ opcode: Opcode.Text, payload: 'x😀y€', maskKey: KEY });
    for (let cut = 1; cut < frame.length; cut++) {
      assert.deepEqual(feed(SERVER, frame.subarray(0, cut), frame.subarray(cut)).rec.plain(), [text('x😀y€')], `cut ${cut}`);
    }
  });

  test('text ending in the middle of a sequence fails at fin', () => {
    // Single frame.
    expectError(CLIENT, hex('81 02 e2 82'), 'WS_ERR_INVALID_UTF8', 1007);
    expectError(CLIENT, hex('81 01 f0'), 'WS_ERR_INVALID_UTF8', 1007);
    // Single frame fed in pieces: no error until the payload is complete.
    const one = makeParser(CLIENT);
    one.parser.push(hex('81 03 61'));
    one.parser.push(hex('e2'));
    assert.deepEqual(one.rec.events, []);
    one.parser.push(hex('82'));
    assertOnlyError(one.rec, 'WS_ERR_INVALID_UTF8', 1007);
    // Fragmented: the open sequence is fine until the final fragment.
    const frag = makeParser(CLIENT);
    frag.parser.push(hex('01 02 61 e2'));
    frag.parser.push(hex('00 01 82'));
    frag.parser.push(hex('89 00'));
    assert.deepEqual(frag.rec.plain(), [{ type: 'ping', data: Buffer.alloc(0) }]);
    frag.parser.push(hex('80 00')); // empty final fragment
    assert.deepEqual(frag.rec.plain(), [
      { type: 'ping', data: Buffer.alloc(0) },
      { type: 'error', code: 'WS_ERR_INVALID_UTF8', closeCode: 1007 },
    ]);
  });

  test('the UTF-8 state does not leak from one message to the next', () => {
    // A message left unfinished by an error is not possible (parsing stops), but a binary message
    // with a dangling lead byte must not affect the following text message.
    assert.deepEqual(feed(CLIENT, hex('82 01 e2'), hex('81 02 82 ac')).rec.plain().at(-1), {
      type: 'error',
      code: 'WS_ERR_INVALID_UTF8',
      closeCode: 1007,
    });
    // A fragmented text message fully checked, then a fresh one starting with ASCII.
    assert.deepEqual(feed(CLIENT, hex('01 01 e2'), hex('80 02 82 ac'), hex('01 01 61'), hex('80 01 62')).rec.plain(), [text('€'), text('ab')]);
  });

  test('skipUtf8Validation delivers invalid text as is', () => {
    const opts = { role: 'client', skipUtf8Validation: true } as const;
    assert.deepEqual(feed(opts, hex('81 02 ff fe')).rec.plain(), [text(hex('ff fe'))]);
    assert.deepEqual(feed(opts, hex('01 01 f4'), hex('80 01 90')).rec.plain(), [text(hex('f4 90'))]);
    assert.deepEqual(feed(opts, hex('81 03 61'), hex('e2 82')).rec.plain(), [text(hex('61 e2 82'))]);
  });
});

describe('FrameParser: errors stop parsing', () => {
  test('bytes after an error in the same chunk are ignored', () => {
    const { parser, rec } = feed(CLIENT, hex('81 01 61 83 00 81 01 62 88 00'));
    assert.deepEqual(rec.plain(), [text('a'), { type: 'error', code: 'WS_ERR_INVALID_OPCODE', closeCode: 1002 }]);
    assert.equal(parser.done, true);
  });

  test('an error inside a split header stops parsing', () => {
    const { parser, rec } = makeParser(CLIENT);
    parser.push(hex('82'));
    parser.push(hex('7e 00'));
    assert.deepEqual(rec.events, []);
    parser.push(hex('10 81 01 61'));
    assertOnlyError(rec, 'WS_ERR_NON_MINIMAL_LENGTH', 1002);
  });

  test('destroy() stops parsing and drops buffered data', () => {
    const { parser, rec } = makeParser(CLIENT);
    parser.push(hex('82 05 01 02'));
    assert.equal(parser.done, false);
    parser.destroy();
    assert.equal(parser.done, true);
    parser.push(hex('03 04 05 81 01 61'));
    assert.deepEqual(rec.events, []);
  });

  test('a handler that destroys the parser from onMessage stops the rest of the chunk', () => {
    const events: string[] = [];
    const handler = {
      onMessage: (data: Buffer) => {
        events.push(data.toString());
        parser.destroy();
      },
      onPing: () => events.push('ping'),
      onPong: () => events.push('pong'),
      onClose: () => events.push('close'),
      onError: () => events.push('error'),
    };
    const parser: FrameParser = new FrameParser(handler, CLIENT);
    parser.push(hex('81 01 61 81 01 62 89 00'));
    assert.deepEqual(events, ['a']);
  });

  test('ProtocolError carries code, closeCode and message', () => {
    const e = new ProtocolError('WS_ERR_INVALID_OPCODE', 'bad');
    assert.equal(e.closeCode, 1002);
    assert.equal(e.message, 'bad');
    assert.equal(new ProtocolError('WS_ERR_INVALID_UTF8', 'x', 1007).closeCode, 1007);
  });
});

describe('FrameParser: valid parsing', () => {
  for (const size of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
    test(`text and binary of ${size} bytes, both roles, whole and split`, () => {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = 0x20 + (i % 90); // printable ASCII: valid UTF-8
      const headerLength = size < 126 ? 2 : size < 65536 ? 4 : 10;
      for (const opcode of [Opcode.Text, Opcode.Binary]) {
        const expected = [{ type: 'message', data: payload, isBinary: opcode === Opcode.Binary, compressed: false }];
        const plain = rawFrame({ opcode, payload });
        assert.equal(plain.length, headerLength + size);
        assert.deepEqual(feed(CLIENT, plain).rec.plain(), expected);
        const masked = rawFrame({ opcode, payload, maskKey: [0xde, 0xad, 0xbe, 0xef] });
        assert.equal(masked.length, headerLength + 4 + size);
        assert.deepEqual(feed(SERVER, masked).rec.plain(), expected);
        // Split in three pieces at awkward places.
        const cuts = [1, headerLength + 1, headerLength + 4 + Math.floor(size / 2)];
        assert.deepEqual(feed(SERVER, ...splitAt(masked, cuts)).rec.plain(), expected);
        assert.deepEqual(feed(CLIENT, ...splitAt(plain, [headerLength, headerLength + 3])).rec.plain(), expected);
      }
    });
  }

  test('ping and pong interleaved within a fragmented message', () => {
    const frames = [
      rawFrame({ opcode: Opcode.Binary, fin: false, payload: [1, 2], maskKey: KEY }),
      rawFrame({ opcode: Opcode.Ping, payload: 'p1', maskKey: KEY }),
      rawFrame({ opcode: Opcode.Continuation, fin: false, payload: [3], maskKey: KEY }),
      rawFrame({ opcode: Opcode.Pong, payload: 'q1', maskKey: KEY }),
      rawFrame({ opcode: Opcode.Ping, payload: '', maskKey: KEY }),
      rawFrame({ opcode: Opcode.Continuation, payload: [4, 5], maskKey: KEY }),
      rawFrame({ opcode: Opcode.Text, payload: 'after', maskKey: KEY }),
    ];
    const expected = [
      { type: 'ping', data: Buffer.from('p1') },
      { type: 'pong', data: Buffer.from('q1') },
      { type: 'ping', data: Buffer.alloc(0) },
      binary([1, 2, 3, 4, 5]),
      text('after'),
    ];
    assert.deepEqual(feed(SERVER, ...frames).rec.plain(), expected);
    assert.deepEqual(feed(SERVER, Buffer.concat(frames)).rec.plain(), expected);
  });

  test('empty fragments', () => {
    assert.deepEqual(feed(CLIENT, hex('01 00 00 00 80 00')).rec.plain(), [text('')]);
    assert.deepEqual(feed(CLIENT, hex('02 00 80 00')).rec.plain(), [binary([])]);
    assert.deepEqual(feed(CLIENT, hex('01 00 00 01 61 00 00 80 00')).rec.plain(), [text('a')]);
    assert.deepEqual(feed(CLIENT, hex('02 01 01 80 00')).rec.plain(), [binary([1])]);
    assert.deepEqual(feed(CLIENT, hex('81 00 82 00')).rec.plain(), [text(''), binary([])]);
    assert.deepEqual(feed(SERVER, hex('01 80 01 02 03 04'), hex('80 80 05 06 07 08')).rec.plain(), [text('')]);
  });

  test('binary vs text flag for fragmented messages follows the first frame', () => {
    assert.deepEqual(feed(CLIENT, hex('02 01 61 80 01 62')).rec.plain(), [binary([0x61, 0x62])]);
    assert.deepEqual(feed(CLIENT, hex('01 01 61 80 01 62')).rec.plain(), [text('ab')]);
  });

  test('many frames in one chunk are all reported before push returns', () => {
    const { parser, rec } = makeParser(CLIENT);
    parser.push(hex('81 01 61 82 01 62 89 01 63 8a 01 64 81 00'));
    assert.deepEqual(rec.plain(), [
      text('a'),
      binary([0x62]),
      { type: 'ping', data: Buffer.from('c') },
      { type: 'pong', data: Buffer.from('d') },
      text(''),
    ]);
    assert.equal(parser.done, false);
  });

  test('an empty push does nothing', () => {
    const { parser, rec } = makeParser(CLIENT);
    parser.push(Buffer.alloc(0));
    parser.push(hex('81'));
    parser.push(Buffer.alloc(0));
    parser.push(hex('01'));
    parser.push(Buffer.alloc(0));
    parser.push(hex('61'));
    assert.deepEqual(rec.plain(), [text('a')]);
  });

  test('header and mask bytes split at every offset (two chunks), for each header size', () => {
    const cases: { opts: FrameParserOptions; frame: Buffer; expected: unknown[] }[] = [];
    for (const size of [0, 5, 126, 300, 65536]) {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = (i * 7) & 0xff;
      const exp = [binary(payload)];
      cases.push({ opts: SERVER, frame: rawFrame({ opcode: Opcode.Binary, payload, maskKey: [1, 0x80, 0xff, 0x33] }), expected: exp });
      cases.push({ opts: CLIENT, frame: rawFrame({ opcode: Opcode.Binary, payload }), expected: exp });
    }
    for (const { opts, frame, expected } of cases) {
      const limit = Math.min(frame.length, 20);
      for (let cut = 0; cut <= limit; cut++) {
        assert.deepEqual(feed(opts, frame.subarray(0, cut), frame.subarray(cut)).rec.plain(), expected, `${opts.role} len ${frame.length} cut ${cut}`);
      }
    }
  });

  test('two frames split at every pair of offsets (three chunks)', () => {
    const stream = Buffer.concat([
      rawFrame({ opcode: Opcode.Text, fin: false, payload: 'hé', maskKey: [9, 8, 7, 6] }),
      rawFrame({ opcode: Opcode.Ping, payload: 'pi', maskKey: [1, 2, 3, 4] }),
      rawFrame({ opcode: Opcode.Continuation, payload: '€!', maskKey: [0xff, 0, 0xff, 0] }),
      rawFrame({ opcode: Opcode.Close, payload: cat([0x0f, 0xa0], 'bye'), maskKey: [5, 5, 5, 5] }),
    ]);
    const expected = [{ type: 'ping', data: Buffer.from('pi') }, text('hé€!'), { type: 'close', code: 4000, reason: Buffer.from('bye') }];
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        assert.deepEqual(feed(SERVER, ...splitAt(stream, [i, j])).rec.plain(), expected, `cuts ${i} ${j}`);
      }
    }
  });

  test('fed one byte at a time', () => {
    const stream = Buffer.concat([
      rawFrame({ opcode: Opcode.Text, payload: 'Hello, wörld', maskKey: KEY }),
      rawFrame({ opcode: Opcode.Binary, payload: Buffer.alloc(200, 0xab), maskKey: KEY }),
      rawFrame({ opcode: Opcode.Binary, fin: false, payload: Buffer.alloc(0), maskKey: KEY }),
      rawFrame({ opcode: Opcode.Pong, payload: 'x', maskKey: KEY }),
      rawFrame({ opcode: Opcode.Continuation, payload: Buffer.alloc(70000, 0x01), maskKey: KEY }),
      rawFrame({ opcode: Opcode.Close, payload: cat([0x03, 0xe8]), maskKey: KEY }),
    ]);
    const { parser, rec } = makeParser(SERVER);
    for (let i = 0; i < stream.length; i++) parser.push(stream.subarray(i, i + 1));
    assert.deepEqual(rec.plain(), [
      text('Hello, wörld'),
      binary(Buffer.alloc(200, 0xab)),
      { type: 'pong', data: Buffer.from('x') },
      binary(Buffer.alloc(70000, 0x01)),
      { type: 'close', code: 1000, reason: Buffer.alloc(0) },
    ]);
  });

  test('default options: role decides masking; maxPayload defaults to 100 MiB', () => {
    const rec = new Recorder();
    const parser = new FrameParser(rec, { role: 'server' });
    parser.push(hex('82 ff 00 00 00 00 06 40 00 00 00 00 00 00'));
    assert.deepEqual(rec.events, []);
    parser.destroy();
  });
});

describe('FrameParser: pause() / resume()', () => {
  /** A recorder that pauses the parser after every event it reports. */
  function pausing(options: FrameParserOptions) {
    const rec = new Recorder();
    let pausedByHandler = false;
    const handler = {
      onMessage: (d: Buffer, b: boolean, c: boolean) => (rec.onMessage(d, b, c), pause()),
      onPing: (d: Buffer) => (rec.onPing(d), pause()),
      onPong: (d: Buffer) => (rec.onPong(d), pause()),
      onClose: (code: number, r: Buffer) => (rec.onClose(code, r), pause()),
      onError: (e: ProtocolError) => (rec.onError(e), pause()),
    };
    const parser = new FrameParser(handler, options);
    function pause() {
      pausedByHandler = true;
      parser.pause();
    }
    /** Resumes once; returns whether the handler paused again. */
    function step(): boolean {
      pausedByHandler = false;
      parser.resume();
      return pausedByHandler;
    }
    return { parser, rec, step, isPaused: () => pausedByHandler };
  }

  test('one event per resume(), in order, including frames pushed while paused', () => {
    const { parser, rec, step } = pausing(CLIENT);
    parser.push(hex('81 01 61 89 01 70 82 01 62'));
    assert.deepEqual(rec.plain(), [text('a')]);
    parser.push(hex('81 01 63 88 00 81 01 64')); // held
    assert.equal(rec.events.length, 1);
    assert.equal(step(), true);
    assert.deepEqual(rec.plain().at(-1), { type: 'ping', data: Buffer.from('p') });
    assert.equal(step(), true);
    assert.deepEqual(rec.plain().at(-1), binary([0x62]));
    assert.equal(step(), true);
    assert.deepEqual(rec.plain().at(-1), text('c'));
    assert.equal(step(), true);
    assert.deepEqual(rec.plain().at(-1), { type: 'close', code: 1005, reason: Buffer.alloc(0) });
    assert.equal(step(), false); // done: the frame after the close is never reported
    assert.equal(rec.events.length, 5);
    assert.equal(parser.done, true);
  });

  test('pause() and resume() from the caller, with a frame split across held chunks', () => {
    const { parser, rec } = makeParser(SERVER);
    const frame = rawFrame({ opcode: Opcode.Text, payload: 'hello', maskKey: KEY });
    parser.pause();
    parser.push(frame.subarray(0, 3));
    parser.push(frame.subarray(3, 8));
    parser.push(frame.subarray(8));
    assert.deepEqual(rec.events, []);
    parser.resume();
    assert.deepEqual(rec.plain(), [text('hello')]);
    parser.resume(); // not paused: no effect
    assert.deepEqual(rec.plain(), [text('hello')]);
  });

  test('destroy() while paused drops the held bytes', () => {
    const { parser, rec } = makeParser(CLIENT);
    parser.pause();
    parser.push(hex('81 01 61'));
    parser.destroy();
    parser.resume();
    parser.push(hex('81 01 62'));
    assert.deepEqual(rec.events, []);
  });

  test('an error found after resume() is reported once, then nothing', () => {
    const { parser, rec, step } = pausing(CLIENT);
    parser.push(hex('81 01 61 83 00 81 01 62'));
    assert.deepEqual(rec.plain(), [text('a')]);
    step();
    assert.deepEqual(rec.plain(), [text('a'), { type: 'error', code: 'WS_ERR_INVALID_OPCODE', closeCode: 1002 }]);
    assert.equal(step(), false);
    parser.push(hex('81 01 63'));
    assert.equal(rec.events.length, 2);
  });
});

describe('FrameParser: borrowed chunks', () => {
  /** Pushes `bytes` through one lent 64 KiB buffer, overwritten after every push; the handler keeps what it gets uncopied. */
  function feedLent(bytes: Buffer, options: FrameParserOptions): Array<{ type: string; data?: Buffer }> {
    const events: Array<{ type: string; data?: Buffer }> = [];
    const parser = new FrameParser(
      {
        onMessage: (data) => events.push({ type: 'message', data }),
        onPing: (data) => events.push({ type: 'ping', data }),
        onPong: (data) => events.push({ type: 'pong', data }),
        onClose: () => events.push({ type: 'close' }),
        onError: (error) => events.push({ type: error.code }),
      },
      { ...options, borrowedChunks: true },
    );
    const lent = Buffer.alloc(64 * 1024);
    for (let offset = 0; offset < bytes.length; offset += lent.length) {
      const n = bytes.copy(lent, 0, offset, offset + lent.length);
      parser.push(lent.subarray(0, n));
      lent.fill(0xee);
    }
    return events;
  }

  for (const size of [0, 125, 126, 65535, 65536, 1024 * 1024, 16 * 1024 * 1024 + 5]) {
    test(`a ${size}-byte masked payload pushed in lent 64 KiB chunks arrives intact`, () => {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = (i * 7 + (i >>> 9)) & 0xff;
      // Above 16 MiB the parser keeps copied pieces instead of allocating the whole frame from its header.
      const frame = rawFrame({ opcode: Opcode.Binary, payload, maskKey: KEY });
      const events = feedLent(Buffer.concat([frame, rawFrame({ opcode: Opcode.Ping, payload: 'p', maskKey: KEY })]), { role: 'server', maxPayload: 0 });
      assert.equal(events.length, 2);
      assert.equal(events[0]!.type, 'message');
      assert.ok(events[0]!.data!.equals(payload), 'payload intact after the lent buffer was overwritten');
      assert.deepEqual(events[1], { type: 'ping', data: Buffer.from('p') });
    });
  }

  test('a header split inside its masking key, then the payload, both lent', () => {
    const frame = rawFrame({ opcode: Opcode.Text, payload: 'hello, lent world', maskKey: KEY });
    for (let cut = 1; cut < frame.length; cut++) {
      const events: Buffer[] = [];
      const parser = new FrameParser(
        { onMessage: (d) => events.push(d), onPing() {}, onPong() {}, onClose() {}, onError: (e) => assert.fail(e.message) },
        { role: 'server', borrowedChunks: true },
      );
      for (const piece of [frame.subarray(0, cut), frame.subarray(cut)]) {
        const lent = Buffer.from(piece);
        parser.push(lent);
        lent.fill(0xee);
      }
      assert.deepEqual(events.map(String), ['hello, lent world'], `cut at ${cut}`);
    }
  });
  test('a header alone does not make the parser allocate a long frame: at most 1 MiB or eight times what arrived', () => {
    const before = process.memoryUsage().arrayBuffers;
    const parsers: FrameParser[] = [];
    for (let i = 0; i < 100; i++) {
      const parser = new FrameParser({ onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onError: (e) => assert.fail(e.message) }, { role: 'server', borrowedChunks: true });
      // A 16 MiB binary frame announced, then 1 KiB of it.
      const header = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, ...KEY]);
      parser.push(Buffer.concat([header, Buffer.alloc(1024)]));
      parser.push(Buffer.alloc(1024));
      parsers.push(parser);
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 8 * 1024 * 1024, `100 parsers holding 2 KiB each of a 16 MiB frame grew array buffers by ${grown} bytes`);
    assert.equal(parsers.length, 100);
  });
});
