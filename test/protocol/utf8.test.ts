import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer, isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { StreamingUtf8Validator } from '../../packages/switchboard/src/protocol/index.js';
import { hex, splitAt } from './helpers.js';

/** Pushes each piece; returns the result of every push and of end(). */
function validate(pieces: Uint8Array[]): { pushes: boolean[]; end: boolean } {
  const v = new StreamingUtf8Validator();
  const pushes = pieces.map((p) => v.push(p));
  return { pushes, end: v.end() };
}

function validWhole(pieces: Uint8Array[]): boolean {
  const { pushes, end } = validate(pieces);
  return pushes.every(Boolean) && end;
}

/**
 * Reference: whether `prefix` can be extended into valid UTF-8. Any unfinished
 * final sequence needs at most 3 more bytes; only the byte right after a lead
 * byte is restricted beyond 80-BF (to A0-BF, 80-9F, 90-BF or 80-8F), so trying
 * 80, 90 and A0 in that position and 80 elsewhere covers every case.
 */
function extendable(prefix: Uint8Array): boolean {
  if (isUtf8(prefix)) return true;
  for (let extra = 1; extra <= 3; extra++) {
    for (const first of [0x80, 0x90, 0xa0]) {
      for (let pos = 0; pos < extra; pos++) {
        const tail = Buffer.alloc(extra, 0x80);
        tail[pos] = first;
        if (isUtf8(Buffer.concat([prefix, tail]))) return true;
      }
    }
  }
  return false;
}

describe('StreamingUtf8Validator: examples', () => {
  const valid: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['ASCII', Buffer.from('hello, world')],
    ['NUL and DEL', hex('00 7f')],
    ['U+0080 (smallest 2-byte)', hex('c2 80')],
    ['U+07FF (largest 2-byte)', hex('df bf')],
    ['U+0800 (smallest 3-byte)', hex('e0 a0 80')],
    ['U+D7FF (below surrogates)', hex('ed 9f bf')],
    ['U+E000 (above surrogates)', hex('ee 80 80')],
    ['U+FFFF', hex('ef bf bf')],
    ['U+10000 (smallest 4-byte)', hex('f0 90 80 80')],
    ['U+10FFFF (largest)', hex('f4 8f bf bf')],
    ['mixed', Buffer.from('aé€😀ж中\u{10FFFF}')],
  ];
  const invalid: [string, Buffer][] = [
    ['lone continuation', hex('80')],
    ['continuation after ASCII', hex('61 bf')],
    ['C0 overlong', hex('c0 80')],
    ['C1 overlong', hex('c1 bf')],
    ['3-byte overlong', hex('e0 80 80')],
    ['3-byte overlong E0 9F', hex('e0 9f bf')],
    ['4-byte overlong', hex('f0 80 80 80')],
    ['4-byte overlong F0 8F', hex('f0 8f bf bf')],
    ['high surrogate', hex('ed a0 80')],
    ['low surrogate', hex('ed bf bf')],
    ['above U+10FFFF', hex('f4 90 80 80')],
    ['F5 lead', hex('f5 80 80 80')],
    ['FF', hex('ff')],
    ['FE', hex('fe')],
    ['truncated 2-byte', hex('c3')],
    ['truncated 3-byte', hex('e2 82')],
    ['truncated 4-byte', hex('f0 9f 98')],
    ['lead followed by ASCII', hex('e2 41 41')],
    ['too many continuations', hex('c3 a9 a9')],
  ];

  for (const [name, bytes] of valid) {
    test(`valid: ${name}`, () => {
      assert.equal(isUtf8(bytes), true); // sanity of the vector itself
      assert.equal(validWhole([bytes]), true);
      // Split at every position.
      for (let i = 0; i <= bytes.length; i++) {
        assert.equal(validWhole([bytes.subarray(0, i), bytes.subarray(i)]), true, `split at ${i}`);
      }
      // One byte at a time.
      assert.equal(validWhole([...bytes].map((b) => Uint8Array.of(b))), true);
    });
  }

  for (const [name, bytes] of invalid) {
    test(`invalid: ${name}`, () => {
      assert.equal(isUtf8(bytes), false);
      assert.equal(validWhole([bytes]), false);
      for (let i = 0; i <= bytes.length; i++) {
        assert.equal(validWhole([bytes.subarray(0, i), bytes.subarray(i)]), false, `split at ${i}`);
      }
      assert.equal(validWhole([...bytes].map((b) => Uint8Array.of(b))), false);
      // Embedded in valid text it is still invalid.
      assert.equal(validWhole([Buffer.from('abc€'), bytes, Buffer.from('xyz')]), false);
    });
  }
});

