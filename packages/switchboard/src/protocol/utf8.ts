import { isUtf8 } from 'node:buffer';

/**
 * Length of the UTF-8 sequence that `lead` starts, or 0 when `lead` can never
 * start one (a continuation byte, C0, C1, F5-FF).
 */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead < 0xc2) return 0;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf5) return 4;
  return 0;
}

/** Whether `second` may follow `lead`: the ranges that exclude overlongs, surrogates and > U+10FFFF. */
function isValidSecondByte(lead: number, second: number): boolean {
  switch (lead) {
    case 0xe0:
      return second >= 0xa0 && second <= 0xbf;
    case 0xed:
      return second >= 0x80 && second <= 0x9f;
    case 0xf0:
      return second >= 0x90 && second <= 0xbf;
    case 0xf4:
      return second >= 0x80 && second <= 0x8f;
    default:
      return second >= 0x80 && second <= 0xbf;
  }
}

/**
 * Whether bytes[start, end) (at most 3 bytes, an unfinished sequence) can
 * still become valid UTF-8. Lets validation fail on the first bad byte instead
 * of waiting for the rest of a sequence that can never be valid.
 */
function isValidPrefix(bytes: Uint8Array, start: number, end: number): boolean {
  const lead = bytes[start]!;
  const need = sequenceLength(lead);
  if (need === 0 || end - start >= need) return false;
  if (end - start >= 2 && !isValidSecondByte(lead, bytes[start + 1]!)) return false;
  if (end - start >= 3 && (bytes[start + 2]! & 0xc0) !== 0x80) return false;
  return true;
}

/**
 * Where the unfinished sequence at the end of bytes[0, end) starts, or `end`
 * when the data ends on a character boundary.
 */
function unfinishedTailStart(bytes: Uint8Array, end: number): number {
  const limit = Math.max(0, end - 3);
  for (let i = end - 1; i >= limit; i--) {
    const b = bytes[i]!;
    if ((b & 0xc0) !== 0x80) {
      // A lead byte (or ASCII): the tail is unfinished if its sequence is longer than what is left.
      const need = sequenceLength(b);
      return need > end - i ? i : end;
    }
  }
  return end;
}

/**
 * Validates UTF-8 that arrives in pieces (fragments, or parts of one frame
 * read from the socket) and reports an error on the first piece that makes
 * the text invalid. Whole runs of characters are checked with Node's native
 * `buffer.isUtf8`; only a sequence split between pieces (at most 3 bytes) is
 * carried over.
 */
export class StreamingUtf8Validator {
  private readonly pending = new Uint8Array(4);
  private pendingLength = 0;

  /** Feeds the next piece; returns false as soon as the text can no longer be valid. */
  push(bytes: Uint8Array): boolean {
    let start = 0;
    if (this.pendingLength > 0) {
      const need = sequenceLength(this.pending[0]!);
      while (this.pendingLength < need && start < bytes.length) {
        this.pending[this.pendingLength++] = bytes[start++]!;
      }
      if (this.pendingLength < need) return isValidPrefix(this.pending, 0, this.pendingLength);
      if (!isUtf8(this.pending.subarray(0, need))) return false;
      this.pendingLength = 0;
    }
    const tail = unfinishedTailStart(bytes, bytes.length);
    if (tail < start) return false;
    if (tail > start && !isUtf8(bytes.subarray(start, tail))) return false;
    if (tail < bytes.length) {
      if (!isValidPrefix(bytes, tail, bytes.length)) return false;
      this.pending.set(bytes.subarray(tail), 0);
      this.pendingLength = bytes.length - tail;
    }
    return true;
  }

  /** Whether the text ended on a character boundary; resets for the next message. */
  end(): boolean {
    const complete = this.pendingLength === 0;
    this.pendingLength = 0;
    return complete;
  }

  reset(): void {
    this.pendingLength = 0;
  }
}

export { isUtf8 };
