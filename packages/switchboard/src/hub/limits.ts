// The hub's per-connection limits: what one client may make the process
// hold. Each has an option (HubOptions), a default, and a documented answer
// for a client that crosses it (docs/protocol.md, "Limits").
import { codedError } from '../protocol/switchboard-error.js';

export interface HubLimits {
  /** Rooms one connection may be in at once (default 1,000). A `join` beyond it gets `error` `too_many_rooms`; a `resume` naming more gets `bad_message`. */
  maxRoomsPerConnection: number;
  /** Messages held while middleware runs (default 64); beyond it they get `error` `rate_limited`. */
  maxEarlyMessages: number;
  /** Bytes of messages held while middleware runs (default 1 MiB); beyond it they get `error` `rate_limited`. */
  maxEarlyBytes: number;
  /** Nesting depth of a client message, the message object counting as 1 (default 64); deeper ones get `error` `bad_message`. */
  maxJsonDepth: number;
  /** Members listed in a join answer (default 100); a larger room's answer says `"more": true`. */
  presenceListLimit: number;
}

export const DEFAULT_LIMITS: Readonly<HubLimits> = {
  maxRoomsPerConnection: 1000,
  maxEarlyMessages: 64,
  maxEarlyBytes: 1024 * 1024,
  maxJsonDepth: 64,
  presenceListLimit: 100,
};

/** The limits with defaults filled in; throws a RangeError for a value that is not a positive integer. */
export function resolveLimits(options: Partial<HubLimits>): HubLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof HubLimits>) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) throw codedError(new RangeError(`${key} must be a positive integer (got ${String(value)})`), 'WS_ERR_INVALID_OPTION');
    limits[key] = value;
  }
  return limits;
}

/**
 * Messages a connection sent after `hello` while middleware still runs,
 * held as received text (parsed later: a parsed object can take many times
 * the memory of its text), bounded by count and by bytes.
 */
export class EarlyBuffer {
  private texts: string[] = [];
  private bytes = 0;

  constructor(private readonly limits: HubLimits) {}

  /** Holds `text`; false (and nothing held) when that would cross a limit. */
  push(text: string, bytes: number): boolean {
    if (this.texts.length >= this.limits.maxEarlyMessages || this.bytes + bytes > this.limits.maxEarlyBytes) return false;
    this.texts.push(text);
    this.bytes += bytes;
    return true;
  }

  /** Everything held, oldest first; the buffer is empty afterwards. */
  drain(): string[] {
    const texts = this.texts;
    this.texts = [];
    this.bytes = 0;
    return texts;
  }
}