describe('StreamingUtf8Validator: fail-fast', () => {
  const cases: [string, number[], number][] = [
    // [name, bytes pushed one at a time, index of the first push that must return false]
    ['F4 90 (above U+10FFFF)', [0xf4, 0x90], 1],
    ['E0 80 (overlong)', [0xe0, 0x80], 1],
    ['ED A0 (surrogate)', [0xed, 0xa0], 1],
    ['F0 8F (overlong)', [0xf0, 0x8f], 1],
    ['C0 alone', [0xc0], 0],
    ['F5 alone', [0xf5], 0],
    ['continuation alone', [0x80], 0],
    ['E2 82 then ASCII', [0xe2, 0x82, 0x41], 2],
    ['F0 9F then ASCII', [0xf0, 0x9f, 0x41], 2],
    ['F0 9F 98 then ASCII', [0xf0, 0x9f, 0x98, 0x41], 3],
    ['C3 then lead', [0xc3, 0xc3], 1],
  ];
  for (const [name, bytes, failAt] of cases) {
    test(`${name}: push returns false at byte ${failAt}`, () => {
      const v = new StreamingUtf8Validator();
      for (let i = 0; i < bytes.length; i++) {
        assert.equal(v.push(Uint8Array.of(bytes[i]!)), i < failAt, `push #${i}`);
        if (i >= failAt) break;
      }
      // Also when the bad byte arrives at the end of a larger piece.
      const w = new StreamingUtf8Validator();
      assert.equal(w.push(Buffer.concat([Buffer.from('ok '), Buffer.from(bytes.slice(0, failAt + 1))])), false);
    });
  }

  test('a valid prefix of a sequence is accepted until end()', () => {
    for (const prefix of [[0xc3], [0xe2], [0xe2, 0x82], [0xf0], [0xf0, 0x9f], [0xf0, 0x9f, 0x98], [0xf4, 0x8f, 0xbf], [0xe0, 0xa0], [0xed, 0x9f]]) {
      const v = new StreamingUtf8Validator();
      assert.equal(v.push(Buffer.concat([Buffer.from('a'), Buffer.from(prefix)])), true, `prefix ${prefix}`);
      assert.equal(v.end(), false, `end after ${prefix}`);
    }
  });

  test('end() resets: the next text starts fresh', () => {
    const v = new StreamingUtf8Validator();
    assert.equal(v.push(hex('e2 82')), true);
    assert.equal(v.end(), false);
    // Without the reset, 0xAC would complete '€'; as a fresh start it is a lone continuation.
    assert.equal(v.push(hex('ac')), false);
    const w = new StreamingUtf8Validator();
    assert.equal(w.push(hex('e2 82')), true);
    assert.equal(w.end(), false);
    assert.equal(w.push(Buffer.from('abc')), true);
    assert.equal(w.end(), true);
  });

  test('reset() drops a pending sequence', () => {
    const v = new StreamingUtf8Validator();
    assert.equal(v.push(hex('f0 9f')), true);
    v.reset();
    assert.equal(v.push(Buffer.from('x')), true);
    assert.equal(v.end(), true);
    const w = new StreamingUtf8Validator();
    assert.equal(w.push(hex('f0 9f')), true);
    assert.equal(w.push(Buffer.from('x')), false); // no reset: 'x' cannot continue F0 9F
  });

  test('a sequence completed across three pieces, then more text in the same piece', () => {
    const v = new StreamingUtf8Validator();
    assert.equal(v.push(hex('61 f0')), true);
    assert.equal(v.push(hex('9f')), true);
    assert.equal(v.push(hex('98')), true);
    assert.equal(v.push(hex('80 62 c3')), true);
    assert.equal(v.push(hex('a9')), true);
    assert.equal(v.end(), true);
  });

  test('empty pieces are neutral', () => {
    const v = new StreamingUtf8Validator();
    assert.equal(v.push(Buffer.alloc(0)), true);
    assert.equal(v.push(hex('e2')), true);
    assert.equal(v.push(Buffer.alloc(0)), true);
    assert.equal(v.push(hex('82 ac')), true);
    assert.equal(v.end(), true);
  });
});

