import type { ErrorCode } from './protocol.js';

/**
 * An error a side answered with (an `error` message) or a request failed
 * with (`timeout`, `disconnected`, `closed`, ...): `code` is stable, the
 * message is for humans. The hub and the client throw the same class.
 */
export class HubError extends Error {
  constructor(
    readonly code: ErrorCode | (string & {}),
    message?: string,
  ) {
    super(message ?? code);
    this.name = 'HubError';
  }
}

/** A message that breaks the protocol: `code` is what to answer it with (section 10). */
export class WireError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The id of the offending message, when it had a valid one. */
    readonly ref?: number,
  ) {
    super(message);
    this.name = 'WireError';
  }
}
