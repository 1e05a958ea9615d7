import type { WebSocket } from './websocket.js';
import { codedError } from '../protocol/switchboard-error.js';

/**
 * A coarse clock, advanced by heartbeat ticks, so that marking a connection
 * as active on every read costs a field write instead of a clock call.
 */
export const heartbeatClock = { now: Date.now() };

export interface HeartbeatOptions {
  /** Ping a connection after this many milliseconds without receiving anything from it. */
  interval: number;
  /** Terminate it when nothing arrives within this many milliseconds of the ping. */
  timeout: number;
}

/**
 * Keeps a server's connections honest: one timer for all of them pings those
 * that have gone quiet and terminates those that do not answer (what ws users
 * write by hand with `isAlive` flags).
 */
export class Heartbeat {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly clients: Iterable<WebSocket>,
    private readonly options: HeartbeatOptions,
  ) {
    if (!(options.interval > 0) || !(options.timeout > 0)) {
      throw codedError(new RangeError('heartbeat.interval and heartbeat.timeout must be positive numbers of milliseconds'), 'WS_ERR_INVALID_OPTION');
    }
    const tick = Math.max(5, Math.min(options.interval, options.timeout) / 4);
    // The clock only advances while a heartbeat ticks: bring it up to date, or
    // connections opened before the first tick look silent since it last ran.
    heartbeatClock.now = Date.now();
    this.timer = setInterval(() => this.check(), tick);
    this.timer.unref();
  }

  private check(): void {
    const now = Date.now();
    heartbeatClock.now = now;
    const { interval, timeout } = this.options;
    for (const client of this.clients) {
      if (client.readyState !== 1) continue;
      if (client._pingSentAt !== 0) {
        if (client._lastActivity >= client._pingSentAt) client._pingSentAt = 0;
        else if (now - client._pingSentAt >= timeout) client.terminate();
      } else if (now - client._lastActivity >= interval) {
        client._pingSentAt = now;
        client.ping();
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
