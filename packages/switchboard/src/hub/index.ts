// switchboard/hub: rooms, presence, acks, resume and fan-out over the
// switchboard.v1 protocol (docs/protocol.md).
export { Hub, HUB_EVENTS } from './hub.js';
export { HubConnection } from './connection.js';
export { RoomOperator, UserOperator } from './operators.js';
export {
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
} from './types.js';
export {
  InProcessAdapter,
  type Adapter,
  type AdapterSink,
  type ForwardedAnswer,
  type ForwardedRequest,
  type HistoryLimits,
  type HistoryResult,
  type JoinAnswer,
  type PresenceMember,
  type PublishOptions,
  type RoomMessage,
  type Sender,
} from './adapter.js';
export { SUBPROTOCOL, HubCloseCode, HubError, RESERVED_EVENTS, parseClientMessage, encodeMessage, WireError, type ErrorCode, type HubErrorCode, type ClientMessage, type ServerMessage } from './wire.js';
export { SwitchboardError } from '../protocol/switchboard-error.js';
export type {
  HubStats,
  HubMembershipMessage,
  HubPublishMessage,
  HubRequestMessage,
  HubSlowConsumerMessage,
  HubRateLimitedMessage,
  HubAdapterMessage,
} from './diagnostics.js';
export { TokenBucket } from './rate-limit.js';
export { DEFAULT_LIMITS, type HubLimits } from './limits.js';
export { type PublishApiOptions } from './publish-api.js';
export { type HttpFallbackOptions } from './http-fallback.js';
