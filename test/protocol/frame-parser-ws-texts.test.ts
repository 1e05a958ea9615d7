// The frame parser's errors as ws 8.21 reports them (issue #15): RangeErrors with ws's message
// texts, still SwitchboardErrors with a stable code; and ws 8.21's maxBufferedChunks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { FrameParser, ProtocolError, SwitchboardError, type FrameParserOptions } from '../../packages/switchboard/src/protocol/index.js';
import { Recorder, feed, hex, rawFrame } from './helpers.js';

const CLIENT: FrameParserOptions = { role: 'client' };
const SERVER: FrameParserOptions = { role: 'server' };

function errorOf(options: FrameParserOptions, bytes: Buffer): ProtocolError {
  const { rec } = feed(options, bytes);
  const event = rec.events.find((e) => e.type === 'error') as { error: ProtocolError } | undefined;
  assert.ok(event, 'an error was reported');
  return event.error;
}

describe("FrameParser errors: ws's classes and texts", () => {
  test('a ProtocolError is a RangeError and a SwitchboardError', () => {
    const error = errorOf(CLIENT, hex('85 00'));
    assert.ok(error instanceof RangeError);
    assert.ok(error instanceof ProtocolError);
    assert.ok(error instanceof SwitchboardError);
    assert.equal(error.code, 'WS_ERR_INVALID_OPCODE');
  });

  for (const [name, options, bytes, message] of [
    ['an invalid opcode', CLIENT, hex('85 00'), 'Invalid WebSocket frame: invalid opcode 5'],
    ['RSV2 set', CLIENT, hex('a1 00'), 'Invalid WebSocket frame: RSV2 and RSV3 must be clear'],
    ['RSV1 without an extension', CLIENT, hex('c1 00'), 'Invalid WebSocket frame: RSV1 must be clear'],
    ['a fragmented ping', CLIENT, hex('09 00'), 'Invalid WebSocket frame: FIN must be set'],
    ['a 126-byte ping', CLIENT, hex('89 7e 00 7e'), 'Invalid WebSocket frame: invalid payload length 126'],
    ['an unmasked client frame', SERVER, hex('81 00'), 'Invalid WebSocket frame: MASK must be set'],
    ['a masked server frame', CLIENT, hex('81 80 00 00 00 00'), 'Invalid WebSocket frame: MASK must be clear'],
    ['an invalid close code', CLIENT, hex('88 02 03 e7'), 'Invalid WebSocket frame: invalid status code 999'],
    ['invalid UTF-8', CLIENT, hex('81 01 ff'), 'Invalid WebSocket frame: invalid UTF-8 sequence'],
    ['a message over maxPayload', { role: 'client', maxPayload: 1 } as FrameParserOptions, hex('82 02 00 00'), 'Max payload size exceeded'],
    ['too many fragments', { role: 'client', maxFragments: 1 } as FrameParserOptions, hex('02 01 00 00 01 00'), 'Too many message fragments'],
  ] as const) {
    test(`${name}: ${message}`, () => {
      assert.equal(errorOf(options, bytes).message, message);
    });
  }
});

describe('FrameParser: maxBufferedChunks', () => {
  test('a frame split into more chunks than the limit fails with 1008; at the limit it is read', () => {
    const frame = rawFrame({ opcode: 0x2, payload: Buffer.alloc(10) });
    const push = (limit: number): Recorder => {
      const rec = new Recorder();
      const parser = new FrameParser(rec, { role: 'client', maxBufferedChunks: limit });
      parser.push(frame.subarray(0, 2));
      for (let i = 2; i < frame.length; i++) parser.push(frame.subarray(i, i + 1));
      return rec;
    };
    // The header, then 10 one-byte pieces: 9 are kept before the last completes the frame.
    assert.deepEqual(push(9).plain().map((e) => (e as { type: string }).type), ['message']);
    const refused = push(8).events;
    assert.equal(refused.length, 1);
    const error = (refused[0] as { error: ProtocolError }).error;
    assert.equal(error.code, 'WS_ERR_TOO_MANY_BUFFERED_PARTS');
    assert.equal(error.closeCode, 1008);
    assert.equal(error.message, 'Too many buffered chunks');
  });
});
