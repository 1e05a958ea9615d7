import { SwitchboardError } from '../protocol/switchboard-error.js';

// The one error root, shared by every layer; re-exported here for the browser client, which imports only wire.
export { SwitchboardError, codedError } from '../protocol/switchboard-error.js';
import type { ErrorCode } from './protocol.js';

/**
 * Codes a HubError gets on this side and that never travel on the wire: a
 * request or a join that could not finish.
 */
export type LocalHubErrorCode =
  /** The client was closed (`client.close()`, or the server closed it for good). */
  | 'closed'
  /** The connection dropped before the reply came; on the hub, the server's own requests to that connection. */
  | 'disconnected'
  /** The room was left while joining it. */
  | 'left'
  /** The client's outbox dropped the request while disconnected (option `outboxSize`). */
  | 'outbox_full';

/** Every code a HubError carries: the protocol's (section 10), the local ones, or a code your own handler threw. */
export type HubErrorCode = ErrorCode | LocalHubErrorCode;

/**
 * An error a side answered with (an `error` message) or a request failed
 * with (`timeout`, `disconnected`, `closed`, ...): `code` is stable, the
 * message is for humans. The hub and the client throw the same class.
 */
export class HubError extends SwitchboardError {
  declare readonly code: HubErrorCode | (string & {});

  constructor(code: HubErrorCode | (string & {}), message?: string) {
    super(code, message);
    this.name = 'HubError';
  }
}

/** A message that breaks the protocol: `code` is what to answer it with (section 10). */
export class WireError extends SwitchboardError {
  declare readonly code: ErrorCode;
  /** The id of the offending message, when it had a valid one. */
  readonly ref: number | undefined;

  constructor(code: ErrorCode, message: string, ref?: number) {
    super(code, message);
    this.name = 'WireError';
    this.ref = ref;
  }
}
