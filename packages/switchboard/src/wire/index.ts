// switchboard/wire: the switchboard.v1 hub protocol (docs/protocol.md) in
// one isomorphic module: no Node modules, no Buffer. The hub, the browser
// client and third-party clients share it.
export {
  SUBPROTOCOL,
  ERROR_CODES,
  HubCloseCode,
  FINAL_CLOSE_CODES,
  RESERVED_EVENTS,
  MAX_NAME_LENGTH,
  MAX_PREVIOUS_IDS,
  DEFAULT_MAX_JSON_DEPTH,
  DEFAULT_MAX_ROOMS,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_HEARTBEAT,
  DEFAULT_REQUEST_TIMEOUT,
  MAX_NODE_URLS,
  MAX_NODE_URL_LENGTH,
  isName,
  isId,
  isNodeUrl,
  checkEventName,
  type ErrorCode,
} from './protocol.js';
export type {
  Json,
  Sender,
  Member,
  Heartbeat,
  DirectTarget,
  ClientMessage,
  ServerMessage,
  WelcomeMessage,
  RoomMessageFrame,
  ErrorFrame,
  MessageType,
} from './messages.js';
export { HubError, WireError, type HubErrorCode, type LocalHubErrorCode } from './errors.js';
export { SwitchboardError, type ArgumentErrorCode } from '../protocol/switchboard-error.js';
export { parseClientMessage, parseServerMessage, type ParseOptions, type ParseLimits } from './parse.js';
export { encodeMessage, errorMessage, isBinary, bytesOf } from './encode.js';
export { encodeBase64, decodeBase64, isBase64 } from './base64.js';
export { jsonDepthWithin } from './json-depth.js';
export { Requests, type RequestCallbacks } from './requests.js';
