// switchboard/hub: rooms, presence, acks, resume and fan-out over the
// switchboard.v1 protocol (docs/protocol.md).
export {
  Hub,
  HubConnection,
  HubError,
  RoomOperator,
  UserOperator,
  RESERVED_EVENTS,
  type HubOptions,
  type RateLimitOptions,
  type Middleware,
  type Handshake,
  type Reply,
  type EventsMap,
  type DefaultEvents,
  type EventNames,
  type EventData,
  type EventResult,
} from './hub.js';
export {
  InProcessAdapter,
  type Adapter,
  type AdapterSink,
  type HistoryLimits,
  type HistoryResult,
  type PresenceMember,
  type PublishOptions,
  type RoomMessage,
  type Sender,
} from './adapter.js';
export { SUBPROTOCOL, HubCloseCode, parseClientMessage, encodeMessage, WireError, type ErrorCode, type ClientMessage } from './wire.js';
export { TokenBucket } from './rate-limit.js';
export { DEFAULT_LIMITS, type HubLimits } from './limits.js';
