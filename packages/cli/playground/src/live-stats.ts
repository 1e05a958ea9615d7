// What the live panel draws, kept bounded: one sample a second in rings of
// HISTORY_SECONDS, for this page's connection (messages and bytes in and out,
// ping round trips) and, when the page is connected to the server that served
// it, for that server (from GET STATS_PATH: connections, messages and bytes a
// second over all its clients). Close codes are counted, MAX_CLOSE_CODES at
// most. No DOM here: the panel (live-panel.tsx) reads the arrays.
// With its .js extension: the tests import this module through Node's resolution too (test/playground/live-stats.test.ts).
import type { ServerStatsSnapshot } from '../../shared/playground-protocol.js';

/** Seconds of history each chart keeps (older samples are overwritten). */
export const HISTORY_SECONDS = 120;
/** Pings waiting for their pong; an older one is forgotten (its round trip is never drawn). */
export const MAX_PENDING_PINGS = 16;
/** Distinct close codes counted; past that, codes not yet seen are counted under 0 ("other"). */
export const MAX_CLOSE_CODES = 32;

/** A fixed-size ring of numbers (NaN: no value that second). */
export class Ring {
  private readonly values: Float64Array;
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity);
  }

  push(value: number): void {
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  get length(): number {
    return this.size;
  }

  /** Oldest first; NaN as null, as uPlot takes gaps. */
  toArray(): Array<number | null> {
    const out = new Array<number | null>(this.size);
    const start = (this.next - this.size + this.capacity) % this.capacity;
    for (let i = 0; i < this.size; i++) {
      const v = this.values[(start + i) % this.capacity]!;
      out[i] = Number.isNaN(v) ? null : v;
    }
    return out;
  }

  clear(): void {
    this.next = 0;
    this.size = 0;
  }
}

const ring = (): Ring => new Ring(HISTORY_SECONDS);

export class LiveStats {
  /** This connection, one sample a second: time (s), messages and bytes a second in and out, the last round trip (ms). */
  readonly own = { time: ring(), messagesIn: ring(), messagesOut: ring(), bytesIn: ring(), bytesOut: ring(), rtt: ring() };
  /** The serving server, one sample per snapshot: connections, messages and bytes a second over all its clients. */
  readonly server = { time: ring(), connections: ring(), messagesIn: ring(), messagesOut: ring(), bytesIn: ring(), bytesOut: ring() };
  /** Close code → how many connections of this page closed with it. */
  readonly closeCodes = new Map<number, number>();
  lastRtt: number | null = null;

  private messagesIn = 0;
  private messagesOut = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private rttThisSecond = NaN;
  private readonly pendingPings: Array<{ hex: string; sentAt: number; auto: boolean }> = [];
  private previousSnapshot: ServerStatsSnapshot | null = null;
  private pingCounter = 0;

  received(bytes: number): void {
    this.messagesIn++;
    this.bytesIn += bytes;
  }

  sent(bytes: number): void {
    this.messagesOut++;
    this.bytesOut += bytes;
  }

  closed(code: number): void {
    const key = this.closeCodes.has(code) || this.closeCodes.size < MAX_CLOSE_CODES ? code : 0;
    this.closeCodes.set(key, (this.closeCodes.get(key) ?? 0) + 1);
  }

  /** A ping went out with this payload (hex) at `now` (ms); `auto`: one of the panel's own. */
  pingSent(hex: string, now: number, auto: boolean): void {
    if (this.pendingPings.length === MAX_PENDING_PINGS) this.pendingPings.shift();
    this.pendingPings.push({ hex, sentAt: now, auto });
  }

  /** The payload of the panel's next ping: a counter, so that each pong is matched to its ping. */
  nextPingPayload(): string {
    this.pingCounter = (this.pingCounter + 1) % 0x1_0000_0000;
    return `5b${this.pingCounter.toString(16).padStart(8, '0')}`;
  }

  /**
   * A pong arrived with this payload: the round trip of the oldest ping with
   * the same payload (RFC 6455 section 5.5.3: a pong echoes its ping's data).
   * Returns whether it answered one of the panel's own pings (null: no ping waited for it).
   */
  pong(hex: string, now: number): { auto: boolean } | null {
    const i = this.pendingPings.findIndex((p) => p.hex === hex);
    if (i === -1) return null;
    const [ping] = this.pendingPings.splice(i, 1);
    this.lastRtt = now - ping!.sentAt;
    this.rttThisSecond = this.lastRtt;
    return { auto: ping!.auto };
  }

  /** Ends the current second (`now` in ms): its counts become one sample of each chart of this connection. */
  tick(now: number): void {
    const own = this.own;
    own.time.push(now / 1000);
    own.messagesIn.push(this.messagesIn);
    own.messagesOut.push(this.messagesOut);
    own.bytesIn.push(this.bytesIn);
    own.bytesOut.push(this.bytesOut);
    own.rtt.push(this.rttThisSecond);
    this.messagesIn = this.messagesOut = this.bytesIn = this.bytesOut = 0;
    this.rttThisSecond = NaN;
  }

  /** A snapshot of the serving server: rates from the previous one (the first only sets the baseline, but shows the connections). */
  serverSnapshot(snapshot: ServerStatsSnapshot): void {
    const previous = this.previousSnapshot;
    this.previousSnapshot = snapshot;
    const seconds = previous === null ? 0 : (snapshot.time - previous.time) / 1000;
    const rate = (pick: (s: ServerStatsSnapshot) => number): number => (previous === null || seconds <= 0 ? NaN : Math.max(0, pick(snapshot) - pick(previous)) / seconds);
    const server = this.server;
    server.time.push(snapshot.time / 1000);
    server.connections.push(snapshot.connections);
    server.messagesIn.push(rate((s) => s.messagesReceived));
    server.messagesOut.push(rate((s) => s.messagesSent));
    server.bytesIn.push(rate((s) => s.bytesReceived));
    server.bytesOut.push(rate((s) => s.bytesSent));
  }

  /** Forgets the server's samples (the page connected elsewhere). */
  resetServer(): void {
    for (const r of Object.values(this.server)) r.clear();
    this.previousSnapshot = null;
  }
}
