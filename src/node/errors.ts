import type { IncomingMessage } from 'node:http';

/** Stable codes for errors of the Node layer (opening handshakes seen from the client, misuse, limits a peer crossed). */
export type WebSocketErrorCode =
  | 'WS_ERR_INVALID_URL'
  | 'WS_ERR_UNEXPECTED_RESPONSE'
  | 'WS_ERR_INVALID_UPGRADE_HEADER'
  | 'WS_ERR_INVALID_CONNECTION_HEADER'
  | 'WS_ERR_INVALID_ACCEPT'
  | 'WS_ERR_INVALID_SUBPROTOCOL'
  | 'WS_ERR_INVALID_EXTENSION'
  | 'WS_ERR_HANDSHAKE_TIMEOUT'
  | 'WS_ERR_TOO_MANY_REDIRECTS'
  | 'WS_ERR_ABORTED'
  /** More automatic pongs than `maxPendingAutoPongs` waited unwritten (the connection closes, 1008). */
  | 'WS_ERR_TOO_MANY_PENDING_PONGS'
  /** A send found more than `disconnectBufferedAmount` bytes waiting (the connection closes, 1013). */
  | 'WS_ERR_BUFFERED_AMOUNT_EXCEEDED';

/** An error with a stable `code`; handshake failures carry the server's HTTP response. */
export class WebSocketError extends Error {
  readonly code: WebSocketErrorCode;
  /** The HTTP response that made the handshake fail, when there was one. */
  readonly response: IncomingMessage | undefined;

  constructor(code: WebSocketErrorCode, message: string, response?: IncomingMessage) {
    super(message);
    this.name = 'WebSocketError';
    this.code = code;
    this.response = response;
  }
}
