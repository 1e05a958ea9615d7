/** Default of `concurrencyLimit`: zlib operations running at once in the process (as in ws). */
export const DEFAULT_CONCURRENCY = 10;
/** Default of `maxInflatingBytes`: output of the inflations under way, all connections together. */
export const DEFAULT_MAX_INFLATING_BYTES = 64 * 1024 * 1024;

/**
 * An inflation under way, as the limiter accounts for it: the bytes it has
 * produced so far, and how to restart it if it was made to wait.
 */
export class InflationTicket {
  /** Output produced so far (counted in the limiter's total until `finish`). */
  bytes = 0;
  paused = false;
  finished = false;

  constructor(
    private readonly limiter: ZlibLimiter,
    /** Restarts the inflation (resumes its zlib stream). */
    readonly resume: () => void,
  ) {}

  /**
   * Counts `bytes` more output. Returns true if the inflation must wait
   * now (pause its stream): the process holds more than the budget and
   * another inflation is running, so waiting cannot stall them all.
   */
  charge(bytes: number): boolean {
    this.bytes += bytes;
    return this.limiter.charge(this, bytes);
  }

  /** The message is whole (or failed): its bytes are no longer the limiter's to count. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.limiter.finish(this);
  }
}

/**
 * Bounds the zlib work of the whole process: at most `limit` operations run
 * at once (zlib runs on libuv's thread pool, which everything else shares),
 * and the inflations under way hold at most about `maxInflatingBytes` of
 * output together. Past that budget every inflation but one waits (its
 * zlib stream paused, so zlib stops producing) until others finish: many
 * connections each inflating a message up to `maxPayload` at once cannot
 * take the process to many times `maxPayload`. One inflation always runs,
 * so the budget delays messages but never stalls them.
 */
export class ZlibLimiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private inflatingBytes = 0;
  /** Inflations under way and not paused. */
  private unpaused = 0;
  private readonly paused: InflationTicket[] = [];

  constructor(
    private limit: number,
    private maxInflatingBytes: number,
  ) {}

  setLimit(limit: number): void {
    this.limit = Math.max(1, limit);
  }

  setMaxInflatingBytes(bytes: number): void {
    this.maxInflatingBytes = bytes > 0 ? bytes : Infinity;
  }

  run(job: (done: () => void) => void): void {
    if (this.running < this.limit) {
      this.running++;
      job(this.done);
    } else {
      this.waiting.push(() => job(this.done));
    }
  }

  /** Starts accounting for one inflation (call inside a `run` job). */
  startInflation(resume: () => void): InflationTicket {
    this.unpaused++;
    return new InflationTicket(this, resume);
  }

  /** @internal */
  charge(ticket: InflationTicket, bytes: number): boolean {
    this.inflatingBytes += bytes;
    if (ticket.paused || this.inflatingBytes <= this.maxInflatingBytes || this.unpaused <= 1) return false;
    ticket.paused = true;
    this.unpaused--;
    this.paused.push(ticket);
    return true;
  }

  /** @internal */
  finish(ticket: InflationTicket): void {
    this.inflatingBytes -= ticket.bytes;
    if (ticket.paused) {
      // Failed while waiting (its connection closed): it will never be resumed.
      const index = this.paused.indexOf(ticket);
      if (index !== -1) this.paused.splice(index, 1);
      ticket.paused = false;
    } else {
      this.unpaused--;
    }
    // Those waiting longest go first, while there is room, and one always does when none runs.
    while (this.paused.length > 0 && (this.inflatingBytes < this.maxInflatingBytes || this.unpaused === 0)) {
      const next = this.paused.shift()!;
      next.paused = false;
      this.unpaused++;
      process.nextTick(next.resume);
    }
  }

  private readonly done = (): void => {
    const next = this.waiting.shift();
    if (next) process.nextTick(next);
    else this.running--;
  };
}
