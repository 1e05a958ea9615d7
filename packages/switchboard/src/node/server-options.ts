// The options of WebSocketServer (ws's, plus the heartbeat, HTTP/2, limits
// and shutdown), and the types of its verifyClient hook.
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { PerMessageDeflateOptions } from '../protocol/index.js';
import type { HeartbeatOptions } from './heartbeat.js';
import type { AnyHttp2Server } from './http2-server.js';
import type { WebSocket } from './websocket.js';

export interface VerifyClientInfo {
  origin: string | undefined;
  secure: boolean;
  req: IncomingMessage;
}
export type VerifyClientCallback = (
  verified: boolean,
  code?: number,
  message?: string,
  headers?: Record<string, string | number>,
) => void;
export type VerifyClient =
  | ((info: VerifyClientInfo) => boolean)
  | ((info: VerifyClientInfo, callback: VerifyClientCallback) => void);

export interface WebSocketServerOptions {
  host?: string;
  port?: number;
  backlog?: number;
  /**
   * An existing http, https or http2 server to share. With an HTTP/2 server
   * (`http2.createSecureServer`, with `allowHTTP1: true` to serve HTTP/1.1
   * upgrades on the same port) WebSockets also open as RFC 8441 extended
   * CONNECT streams, and the server's sessions advertise
   * SETTINGS_ENABLE_CONNECT_PROTOCOL (unless `http2: false`).
   */
  server?: HttpServer | HttpsServer | AnyHttp2Server;
  /**
   * Accept WebSockets over HTTP/2 (RFC 8441) when `server` is an HTTP/2
   * server (default true). false: only HTTP/1.1 upgrades, and the setting is
   * not advertised, so browsers open their WebSockets over HTTP/1.1.
   */
  http2?: boolean;
  /** Do not listen: call `handleUpgrade` from your own `upgrade` handler. */
  noServer?: boolean;
  /** Accept only upgrade requests for this path (the query string is ignored). */
  path?: string;
  verifyClient?: VerifyClient;
  /** Chooses the subprotocol among those offered; return false for none. Default: the first offered. */
  handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
  /** Largest message accepted, in bytes (default 100 MiB). Larger ones close the connection with 1009. */
  maxPayload?: number;
  /** Most frames one message may span (default 16,384, as in ws; 0: no limit). The frame past it fails the connection with 1008. */
  maxFragments?: number;
  clientTracking?: boolean;
  skipUTF8Validation?: boolean;
  autoPong?: boolean;
  /** Automatic pongs that may wait unwritten before a pinging peer that does not read is cut off (default 60, as in ws; 0: no limit). */
  maxPendingAutoPongs?: number;
  /**
   * Bytes that may wait to be sent to one client (`bufferedAmount`) before a
   * send, `sendFrame` or `broadcast` to it fails the connection (1013): a
   * client that never reads cannot grow the server without bound. Default
   * 16 MiB; 0 or Infinity: no limit.
   */
  disconnectBufferedAmount?: number;
  /** Negotiate permessage-deflate (RFC 7692) when a client offers it. Off by default, as in ws. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Ping silent connections and terminate those that do not answer. Needs clientTracking. */
  heartbeat?: HeartbeatOptions;
  /**
   * Milliseconds a client has to send a complete upgrade request (default
   * 10,000). Applies to the HTTP server the WebSocketServer creates itself
   * (`port`); set `headersTimeout` on servers you pass in.
   */
  handshakeTimeout?: number;
  /**
   * Bytes of request heads that arrived in pieces and wait for the rest,
   * held for all connections together (default 8 MiB): a client whose
   * partial head would cross it gets 503 Service Unavailable with
   * Retry-After. Heads that arrive in one read are not counted. Applies to
   * servers created with `port`.
   */
  maxPartialHeadBytes?: number;
  /** Milliseconds to wait for the closing handshake before destroying the socket (default 30,000). */
  closeTimeout?: number;
  /** Most chunks held for one incomplete frame (default 1,048,576, as in ws 8.21; 0: no limit). Past it: 1008. */
  maxBufferedChunks?: number;
  /** Let an exception thrown by a listener of a connection propagate, as in ws, instead of closing that connection with 1011 (see `ConnectionOptions`). */
  propagateListenerErrors?: boolean;
  /** The class to create connections with (a subclass of WebSocket). */
  WebSocket?: typeof WebSocket;
}

export interface ShutdownOptions {
  code?: number;
  reason?: string;
  /** Milliseconds to wait for clients to close before terminating them (default 5,000). */
  timeout?: number;
}