/** Bytes drawn mostly from the interesting classes so that valid multi-byte sequences appear often. */
const utf8ishByte = fc.oneof(
  fc.integer({ min: 0x00, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0xbf }),
  fc.integer({ min: 0x80, max: 0xbf }),
  fc.integer({ min: 0xc0, max: 0xff }),
  fc.constantFrom(0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf),
);
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.array(utf8ishByte, { maxLength: 40 }).map((a) => Uint8Array.from(a)),
  // Valid text with a few bytes replaced.
  fc
    .tuple(fc.string({ unit: 'binary', maxLength: 20 }), fc.array(fc.tuple(fc.nat(), utf8ishByte), { maxLength: 2 }))
    .map(([s, edits]) => {
      const b = Buffer.from(s);
      for (const [at, value] of edits) if (b.length > 0) b[at % b.length] = value;
      return Uint8Array.from(b);
    }),
);
const cutsArb = fc.array(fc.nat(), { maxLength: 8 });

describe('StreamingUtf8Validator: properties (against buffer.isUtf8)', () => {
  test('pushing all pieces then end() equals isUtf8 of the whole', () => {
    fc.assert(
      fc.property(bytesArb, cutsArb, (bytes, cuts) => {
        const pieces = splitAt(bytes, cuts.map((c) => c % (bytes.length + 1)));
        assert.equal(validWhole(pieces), isUtf8(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  test('push returns false exactly when the data so far can no longer become valid UTF-8', () => {
    fc.assert(
      fc.property(bytesArb, cutsArb, (bytes, cuts) => {
        const pieces = splitAt(bytes, cuts.map((c) => c % (bytes.length + 1)));
        const v = new StreamingUtf8Validator();
        let seen = 0;
        for (const piece of pieces) {
          seen += piece.length;
          const ok = v.push(piece);
          const prefix = bytes.subarray(0, seen);
          // No false early failure: a prefix that can still be completed must be accepted...
          if (extendable(prefix)) assert.equal(ok, true, `rejected extendable prefix ${Buffer.from(prefix).toString('hex')}`);
          // ...and (fail-fast) one that cannot must be rejected at once.
          else assert.equal(ok, false, `accepted dead prefix ${Buffer.from(prefix).toString('hex')}`);
          if (!ok) {
            assert.equal(isUtf8(bytes), false, 'a rejected prefix means the whole is invalid');
            return;
          }
        }
        assert.equal(v.end(), isUtf8(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  test('valid strings split anywhere are accepted', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), cutsArb, (s, cuts) => {
        const bytes = Buffer.from(s);
        const pieces = splitAt(bytes, cuts.map((c) => c % (bytes.length + 1)));
        const { pushes, end } = validate(pieces);
        assert.ok(pushes.every(Boolean));
        assert.equal(end, true);
      }),
      { numRuns: 500 },
    );
  });

  test('the reference `extendable` agrees with brute force on short prefixes', () => {
    // Guards the test oracle itself: try every continuation byte for up to 3 more bytes.
    const cont = Array.from({ length: 64 }, (_, i) => 0x80 + i);
    const brute = (p: Uint8Array): boolean => {
      if (isUtf8(p)) return true;
      for (const a of cont) {
        if (isUtf8(Buffer.concat([p, Uint8Array.of(a)]))) return true;
        for (const b of cont) {
          if (isUtf8(Buffer.concat([p, Uint8Array.of(a, b)]))) return true;
          // Third byte: only its continuation-ness matters, so the two extremes suffice.
          if ((b === 0x80 || b === 0xbf) && (isUtf8(Buffer.concat([p, Uint8Array.of(a, b, 0x80)])) || isUtf8(Buffer.concat([p, Uint8Array.of(a, b, 0xbf)])))) return true;
        }
      }
      return false;
    };
    fc.assert(
      fc.property(fc.array(utf8ishByte, { maxLength: 3 }), (arr) => {
        const p = Uint8Array.from([0x61, ...arr]);
        assert.equal(extendable(p), brute(p), Buffer.from(p).toString('hex'));
      }),
      { numRuns: 200 },
    );
  });
});
