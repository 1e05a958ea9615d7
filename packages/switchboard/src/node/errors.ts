import type { IncomingMessage } from 'node:http';
import type { HandshakeErrorCode } from '../protocol/handshake.js';
import type { DeflateNegotiationErrorCode } from '../protocol/permessage-deflate.js';
import { SwitchboardError } from '../protocol/switchboard-error.js';

/** Stable codes for errors of the Node layer (opening handshakes seen from the client, misuse, limits a peer crossed). */
export type WebSocketErrorCode =
  | 'WS_ERR_INVALID_URL'
  /** The client's check of the server's 101 (checkUpgradeResponse in switchboard/protocol), with the same codes. */
  | Extract<
      HandshakeErrorCode,
      'WS_ERR_UNEXPECTED_RESPONSE' | 'WS_ERR_INVALID_UPGRADE_HEADER' | 'WS_ERR_INVALID_CONNECTION_HEADER' | 'WS_ERR_INVALID_ACCEPT' | 'WS_ERR_INVALID_SUBPROTOCOL'
    >
  | DeflateNegotiationErrorCode
  | 'WS_ERR_HANDSHAKE_TIMEOUT'
  | 'WS_ERR_TOO_MANY_REDIRECTS'
  | 'WS_ERR_ABORTED'
  /** More automatic pongs than `maxPendingAutoPongs` waited unwritten (the connection closes, 1008). */
  | 'WS_ERR_TOO_MANY_PENDING_PONGS'
  /** A send found more than `disconnectBufferedAmount` bytes waiting (the connection closes, 1013). */
  | 'WS_ERR_BUFFERED_AMOUNT_EXCEEDED'
  /** A send, or a send waiting in the queue, found the connection closing or closed; its callback gets this error. */
  | 'WS_ERR_NOT_OPEN'
  /** A method the connection or server cannot run in its present state or role (e.g. `sendFrame` on a client). */
  | 'WS_ERR_INVALID_STATE'
  /** The compressor failed without an error of its own (permessage-deflate). */
  | 'WS_ERR_COMPRESSION_FAILED';

/** An error with a stable `code`; handshake failures carry the server's HTTP response. */
export class WebSocketError extends SwitchboardError {
  declare readonly code: WebSocketErrorCode;
  /** The HTTP response that made the handshake fail, when there was one. */
  readonly response: IncomingMessage | undefined;

  constructor(code: WebSocketErrorCode, message: string, response?: IncomingMessage) {
    super(code, message);
    this.name = 'WebSocketError';
    this.response = response;
  }
}
