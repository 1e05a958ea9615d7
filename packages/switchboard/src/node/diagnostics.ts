// The library's diagnostics channels (node:diagnostics_channel), as undici
// has them: what a server and its connections do, for whoever subscribes
// (@switchboard/metrics, an APM agent, a test). Names and payloads are
// documented in docs/observability.md and are part of the public API.
//
// Publishing costs one property read when nobody subscribes: every call
// site checks `channel.hasSubscribers` before it builds a payload, so the
// hot paths (per message) allocate nothing for this.
import { channel } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';

/** The channel names, in one place (docs/observability.md). */
export const CHANNELS = {
  handshake: 'switchboard:server:handshake',
  open: 'switchboard:connection:open',
  close: 'switchboard:connection:close',
  backpressure: 'switchboard:connection:backpressure',
  error: 'switchboard:connection:error',
  received: 'switchboard:message:received',
  sent: 'switchboard:message:sent',
} as const;

export const handshakeChannel = channel(CHANNELS.handshake);
export const openChannel = channel(CHANNELS.open);
export const closeChannel = channel(CHANNELS.close);
export const backpressureChannel = channel(CHANNELS.backpressure);
export const errorChannel = channel(CHANNELS.error);
export const receivedChannel = channel(CHANNELS.received);
export const sentChannel = channel(CHANNELS.sent);

/** `switchboard:server:handshake`: an opening handshake a WebSocketServer answered. */
export interface HandshakeMessage {
  /** The upgrade request (for HTTP/2, the compatibility request of the CONNECT stream). */
  request: IncomingMessage;
  accepted: boolean;
  /** 101 (HTTP/1.1) or 200 (HTTP/2) when accepted; the refusal's status otherwise. */
  status: number;
  /** Why it was refused: a `HandshakeErrorCode`, or `WS_ERR_CLIENT_REFUSED` (verifyClient said no), `WS_ERR_SERVER_CLOSING`. Null when accepted. */
  code: string | null;
  /** Milliseconds from the server taking the request to its answer (verifyClient included); 0 when the subscription began meanwhile. */
  durationMs: number;
}

/** `switchboard:connection:open` and `switchboard:connection:close`. */
export interface ConnectionMessage {
  /** The connection (a `WebSocket`). */
  websocket: object;
  /** Whether it is a server-side connection (false: one made by the client). */
  server: boolean;
}

export interface CloseMessage extends ConnectionMessage {
  /** The close code 'close' reports (1006 when the connection was dropped). */
  code: number;
  /** Whether both close frames were exchanged. */
  wasClean: boolean;
  /** Milliseconds from open to close. */
  durationMs: number;
}

/** `switchboard:message:received` and `switchboard:message:sent`: one data message (or, sent, one fragment). */
export interface MessageMessage {
  websocket: object;
  /** Whether it is a server-side connection. */
  server: boolean;
  /**
   * Payload bytes. Received: as they came on the wire (compressed when `compressed`). Sent: as given to
   * `send` (before compression); a pre-framed message (the hub's fan-out, `sendFrame`) counts its whole frame.
   */
  size: number;
  binary: boolean;
  compressed: boolean;
}

/** `switchboard:connection:backpressure`: a connection cut off because its peer does not read. */
export interface BackpressureMessage {
  websocket: object;
  /** `WS_ERR_BUFFERED_AMOUNT_EXCEEDED` or `WS_ERR_TOO_MANY_PENDING_PONGS`. */
  code: string;
  /** The close code reported (1013 or 1008). */
  closeCode: number;
  bufferedAmount: number;
}

/** `switchboard:connection:error`: a connection failed with an error (a protocol violation, a limit, a listener that threw). */
export interface ErrorMessage {
  websocket: object;
  error: unknown;
  /** The error's stable `code` (`WS_ERR_...`), or `ERR_LISTENER` for an exception thrown by a listener. */
  code: string;
}

/** Where a request's handshake started, kept on the request only while somebody subscribes. */
const kHandshakeStart = Symbol('switchboard.handshakeStart');
type TimedRequest = IncomingMessage & { [kHandshakeStart]?: number };

/** Notes when the server took the request (the caller checked `handshakeChannel.hasSubscribers`). */
export function startHandshake(request: IncomingMessage): void {
  (request as TimedRequest)[kHandshakeStart] = performance.now();
}

/** Publishes an answered handshake (the caller checked `handshakeChannel.hasSubscribers`). */
export function publishHandshake(request: IncomingMessage, accepted: boolean, status: number, code: string | null): void {
  const start = (request as TimedRequest)[kHandshakeStart];
  const message: HandshakeMessage = { request, accepted, status, code, durationMs: start === undefined ? 0 : performance.now() - start };
  handshakeChannel.publish(message);
}

/** What `WebSocketServer#stats()` returns: a snapshot, computed when asked (one pass over the connections). */
export interface ServerStats {
  /** Open connections (server-side WebSockets not yet closed). */
  connections: number;
  /** Bytes accepted by `send` but not yet handed to the kernel, summed over the connections. */
  bufferedBytes: number;
  handshakesAccepted: number;
  handshakesRefused: number;
  /** Data messages received and sent since the server started, over all its connections (closed ones included). */
  messagesReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
}
