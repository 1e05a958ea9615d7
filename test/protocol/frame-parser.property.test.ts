import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { encodeClosePayload, encodeFrame, FrameParser, Opcode, type FrameParserOptions } from '../../packages/switchboard/src/protocol/index.js';
import { patternBytes, Recorder, splitAt, utf8OfLength } from './helpers.js';

type Control = { kind: 'ping' | 'pong'; data: Buffer };
type Message = {
  kind: 'message';
  isBinary: boolean;
  data: Buffer;
  /** Fragment boundaries (any order, duplicates allowed: they make empty fragments). */
  cuts: number[];
  /** Control frames sent before fragment i + 1. */
  between: Control[][];
};
type Item = Message | Control;

const SPECIAL_SIZES = [0, 125, 126, 65535, 65536];

const binaryData = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)) },
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 300 }).map((u) => Buffer.from(u)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...SPECIAL_SIZES), fc.integer()).map(([n, seed]) => patternBytes(n, seed)) },
);
const textData = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map((s) => Buffer.from(s, 'utf8')) },
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 40, maxLength: 150 }).map((s) => Buffer.from(s, 'utf8')) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...SPECIAL_SIZES), fc.nat()).map(([n, seed]) => utf8OfLength(n, seed)) },
);
const controlArb: fc.Arbitrary<Control> = fc.record({
  kind: fc.constantFrom('ping' as const, 'pong' as const),
  data: fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 120, maxLength: 125 })).map((u) => Buffer.from(u)),
});
const messageArb: fc.Arbitrary<Message> = fc
  .boolean()
  .chain((isBinary) =>
    fc.record({
      kind: fc.constant('message' as const),
      isBinary: fc.constant(isBinary),
      data: isBinary ? binaryData : textData,
      cuts: fc.array(fc.nat(), { maxLength: 5 }),
      between: fc.array(fc.array(controlArb, { maxLength: 2 }), { maxLength: 5 }),
    }),
  );
const itemArb: fc.Arbitrary<Item> = fc.oneof({ weight: 3, arbitrary: messageArb }, { weight: 1, arbitrary: controlArb });
const keyArb = fc.uint8Array({ minLength: 4, maxLength: 4 });
const closeArb = fc.option(
  fc.record({
    code: fc.constantFrom<number | undefined>(undefined, 1000, 1001, 1011, 3000, 4999),
    reason: fc.string({ unit: 'binary', maxLength: 30 }),
    trailing: fc.uint8Array({ maxLength: 30 }),
  }),
  { nil: undefined },
);

interface Encoded {
  bytes: Buffer;
  expected: unknown[];
}

