import { CloseCode } from './constants.js';
import { brandErrorClass } from './switchboard-error.js';

/**
 * Stable error codes. They match ws's names where ws has one, so code that
 * switches on `err.code` keeps working after the switch.
 */
export type ProtocolErrorCode =
  | 'WS_ERR_INVALID_OPCODE'
  | 'WS_ERR_UNEXPECTED_RSV_1'
  | 'WS_ERR_UNEXPECTED_RSV_2_3'
  | 'WS_ERR_EXPECTED_FIN'
  | 'WS_ERR_EXPECTED_MASK'
  | 'WS_ERR_UNEXPECTED_MASK'
  | 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'
  | 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH'
  | 'WS_ERR_NON_MINIMAL_LENGTH'
  | 'WS_ERR_UNEXPECTED_CONTINUATION'
  | 'WS_ERR_EXPECTED_CONTINUATION'
  | 'WS_ERR_INVALID_CLOSE_CODE'
  | 'WS_ERR_INVALID_CLOSE_PAYLOAD'
  | 'WS_ERR_INVALID_UTF8'
  | 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
  | 'WS_ERR_TOO_MANY_BUFFERED_PARTS'
  | 'WS_ERR_INVALID_COMPRESSED_DATA';

/**
 * A violation of RFC 6455 by the peer. `closeCode` is the status to fail the
 * connection with (1002, 1007, 1008 or 1009).
 */
export class ProtocolError extends RangeError {
  readonly code: ProtocolErrorCode;
  readonly closeCode: number;

  constructor(code: ProtocolErrorCode, message: string, closeCode: number = CloseCode.ProtocolError) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.closeCode = closeCode;
  }
}
// A RangeError, as ws's frame errors are (code written for ws tests `err instanceof RangeError`), and
// still an `instanceof SwitchboardError` like every error of the library.
brandErrorClass(ProtocolError.prototype);
