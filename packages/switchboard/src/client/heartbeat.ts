// The client's heartbeat (docs/protocol.md, section 1): a `ping` every
// `interval` ms; anything received within `timeout` ms after it proves the
// connection alive, silence means it is dead (HubClient closes it, 4408).

/** Bounds of a heartbeat: a server announcing 0 must not make the client ping in a loop; setTimeout takes at most 2^31 - 1 ms. */
const MIN_HEARTBEAT_MS = 100;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Heartbeat {
  private hbTimer: ReturnType<typeof setTimeout> | null = null;
  private deadTimer: ReturnType<typeof setTimeout> | null = null;
  private beat: (() => void) | null = null;

  constructor(
    /** Sends a ping; false when there is no connection to send it on. */
    private readonly ping: () => boolean,
    /** No answer in time. */
    private readonly dead: () => void,
  ) {}

  /** Starts over with the values chosen (the option, else what the server announced); none: no heartbeat. */
  start(chosen: { interval?: number; timeout?: number } | false | undefined): void {
    this.stop();
    if (!chosen || typeof chosen !== 'object') return;
    const interval = heartbeatMs(chosen.interval, 25_000);
    const timeout = heartbeatMs(chosen.timeout, 10_000);
    const beat = (): void => {
      this.hbTimer = setTimeout(() => {
        if (!this.ping()) return;
        // Anything received before the timeout proves the connection alive (see alive()).
        this.deadTimer = setTimeout(() => {
          this.deadTimer = null;
          this.dead();
        }, timeout);
      }, interval);
    };
    this.beat = beat;
    beat();
  }

  /** Something arrived: the connection is alive. */
  alive(): void {
    if (this.deadTimer) {
      clearTimeout(this.deadTimer);
      this.deadTimer = null;
      this.beat?.();
    }
  }

  stop(): void {
    if (this.hbTimer) clearTimeout(this.hbTimer);
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.hbTimer = this.deadTimer = null;
    this.beat = null;
  }
}

/** A heartbeat value within MIN_HEARTBEAT_MS and MAX_TIMER_MS (`fallback` when not a number). */
function heartbeatMs(value: unknown, fallback: number): number {
  if (typeof value !== 'number' || Number.isNaN(value)) return fallback;
  return Math.min(MAX_TIMER_MS, Math.max(MIN_HEARTBEAT_MS, value));
}