function encodeStream(
  items: Item[],
  close: { code: number | undefined; reason: string; trailing: Uint8Array } | undefined,
  keys: Uint8Array[],
  role: 'server' | 'client',
): Encoded {
  const frames: Buffer[] = [];
  const expected: unknown[] = [];
  let k = 0;
  const mask = () => (role === 'server' ? keys[k++ % keys.length]! : null);
  const control = (c: Control) => {
    frames.push(encodeFrame(c.data, { opcode: c.kind === 'ping' ? Opcode.Ping : Opcode.Pong, maskKey: mask() }));
    expected.push({ type: c.kind, data: c.data });
  };
  for (const item of items) {
    if (item.kind !== 'message') {
      control(item);
      continue;
    }
    const points = item.cuts.map((c) => c % (item.data.length + 1)).sort((a, b) => a - b);
    const bounds = [0, ...points, item.data.length];
    for (let i = 0; i + 1 < bounds.length; i++) {
      if (i > 0) for (const c of item.between[i - 1] ?? []) control(c);
      const opcode = i === 0 ? (item.isBinary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation;
      const fin = i + 2 === bounds.length;
      frames.push(encodeFrame(item.data.subarray(bounds[i], bounds[i + 1]), { opcode, fin, maskKey: mask() }));
    }
    expected.push({ type: 'message', data: item.data, isBinary: item.isBinary, compressed: false });
  }
  if (close) {
    frames.push(encodeFrame(encodeClosePayload(close.code, close.reason), { opcode: Opcode.Close, maskKey: mask() }));
    expected.push({ type: 'close', code: close.code ?? 1005, reason: Buffer.from(close.reason && close.code !== undefined ? close.reason : '') });
    frames.push(Buffer.from(close.trailing)); // ignored: nothing is read after a close frame
  }
  return { bytes: Buffer.concat(frames), expected };
}

/** Parses copies of the chunks (the parser unmasks in place) and returns the plain events. */
function run(options: FrameParserOptions, chunks: Buffer[]): unknown[] {
  const rec = new Recorder();
  const parser = new FrameParser(rec, options);
  for (const chunk of chunks) parser.push(Buffer.from(chunk));
  return rec.plain();
}

function chunksFor(bytes: Buffer, cuts: number[], step: number | undefined): Buffer[] {
  if (step !== undefined && bytes.length <= 20000) {
    const all: number[] = [];
    for (let i = step; i < bytes.length; i += step) all.push(i);
    return splitAt(bytes, all);
  }
  return splitAt(bytes, cuts.map((c) => c % (bytes.length + 1)));
}

/** A valid frame stream's parts, for fc.property: items, close, keys, role, cuts, step (see chunksFor). */
const validStreamArbs = [
  fc.array(itemArb, { maxLength: 6 }),
  closeArb,
  fc.array(keyArb, { minLength: 1, maxLength: 6 }),
  fc.constantFrom('server' as const, 'client' as const),
  fc.array(fc.nat(), { maxLength: 40 }),
  fc.option(fc.integer({ min: 1, max: 13 }), { nil: undefined }),
] as const;

describe('FrameParser properties', () => {
  test('valid frame sequences parse the same, whole or split at random boundaries', () => {
    fc.assert(
      fc.property(
        ...validStreamArbs,
        (items, close, keys, role, cuts, step) => {
          const { bytes, expected } = encodeStream(items, close, keys, role);
          const options: FrameParserOptions = { role };
          assert.deepEqual(run(options, [bytes]), expected);
          assert.deepEqual(run(options, chunksFor(bytes, cuts, step)), expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  /**
   * Feeds the chunks as the I/O layer with shared reads does: each one is
   * copied into the same lent buffer, pushed, then the lent bytes are
   * overwritten. The handler keeps what it is given without copying, so a
   * payload left pointing into the lent buffer shows up as 0xee bytes.
   * `pauseEvery` pauses the parser after every event and resumes it before
   * the next push, so that bytes held while paused come from lent chunks.
   */
  function runBorrowed(options: FrameParserOptions, chunks: Buffer[], pauseEvery: boolean): unknown[] {
    const events: unknown[] = [];
    const lent = Buffer.alloc(Math.max(1, ...chunks.map((c) => c.length)) + 7);
    const parser: FrameParser = new FrameParser(
      {
        onMessage: (data, isBinary, compressed) => (events.push({ type: 'message', data, isBinary, compressed }), pauseEvery && parser.pause()),
        onPing: (data) => (events.push({ type: 'ping', data }), pauseEvery && parser.pause()),
        onPong: (data) => (events.push({ type: 'pong', data }), pauseEvery && parser.pause()),
        onClose: (code, reason) => events.push({ type: 'close', code, reason }),
        onError: (error) => events.push({ type: 'error', code: error.code, closeCode: error.closeCode }),
      },
      { ...options, borrowedChunks: true },
    );
    let shift = 0;
    for (const chunk of chunks) {
      parser.resume();
      // Lent chunks start anywhere in the buffer, as the unmasking's alignment varies.
      shift = (shift + 3) % 8;
      const view = lent.subarray(shift, shift + chunk.length);
      view.set(chunk);
      parser.push(view);
      lent.fill(0xee);
    }
    for (let i = 0; i < 10_000 && !parser.done; i++) {
      const before = events.length;
      parser.resume();
      if (events.length === before) break;
    }
    return events;
  }

  test('borrowed chunks: the same events as owned ones, although every chunk is overwritten after its push', () => {
    fc.assert(
      fc.property(
        ...validStreamArbs,
        fc.boolean(),
        (items, close, keys, role, cuts, step, pauseEvery) => {
          const { bytes, expected } = encodeStream(items, close, keys, role);
          const options: FrameParserOptions = { role };
          assert.deepEqual(runBorrowed(options, [bytes], pauseEvery), expected);
          assert.deepEqual(runBorrowed(options, chunksFor(bytes, cuts, step), pauseEvery), expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  /** Checks the invariants of one event list: at most one error, and nothing after an error or a close. */
  function checkInvariants(events: unknown[]): void {
    const types = events.map((e) => (e as { type: string }).type);
    const errors = types.filter((t) => t === 'error').length;
    const closes = types.filter((t) => t === 'close').length;
    assert.ok(errors + closes <= 1, `at most one terminal event: ${types.join(',')}`);
    if (errors + closes === 1) assert.ok(types.at(-1) === 'error' || types.at(-1) === 'close', `terminal event last: ${types.join(',')}`);
  }

  function feedChecked(options: FrameParserOptions, chunks: Buffer[]): unknown[] {
    const rec = new Recorder();
    const parser = new FrameParser(rec, options);
    let terminalAt = -1;
    for (const chunk of chunks) {
      assert.doesNotThrow(() => parser.push(Buffer.from(chunk)));
      if (terminalAt >= 0) assert.equal(rec.events.length, terminalAt, 'nothing reported after an error or a close');
      const last = rec.events.at(-1);
      if (terminalAt < 0 && (last?.type === 'error' || last?.type === 'close')) {
        terminalAt = rec.events.length;
        assert.equal(parser.done, true);
      }
    }
    checkInvariants(rec.plain());
    return rec.plain();
  }

  const optionsArb: fc.Arbitrary<FrameParserOptions> = fc.record({
    role: fc.constantFrom('server' as const, 'client' as const),
    allowRsv1: fc.boolean(),
    maxPayload: fc.constantFrom(undefined, 0, 16, 1000),
    skipUtf8Validation: fc.boolean(),
  }, { requiredKeys: ['role'] });

  test('random bytes in random chunks: no throw, at most one error, nothing after it, same events as whole', () => {
    fc.assert(
      fc.property(
        optionsArb,
        fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ maxLength: 12 })),
        fc.array(fc.nat(), { maxLength: 30 }),
        (options, data, cuts) => {
          const bytes = Buffer.from(data);
          const whole = feedChecked(options, [bytes]);
          const split = feedChecked(options, splitAt(bytes, cuts.map((c) => c % (bytes.length + 1))));
          assert.deepEqual(split, whole);
        },
      ),
      { numRuns: 600 },
    );
  });

  test('corrupted valid streams: no throw, at most one error, nothing after it, same events as whole', () => {
    const mutationArb = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 3, arbitrary: messageArb }, { weight: 1, arbitrary: controlArb }), { maxLength: 5 }),
        closeArb,
        fc.array(keyArb, { minLength: 1, maxLength: 3 }),
        optionsArb,
        fc.array(mutationArb, { maxLength: 3 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (items, close, keys, options, mutations, truncateAt, cuts) => {
          const small = items.filter((i) => i.data.length < 1000);
          let { bytes } = encodeStream(small, close, keys, options.role);
          for (const m of mutations) if (bytes.length > 0) bytes[m.at % bytes.length] = m.value;
          if (truncateAt !== undefined) bytes = bytes.subarray(0, truncateAt % (bytes.length + 1));
          const whole = feedChecked(options, [bytes]);
          const split = feedChecked(options, splitAt(bytes, cuts.map((c) => c % (bytes.length + 1))));
          assert.deepEqual(split, whole);
        },
      ),
      { numRuns: 400 },
    );
  });

  test('pausing after every event and resuming later reports the same events', () => {
    fc.assert(
      fc.property(
        fc.array(itemArb, { maxLength: 5 }),
        closeArb,
        fc.array(keyArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.array(fc.boolean(), { maxLength: 30 }),
        (items, close, keys, cuts, resumeBeforePush) => {
          const small = items.filter((i) => i.data.length < 2000);
          const { bytes, expected } = encodeStream(small, close, keys, 'server');
          const rec = new Recorder();
          let pausedByHandler = false;
          const pause = () => {
            pausedByHandler = true;
            parser.pause();
          };
          const parser: FrameParser = new FrameParser(
            {
              onMessage: (d, b, c) => (rec.onMessage(d, b, c), pause()),
              onPing: (d) => (rec.onPing(d), pause()),
              onPong: (d) => (rec.onPong(d), pause()),
              onClose: (code, r) => (rec.onClose(code, r), pause()),
              onError: (e) => (rec.onError(e), pause()),
            },
            { role: 'server' },
          );
          const drain = () => {
            while (pausedByHandler) {
              const before = rec.events.length;
              pausedByHandler = false;
              parser.resume();
              // Each resume() reports at most one event, since the handler pauses at once.
              assert.ok(rec.events.length - before <= 1);
            }
          };
          const chunks = splitAt(bytes, cuts.map((c) => c % (bytes.length + 1)));
          chunks.forEach((chunk, i) => {
            const count = rec.events.length;
            const wasPaused = pausedByHandler;
            if (resumeBeforePush[i]) drain();
            else if (wasPaused) {
              parser.push(Buffer.from(chunk)); // held while paused
              assert.equal(rec.events.length, count, 'nothing reported while paused');
              return;
            }
            parser.push(Buffer.from(chunk));
          });
          drain();
          assert.deepEqual(rec.plain(), expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});
