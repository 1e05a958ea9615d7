/** Frame opcodes (RFC 6455 section 5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Close status codes (RFC 6455 section 7.4.1 and the IANA registry). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never sent in a frame; reported when a close frame had no code. */
  NoStatus: 1005,
  /** Reserved: never sent in a frame; reported when the connection dropped without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reserved: never sent in a frame; TLS handshake failure. */
  TlsHandshake: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The GUID appended to Sec-WebSocket-Key to compute Sec-WebSocket-Accept. */
export const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Control frames carry at most 125 bytes of payload (section 5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** A close reason fits in a control frame after the two-byte code. */
export const MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2;

/** ws's default limit for one message: 100 MiB. */
export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;

/** ws's default limit on the frames one message may span (`maxFragments`). */
export const DEFAULT_MAX_FRAGMENTS = 16 * 1024;
/** Default `maxBufferedChunks`: ws 8.21's. */
export const DEFAULT_MAX_BUFFERED_CHUNKS = 1024 * 1024;

/** Lengths above 2^53 - 1 cannot be represented exactly; browsers refuse them too. */
export const MAX_SAFE_FRAME_LENGTH = Number.MAX_SAFE_INTEGER;

/**
 * Whether a close code may appear in a close frame. 1004, 1005, 1006 and 1015
 * are reserved for local reporting; 1016-2999 are unassigned; 3000-4999 belong
 * to libraries and applications.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
  );
}
