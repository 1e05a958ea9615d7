// The options of one WebSocket connection (server- or client-side) and their
// defaults; the types `send` takes.
import type { Buffer } from 'node:buffer';
import type { MessageTransform } from '../protocol/index.js';

export interface SendOptions {
  binary?: boolean;
  fin?: boolean;
  mask?: boolean;
  compress?: boolean;
}

/** Options of the connection itself, shared by server- and client-side sockets. */
export interface ConnectionOptions {
  /** The negotiated per-message extension (permessage-deflate), if any. @internal */
  transform?: MessageTransform | null;
  /** Messages smaller than this are sent uncompressed. @internal */
  compressThreshold?: number;
  maxPayload?: number;
  /** Most frames one received message may span (default 16,384, as in ws; 0: no limit). The frame past it fails the connection with 1008. */
  maxFragments?: number;
  skipUTF8Validation?: boolean;
  autoPong?: boolean;
  /**
   * Automatic pongs that may wait unwritten (default 60, as in ws; 0: no
   * limit). A peer that pings without reading our pongs is cut off at the
   * next ping: the connection is destroyed ('close' reports 1008, 'error'
   * gets WS_ERR_TOO_MANY_PENDING_PONGS).
   */
  maxPendingAutoPongs?: number;
  /**
   * Write-buffer limit in bytes (`bufferedAmount`), in the spirit of uWS's
   * `maxBackpressure` with `closeOnBackpressureLimit`: a send that finds more
   * than this already waiting is not sent and the connection is destroyed
   * ('close' reports 1013, 'error' gets WS_ERR_BUFFERED_AMOUNT_EXCEEDED), so
   * a peer that never reads cannot grow us without bound. One message may
   * overshoot it. Default 16 MiB on server-side connections, no limit on
   * clients; 0 or Infinity: no limit.
   */
  disconnectBufferedAmount?: number;
  /** Milliseconds to wait for the peer's part of the closing handshake before the TCP connection is destroyed. */
  closeTimeout?: number;
  /**
   * Most chunks of received bytes held at once while a frame is incomplete
   * (ws 8.21's `maxBufferedChunks`, default 1,048,576); past it the
   * connection fails with 1008 and `WS_ERR_TOO_MANY_BUFFERED_PARTS`. 0: no limit.
   */
  maxBufferedChunks?: number;
  /**
   * What an exception thrown by one of your listeners does. By default it
   * fails only its own connection (1011) and is reported as `'error'` (or a
   * warning when nobody listens): one faulty handler cannot take the
   * process down. `true` lets it propagate out of the event, as in ws (an
   * uncaught exception, unless something up the stack catches it): for test
   * suites written against ws whose assertions run inside listeners.
   */
  propagateListenerErrors?: boolean;
  /** The connection runs over an HTTP/2 stream (RFC 8441): terminating it resets the stream with CANCEL. @internal */
  overHttp2?: boolean;
  /** Fills the 4-byte masking key of each frame a client sends (ws's `generateMask`); default: bytes from the CSPRNG. */
  generateMask?: (mask: Buffer) => void;
}

/** Milliseconds the closing handshake may take before the connection is destroyed (`closeTimeout`). */
export const DEFAULT_CLOSE_TIMEOUT = 30_000;
/** ws's default for `maxPendingAutoPongs`. */
export const DEFAULT_MAX_PENDING_AUTO_PONGS = 60;
/**
 * Default `disconnectBufferedAmount` of server-side connections: twice the hub's
 * slow-consumer limit (8 MiB), so that the hub's policy acts first, and far
 * below what one attacker may cost (64 MiB).
 */
export const DEFAULT_DISCONNECT_BUFFERED_AMOUNT = 16 * 1024 * 1024;

/** Infinity for "no limit" (0, a negative number or Infinity), so that a limit check is one compare. */
export function positiveOrInfinity(limit: number): number {
  return limit > 0 ? limit : Infinity;
}
