export { Opcode, CloseCode, HANDSHAKE_GUID, MAX_CONTROL_PAYLOAD, MAX_CLOSE_REASON_BYTES, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_FRAGMENTS, isValidCloseCode } from './constants.js';
export { ProtocolError, type ProtocolErrorCode } from './errors.js';
export { SwitchboardError, type ArgumentErrorCode } from './switchboard-error.js';
export { FrameParser, type FrameParserHandler, type FrameParserOptions } from './frame-parser.js';
export { encodeFrame, encodeFrameHeader, encodeClosePayload, frameHeaderSize, writeFrameHeader, MAX_HEADER_SIZE, type FrameOptions } from './frame-writer.js';
export { applyMask, copyMasked, simdMaskBuffer, SIMD_BUFFER_SIZE } from './mask.js';
export { StreamingUtf8Validator } from './utf8.js';
export {
  HandshakeError,
  validateUpgradeRequest,
  checkUpgradeResponse,
  computeAcceptKey,
  acceptResponseLines,
  acceptResponse,
  errorResponse,
  parseProtocolList,
  hasToken,
  type HandshakeErrorCode,
  type UpgradeRequest,
  type ValidatedUpgrade,
  type UpgradeResponse,
  type UpgradeOffer,
  type AcceptedUpgrade,
} from './handshake.js';
export { parseExtensions, formatExtension, type ExtensionOffer, type MessageTransform } from './extensions.js';
export {
  PERMESSAGE_DEFLATE,
  acceptDeflateOffer,
  acceptDeflateAnswer,
  deflateOffer,
  parseDeflateParams,
  DeflateNegotiationError,
  type DeflateNegotiationErrorCode,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from './permessage-deflate.js';
export { findHeadEnd, parseRequestHead, MAX_HEAD_BYTES, MAX_HEADER_FIELDS, TOO_MANY_FIELDS, type RequestHead } from './http-head.js';
export { ClosingHandshake, CloseAction, ReadyState } from './connection.js';
