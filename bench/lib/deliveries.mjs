// What the load generators share (fallback-load.mjs, redis-fanout-load.mjs):
// the clock publish times are read on, short masked client frames, and the
// count of deliveries with their publish-to-delivery latencies.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const clockOffset = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
/** µs on the machine's monotonic clock (process.hrtime), which the publishers put in the payload (`t0`). */
export const nowUs = () => Math.round(performance.now() * 1000 + clockOffset);

/** A masked client frame (RFC 6455 section 5.3: clients mask every frame) of at most 125 bytes. */
export function clientFrame(text, opcode = 1) {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('bench frames are short');
  const frame = Buffer.allocUnsafe(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  const mask = randomBytes(4);
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN;
}

/**
 * Deliveries of the current phase: their count, span and latencies; `onComplete(seq, now)` once
 * message `seq` has reached `expected` clients.
 */
export class Deliveries {
  perSeq = new Int32Array(1 << 20);
  latencies = new Float64Array(1 << 22);
  nLat = 0;
  firstT0 = Infinity;
  lastAt = 0;
  count = 0;

  constructor(expected, onComplete) {
    this.expected = expected;
    this.onComplete = onComplete;
  }

  delivered(seq, t0, now) {
    if (this.nLat < this.latencies.length) this.latencies[this.nLat++] = now - t0;
    if (t0 < this.firstT0) this.firstT0 = t0;
    this.lastAt = now;
    this.count++;
    if (++this.perSeq[seq] === this.expected) this.onComplete(seq, now);
  }

  /** A new phase (message ids go on: `perSeq` is kept). */
  reset() {
    this.nLat = 0;
    this.firstT0 = Infinity;
    this.lastAt = 0;
    this.count = 0;
  }

  /** The phase so far: deliveries, first publish to last delivery (µs), latency percentiles and maximum (ms). */
  stats() {
    const sorted = this.latencies.subarray(0, this.nLat).sort();
    return {
      deliveries: this.count,
      spanUs: this.lastAt - this.firstT0,
      p50: percentile(sorted, 0.5) / 1000,
      p99: percentile(sorted, 0.99) / 1000,
      max: sorted.length ? sorted[sorted.length - 1] / 1000 : NaN,
    };
  }
}
