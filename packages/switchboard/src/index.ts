import { WebSocket } from './node/websocket.js';

export { WebSocket, type BinaryType, type SendOptions, type SendCallback, type WebSocketData, type ConnectionOptions } from './node/websocket.js';
export {
  WebSocketServer,
  WebSocketServer as Server,
  type WebSocketServerOptions,
  type VerifyClient,
  type VerifyClientInfo,
  type VerifyClientCallback,
  type ShutdownOptions,
} from './node/server.js';
export type {
  HandshakeMessage,
  ConnectionMessage,
  CloseMessage,
  MessageMessage,
  BackpressureMessage,
  ErrorMessage,
  ServerStats,
} from './node/diagnostics.js';
export { createWebSocketStream } from './node/stream.js';
export { broadcast, type BroadcastOptions } from './node/broadcast.js';
export { refuseUpgrade } from './node/refuse.js';
export { onWebSocketStreams, refuseStream, type WebSocketStreamListener } from './node/http2-server.js';
export { MessageEvent, CloseEvent, ErrorEvent, WebSocketEvent } from './node/events.js';
export type { HeartbeatOptions } from './node/heartbeat.js';
export type { PerMessageDeflateOptions } from './protocol/index.js';
export { CloseCode, Opcode, ProtocolError, HandshakeError, type ProtocolErrorCode, type HandshakeErrorCode } from './protocol/index.js';
export { SwitchboardError, type ArgumentErrorCode } from './protocol/switchboard-error.js';

export default WebSocket;
export { WebSocketError, type WebSocketErrorCode } from './node/errors.js';
export type { ClientOptions } from './node/client.js';
