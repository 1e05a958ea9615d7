import { Buffer, Blob } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { ClientRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  CloseAction,
  CloseCode,
  ClosingHandshake,
  DEFAULT_MAX_PAYLOAD,
  FrameParser,
  type FrameParserHandler,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  ProtocolError,
  isValidCloseCode,
} from '../protocol/index.js';
import type { MessageTransform } from '../protocol/index.js';
import { isUtf8 } from 'node:buffer';
import type { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent, WebSocketEventListener } from './events.js';
import * as eventTarget from './event-target.js';
import { iterateMessages } from './message-iterator.js';
import { heartbeatClock } from './heartbeat.js';
import { hasSharedReads, kChunkSink } from './shared-reads.js';
import { resetStream } from './http2-server.js';
import { keepFreedMemoryForReuse } from './malloc-reuse.js';
import { abortHandshake, connect, handshakeRequest, initAsClient, redirectsFollowed, type ClientOptions } from './client.js';
import { codedError } from '../protocol/switchboard-error.js';
import { WebSocketError, type WebSocketErrorCode } from './errors.js';
import { backpressureChannel, closeChannel, errorChannel, openChannel, receivedChannel } from './diagnostics.js';
import { READY_STATES, SendPipeline, reportSendAfterClose, toBuffer, type SendCallback, type WebSocketData } from './send-pipeline.js';

export { toBuffer, type SendCallback, type WebSocketData };

export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';

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

const DEFAULT_CLOSE_TIMEOUT = 30_000;
/** ws's default for `maxPendingAutoPongs`. */
export const DEFAULT_MAX_PENDING_AUTO_PONGS = 60;
/**
 * Default `disconnectBufferedAmount` of server-side connections: twice the hub's
 * slow-consumer limit (8 MiB), so that the hub's policy acts first, and far
 * below what one attacker may cost (64 MiB).
 */
export const DEFAULT_DISCONNECT_BUFFERED_AMOUNT = 16 * 1024 * 1024;
const EMPTY: Buffer = Buffer.alloc(0);

/** send/ping/pong while CONNECTING: the plain `Error` ws throws (with a code), where the WHATWG API has an InvalidStateError DOMException. */
function invalidState(readyState: number): Error {
  return codedError(new Error(`WebSocket is not open: readyState ${readyState} (${READY_STATES[readyState]})`), 'WS_ERR_INVALID_STATE');
}

/**
 * One WebSocket connection over a byte stream (a TCP or TLS socket). The
 * same class serves both sides: `WebSocketServer` creates server-side
 * instances; the client constructor connects (see client.ts).
 *
 * It speaks two APIs at once: ws's EventEmitter API (`on('message', (data,
 * isBinary) => ...)`) and the browser's (`onmessage`, `addEventListener`,
 * MessageEvent/CloseEvent).
 */
export class WebSocket extends EventEmitter {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  // On the prototype (below), as in ws and browsers, not copied onto every instance.
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  /** The closing handshake's state machine (protocol/connection.ts): it owns `readyState`. @internal */
  readonly _closing = new ClosingHandshake(true);
  /** @internal */ _socket: Duplex | null = null;
  /** @internal */ _isServer = true;
  /** @internal */ _protocol = '';
  /** @internal */ _extensions = '';
  /** @internal */ _url = '';
  /** @internal */ _lastActivity = 0;
  /** @internal */ _pingSentAt = 0;
  /** When the connection opened (performance.now()), for the duration `switchboard:connection:close` reports. @internal */
  _openedAt = 0;
  /** Data messages received and their payload bytes (as on the wire), for `stats()`. @internal */
  _messagesReceived = 0;
  /** @internal */ _bytesReceived = 0;

  private _binaryType: BinaryType = 'nodebuffer';
  private parser: FrameParser | null = null;
  private autoPong = true;
  private closeTimeout = DEFAULT_CLOSE_TIMEOUT;
  private closeTimer: NodeJS.Timeout | null = null;
  private errorEmitted = false;
  private propagateListenerErrors = false;
  /** What send/ping/pong were given while CLOSING or CLOSED: WHATWG counts it in `bufferedAmount` (it never leaves). */
  private bytesAfterClose = 0;
  private paused = false;
  /** The sending half (send-pipeline.ts), made when the connection opens. */
  private sender: SendPipeline | null = null;
  /** permessage-deflate, when negotiated. */
  private transform: MessageTransform | null = null;
  /** Whether a received message is being decompressed (the parser waits for it). */
  private decoding = false;
  private validateUtf8 = true;
  private maxPayload = DEFAULT_MAX_PAYLOAD;
  private maxFragments: number | undefined = undefined;
  private maxBufferedChunks: number | undefined = undefined;
  /** Infinity when there is no limit: each check is one compare. */
  private maxPendingAutoPongs = DEFAULT_MAX_PENDING_AUTO_PONGS;
  private pendingAutoPongs = 0;
  /** Called once an automatic pong was written; made on the first ping (one function per connection, as in ws). */
  private autoPongWritten: (() => void) | null = null;
  /** Whether the socket reads into the shared buffer (shared-reads.ts), whose chunks the parser must copy from. */
  private sharedReads = false;
  /** Whether `_socket` is an HTTP/2 stream (RFC 8441), which a failure resets instead of destroying. */
  private overHttp2 = false;

  /**
   * `new WebSocket(url, protocols?, options?)` connects as a client.
   * Without an address (as `WebSocketServer` creates them) the instance waits
   * for a server-side socket.
   */
  constructor(address?: string | URL | null, protocols?: string | string[] | ClientOptions, options?: ClientOptions) {
    super();
    if (address === undefined || address === null) return;
    if (options === null) options = undefined;
    if (protocols !== undefined && protocols !== null && typeof protocols === 'object' && !Array.isArray(protocols)) {
      options = protocols;
      protocols = undefined;
    }
    initAsClient(this, address, protocols as string | string[] | undefined, options);
  }

  /** Connects and resolves once the connection is open; rejects with the handshake's typed error. */
  static connect(address: string | URL, options?: ClientOptions & { protocols?: string | string[] }): Promise<WebSocket> {
    return connect(this, address, options);
  }

  get readyState(): number {
    return this._closing.state;
  }
  get protocol(): string {
    return this._protocol;
  }
  get extensions(): string {
    return this._extensions;
  }
  get url(): string {
    return this._url;
  }
  get isPaused(): boolean {
    return this.paused;
  }
  get binaryType(): BinaryType {
    return this._binaryType;
  }
  set binaryType(type: BinaryType) {
    if (type === 'nodebuffer' || type === 'arraybuffer' || type === 'fragments' || type === 'blob') this._binaryType = type;
  }
  /**
   * ws's internals that code written for ws reads: the handshake request
   * while connecting (null after), and the number of redirects followed.
   * @internal
   */
  get _req(): ClientRequest | null {
    return handshakeRequest(this);
  }
  /** @internal */
  get _redirects(): number {
    return redirectsFollowed(this);
  }
  /** Bytes accepted by `send` but not yet handed to the kernel. */
  get bufferedAmount(): number {
    return (this.sender === null ? 0 : this.sender.bufferedAmount) + this.bytesAfterClose;
  }
  /** Data messages written (fragments count one each) and their payload bytes, for `stats()`. @internal */
  get _messagesSent(): number {
    return this.sender === null ? 0 : this.sender.messagesSent;
  }
  /** @internal */
  get _bytesSent(): number {
    return this.sender === null ? 0 : this.sender.bytesSent;
  }

  /**
   * Takes over an upgraded socket and starts reading frames. `head` holds
   * bytes that arrived with the handshake.
   * @internal
   */
  _attach(socket: Duplex, head: Buffer, isServer: boolean, options: ConnectionOptions): void {
    this._isServer = isServer;
    this._closing.isServer = isServer;
    this._socket = socket;
    this.overHttp2 = options.overHttp2 === true;
    this.autoPong = options.autoPong ?? true;
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.propagateListenerErrors = options.propagateListenerErrors === true;
    this._lastActivity = heartbeatClock.now;
    this.transform = options.transform ?? null;
    this.validateUtf8 = !options.skipUTF8Validation;
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxFragments = options.maxFragments;
    this.maxBufferedChunks = options.maxBufferedChunks;
    this.maxPendingAutoPongs = positiveOrInfinity(options.maxPendingAutoPongs ?? DEFAULT_MAX_PENDING_AUTO_PONGS);
    const disconnectBufferedAmount = positiveOrInfinity(options.disconnectBufferedAmount ?? (isServer ? DEFAULT_DISCONNECT_BUFFERED_AMOUNT : 0));
    this.sender = new SendPipeline(this, socket, this.transform, options.compressThreshold ?? 1024, disconnectBufferedAmount, options.generateMask);
    const tcp = socket as Duplex & { setNoDelay?: (v: boolean) => void; setTimeout?: (ms: number) => void; timeout?: number };
    // An idle timeout an http server may have set would cut idle connections.
    if (tcp.timeout) tcp.setTimeout?.(0);
    // Shared listener functions find the connection through the socket: no closures per connection.
    (socket as SocketWithOwner)[kOwner] = this;
    if (hasSharedReads(socket)) {
      // Accepted with TCP_NODELAY already set.
      this.sharedReads = true;
      socket[kChunkSink] = socketOnChunk;
    } else {
      tcp.setNoDelay?.(true);
      socket.on('data', socketOnData);
    }
    socket.on('end', socketOnEnd);
    socket.on('close', socketOnClose);
    socket.on('error', socketOnError);
    this._closing.opened();
    this._openedAt = performance.now();
    if (openChannel.hasSubscribers) openChannel.publish({ websocket: this, server: isServer });
    if (head.length > 0) {
      // Frames that came in the same packet as the handshake are read once
      // the user had a chance to add listeners, including after
      // `await WebSocket.connect()` (promise continuations run before
      // setImmediate); the socket waits meanwhile so order is kept.
      socket.pause();
      setImmediate(() => {
        this._onSocketData(head);
        if (!this.paused && !this.decoding) socket.resume();
      });
    } else if (!this.sharedReads || socket.isPaused()) {
      // A socket handed over paused (by our own upgrade server) starts flowing now.
      // One with shared reads that was not paused is reading already: a resume would only cost a tick.
      socket.resume();
    }
  }

  /** @internal */
  _onSocketData(chunk: Buffer): void {
    this._lastActivity = heartbeatClock.now;
    // Created on the first bytes: an idle connection holds no parser state.
    const parser = this.parser ?? this.createParser();
    if (parser.done) return;
    const sender = this.sender!;
    sender.batching = true;
    try {
      parser.push(chunk);
    } finally {
      sender.batching = false;
      sender.flushBatch();
    }
  }

  /** Ends our side of TCP after whatever is still batched. */
  private endSocket(): void {
    this.sender?.end();
  }

  private createParser(): FrameParser {
    keepFreedMemoryForReuse();
    const parser = new FrameParser(new ParserEvents(this), {
      role: this._isServer ? 'server' : 'client',
      maxPayload: this.maxPayload,
      maxFragments: this.maxFragments,
      maxBufferedChunks: this.maxBufferedChunks,
      skipUtf8Validation: !this.validateUtf8,
      allowRsv1: this.transform !== null,
      borrowedChunks: this.sharedReads,
    });
    this.parser = parser;
    return parser;
  }

  /** @internal */
  _onSocketEnd(): void {
    this.carryOut(this._closing.receiveEnd());
  }

  /** @internal */
  _onSocketClose(): void {
    const socket = this._socket!;
    if (hasSharedReads(socket)) socket[kChunkSink] = null;
    else socket.removeListener('data', socketOnData);
    socket.removeListener('end', socketOnEnd);
    this._closing.closed();
    if (this.closeTimer !== null) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    this.parser?.destroy();
    this.parser = null;
    this.transform?.release();
    this.sender?.failQueued();
    if (closeChannel.hasSubscribers) {
      closeChannel.publish({ websocket: this, server: this._isServer, code: this._closing.code, wasClean: this._closing.wasClean, durationMs: performance.now() - this._openedAt });
    }
    this.safeEmit('close', this._closing.code, this._closing.reason);
  }

  /** @internal */
  _onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    this._messagesReceived++;
    this._bytesReceived += data.length;
    if (receivedChannel.hasSubscribers) receivedChannel.publish({ websocket: this, server: this._isServer, size: data.length, binary: isBinary, compressed });
    if (compressed) this.decodeMessage(data, isBinary);
    else this.deliverMessage(data, isBinary);
  }

  /** @internal */
  _onPing(data: Buffer): void {
    if (this.autoPong && this._closing.state === WebSocket.OPEN) {
      // As ws 8.23 does: a peer that keeps pinging but does not read our pongs is cut off.
      if (this.pendingAutoPongs >= this.maxPendingAutoPongs) {
        this._failForLimit('WS_ERR_TOO_MANY_PENDING_PONGS', CloseCode.PolicyViolation, `More than ${this.maxPendingAutoPongs} automatic pongs wait unwritten: the peer does not read`);
        return;
      }
      this.pendingAutoPongs++;
      this.sender!.writeControl(Opcode.Pong, data, !this._isServer, (this.autoPongWritten ??= () => void this.pendingAutoPongs--));
    }
    this.safeEmit('ping', data);
  }

  /** @internal */
  _onPong(data: Buffer): void {
    this._pingSentAt = 0;
    this.safeEmit('pong', data);
  }

  /** @internal */
  _onCloseFrame(code: number, reason: Buffer): void {
    this.carryOut(this._closing.receiveClose(code, reason));
  }

  /** @internal */
  _onProtocolError(error: ProtocolError): void {
    this.failConnection(error);
  }

  private deliverMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) this.safeEmit('message', this.convertBinary(data), true);
    // Text is one Buffer whatever binaryType says, as in ws (binaryType is "the type for binary data").
    else this.safeEmit('message', data, false);
  }

  /**
   * A compressed message: the parser and the socket wait while it is
   * inflated, so messages and control frames behind it keep their order.
   */
  private decodeMessage(data: Buffer, isBinary: boolean): void {
    const parser = this.parser!;
    let settled = false;
    let waited = false;
    this.transform!.decode(data, (error, result) => {
      settled = true;
      if (waited) this.decoding = false;
      if (this.parser !== parser) return;
      if (error) {
        this.failConnection(error);
        return;
      }
      const message = result as Buffer;
      if (!isBinary && this.validateUtf8 && !isUtf8(message)) {
        this.failConnection(new ProtocolError('WS_ERR_INVALID_UTF8', 'Invalid WebSocket frame: invalid UTF-8 sequence', CloseCode.InvalidPayload));
        return;
      }
      this.deliverMessage(message, isBinary);
      if (waited) {
        if (!this.paused) this._socket?.resume();
        parser.resume();
      }
    });
    if (!settled) {
      // Decoding went asynchronous: the parser and the socket wait, so what follows keeps its order.
      waited = true;
      this.decoding = true;
      parser.pause();
      this._socket?.pause();
    }
  }

  private convertBinary(data: Buffer): unknown {
    switch (this._binaryType) {
      case 'nodebuffer':
        return data;
      case 'arraybuffer':
        return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? data.buffer
          : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
      case 'fragments':
        return [data];
      case 'blob':
        return new Blob([data]);
    }
  }

  /**
   * Emits without letting a listener's exception escape into the socket's
   * event loop: one faulty handler fails only its own connection (1011).
   */
  private safeEmit(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (error) {
      if (this.propagateListenerErrors) throw error;
      this.handlerFailed(event, error);
    }
  }

  private handlerFailed(event: string, error: unknown): void {
    if (errorChannel.hasSubscribers) errorChannel.publish({ websocket: this, error, code: 'ERR_LISTENER' });
    if (event !== 'error' && this.listenerCount('error') > 0 && !this.errorEmitted) {
      this.errorEmitted = true;
      try {
        this.emit('error', error);
      } catch {
        // An 'error' listener that throws has nowhere left to report to.
      }
    } else {
      process.emitWarning(`A '${event}' listener of a WebSocket threw: ${error instanceof Error ? error.stack : String(error)}`, 'SwitchboardWarning');
    }
    this._failWithInternalError();
  }

  /**
   * We cannot go on (a listener threw, a message could not be compressed):
   * the connection fails with 1011.
   * @internal
   */
  _failWithInternalError(): void {
    if (this._closing.state === WebSocket.OPEN) this.carryOut(this._closing.fail(CloseCode.InternalError));
  }

  /**
   * A Blob given to send/ping/pong could not be read: as in ws, 'error'
   * gets the reader's error (a `NotReadableError` DOMException) and the
   * connection closes; here with 1011, as for any other failure of ours.
   * @internal
   */
  _failWithSendError(error: Error): void {
    if (this._closing.state !== WebSocket.OPEN) return;
    if (!this.errorEmitted && this.listenerCount('error') > 0) {
      this.errorEmitted = true;
      this.safeEmit('error', error);
    }
    this._failWithInternalError();
  }

  /**
   * The peer made us hold more than a limit allows (it does not read): the
   * connection is destroyed at once, since a close frame would wait behind
   * the bytes the peer does not read. 'close' reports `closeCode`.
   */
  /** @internal */
  _failForLimit(code: WebSocketErrorCode, closeCode: number, message: string): void {
    if (this._closing.abort(closeCode) === CloseAction.None) return;
    if (backpressureChannel.hasSubscribers) backpressureChannel.publish({ websocket: this, code, closeCode, bufferedAmount: this.bufferedAmount });
    if (errorChannel.hasSubscribers) errorChannel.publish({ websocket: this, error: new WebSocketError(code, message), code });
    // Nothing more is parsed (this may run inside the parser's loop).
    this.parser?.destroy();
    this.destroySocket();
    if (!this.errorEmitted && this.listenerCount('error') > 0) {
      this.errorEmitted = true;
      this.safeEmit('error', new WebSocketError(code, message));
    }
  }

  /** Fails the connection after a protocol violation by the peer (RFC 6455 section 7.1.7). */
  private failConnection(error: ProtocolError): void {
    if (errorChannel.hasSubscribers) errorChannel.publish({ websocket: this, error, code: error.code });
    this.parser?.destroy();
    // Nothing more is parsed, but the socket must read on (it may have
    // been paused for a decode) to see the peer's close and end of stream.
    this._socket?.resume();
    const action = this._closing.fail(error.closeCode);
    // Our close frame went out already: TCP ends now, unless sends are still being prepared (a compression) ahead of it.
    if (action !== CloseAction.EndTcp || this.sender === null || this.sender.idle) this.carryOut(action);
    if (!this.errorEmitted && this.listenerCount('error') > 0) {
      this.errorEmitted = true;
      this.safeEmit('error', error);
    }
  }

  // ---- sending --------------------------------------------------------------

  send(data: WebSocketData, options?: SendOptions | SendCallback, cb?: SendCallback): void {
    if (typeof options === 'function') {
      cb = options;
      options = undefined;
    }
    if (this._closing.state === WebSocket.CONNECTING) throw invalidState(this._closing.state);
    if (typeof data === 'number' || typeof data === 'boolean') data = String(data);
    // send() and send(null) send an empty (binary) message, as in ws; not the text "undefined".
    else if (data === undefined || data === null) data = EMPTY;
    const binary = options?.binary ?? typeof data !== 'string';
    const fin = options?.fin ?? true;
    const mask = options?.mask ?? !this._isServer;
    const compress = options?.compress ?? true;
    // Open implies a sender.
    if (this._closing.state !== WebSocket.OPEN) {
      this.sentAfterClose(data, cb);
      return;
    }
    if (this.sender!.overLimit()) {
      reportSendAfterClose(this._closing.state, cb);
      return;
    }
    this.sender!.send(data, binary, fin, mask, compress, cb);
  }

  /** A send while CLOSING or CLOSED: nothing is sent, the bytes count in `bufferedAmount` (WHATWG), the callback learns it. */
  private sentAfterClose(data: WebSocketData, cb: SendCallback | undefined): void {
    this.bytesAfterClose += data instanceof Blob ? data.size : typeof data === 'string' ? Buffer.byteLength(data) : toBuffer(data).length;
    reportSendAfterClose(this._closing.state, cb);
  }

  /**
   * Writes one complete message that is already framed: an unmasked,
   * uncompressed data frame with FIN set (header and payload in `frame`), as
   * `encodeFrame` from `switchboard/protocol` makes it. For fan-out:
   * switchboard/hub frames a room broadcast once and hands the same bytes to
   * every member. Server-side connections only (client frames must be
   * masked). Keeps the order of `send`s around it and counts in
   * `bufferedAmount`. The caller vouches for the bytes: they are not checked.
   */
  sendFrame(frame: Buffer, cb?: SendCallback): void {
    if (!this._isServer) throw new WebSocketError('WS_ERR_INVALID_STATE', 'sendFrame is for server-side connections (client frames are masked)');
    if (this._closing.state !== WebSocket.OPEN) {
      reportSendAfterClose(this._closing.state, cb);
      return;
    }
    this.sender!.sendFrame(frame, cb);
  }

  /**
   * Writes a frame shared by many connections (see `broadcast`) when this
   * connection can take it as it is: open, server-side, without
   * permessage-deflate, no fragmented send open and nothing queued ahead.
   * Returns false otherwise, and the caller falls back to `send`.
   * @internal
   */
  _writeSharedFrame(frame: Buffer): boolean {
    return this._isServer && this._closing.state === WebSocket.OPEN && this.sender!.writeShared(frame);
  }

  ping(data?: WebSocketData, mask?: boolean | SendCallback, cb?: SendCallback): void {
    this.control(Opcode.Ping, data, mask, cb);
  }

  pong(data?: WebSocketData, mask?: boolean | SendCallback, cb?: SendCallback): void {
    this.control(Opcode.Pong, data, mask, cb);
  }

  private control(opcode: number, data: WebSocketData | undefined, mask: boolean | SendCallback | undefined, cb: SendCallback | undefined): void {
    if (this._closing.state === WebSocket.CONNECTING) throw invalidState(this._closing.state);
    if (typeof data === 'function') {
      cb = data as unknown as SendCallback;
      data = undefined;
      mask = undefined;
    } else if (typeof mask === 'function') {
      cb = mask;
      mask = undefined;
    }
    const masked = typeof mask === 'boolean' ? mask : !this._isServer;
    if (data instanceof Blob) {
      if (data.size > MAX_CONTROL_PAYLOAD) throw codedError(new RangeError('The data size must not be greater than 125 bytes'), 'WS_ERR_INVALID_ARGUMENT');
      if (this._closing.state !== WebSocket.OPEN) this.sentAfterClose(data, cb);
      else this.sender!.writeBlobControl(opcode, data, masked, cb);
      return;
    }
    const payload = data === undefined || data === null ? EMPTY : toBuffer(typeof data === 'number' ? String(data) : data);
    if (payload.length > MAX_CONTROL_PAYLOAD) throw codedError(new RangeError('The data size must not be greater than 125 bytes'), 'WS_ERR_INVALID_ARGUMENT');
    if (this._closing.state !== WebSocket.OPEN) {
      this.sentAfterClose(payload, cb);
      return;
    }
    this.sender!.writeControl(opcode, payload, masked, cb);
  }

  // ---- closing --------------------------------------------------------------

  /**
   * Starts the closing handshake. ws's rules: any valid close code (1000,
   * 1001-1003, 1007-1014, 3000-4999) and a reason of at most 123 bytes.
   */
  close(code?: number, reason?: string | Buffer): void {
    if (this._closing.state === WebSocket.CLOSED) return;
    if (code !== undefined && (typeof code !== 'number' || !isValidCloseCode(code))) {
      // Clients raise the WHATWG DOMException (still an Error); servers the TypeError ws raises.
      if (!this._isServer) throw new DOMException(`The close code must be 1000, 3000-4999 or another code valid in a close frame, got ${String(code)}`, 'InvalidAccessError');
      throw codedError(new TypeError('First argument must be a valid error code number'), 'WS_ERR_INVALID_ARGUMENT');
    }
    const reasonBytes = reason === undefined ? EMPTY : typeof reason === 'string' ? Buffer.from(reason) : reason;
    if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
      if (!this._isServer) throw new DOMException('The close reason must not be longer than 123 UTF-8 bytes', 'SyntaxError');
      throw codedError(new RangeError('The message must not be greater than 123 bytes'), 'WS_ERR_INVALID_ARGUMENT');
    }
    if (code === undefined && reasonBytes.length > 0) throw codedError(new TypeError('A close reason needs a close code'), 'WS_ERR_INVALID_ARGUMENT');
    if (this._closing.state === WebSocket.CONNECTING) {
      this.abortConnecting();
      return;
    }
    this.carryOut(this._closing.close(code, reasonBytes));
  }

  private abortConnecting(): void {
    abortHandshake(this);
  }

  /**
   * A client connection failed before it opened: 'error' (if anyone listens,
   * so a forgotten listener cannot crash the process), then 'close' with 1006.
   * @internal
   */
  _failBeforeOpen(error: Error): void {
    this._closing.state = WebSocket.CLOSING;
    if (this.listenerCount('error') > 0 && !this.errorEmitted) {
      this.errorEmitted = true;
      this.safeEmit('error', error);
    }
    this._closing.closed();
    this.safeEmit('close', CloseCode.Abnormal, EMPTY);
  }

  /** Carries out what the closing handshake decided (protocol/connection.ts). */
  private carryOut(action: CloseAction): void {
    if (action & CloseAction.SendClose) this.writeCloseFrame();
    if (action & CloseAction.EndTcp) this.endSocket();
    if (action & CloseAction.Destroy) this.destroySocket();
  }

  /**
   * Drops the connection without a closing handshake: the TCP socket is
   * destroyed; an HTTP/2 stream is reset with CANCEL (RFC 8441 section 5:
   * a stream's RST_STREAM stands for a TCP reset), the session lives on.
   */
  private destroySocket(): void {
    const socket = this._socket;
    if (socket === null) return;
    if (this.overHttp2) resetStream(socket);
    else socket.destroy();
  }

  /** Sends our close frame; a peer that never answers cannot hold the socket past `closeTimeout`. */
  private writeCloseFrame(): void {
    const socket = this._socket;
    if (socket === null) return;
    this.sender!.endFragmentedSend();
    if (!socket.writable) {
      this.destroySocket();
      return;
    }
    this.sender!.writeControl(Opcode.Close, this._closing.closePayload(), !this._isServer, (error) => {
      if (error) this.destroySocket();
      else this.carryOut(this._closing.closeWritten());
    });
    this.closeTimer = setTimeout(() => this.carryOut(this._closing.closeTimedOut()), this.closeTimeout);
    this.closeTimer.unref?.();
  }

  /** Destroys the connection at once, without a closing handshake. */
  terminate(): void {
    if (this._closing.state === WebSocket.CONNECTING) {
      this.abortConnecting();
      return;
    }
    this.carryOut(this._closing.terminate());
  }

  pause(): void {
    if (this._closing.state === WebSocket.CONNECTING || this._closing.state === WebSocket.CLOSED) return;
    this.paused = true;
    this._socket?.pause();
  }

  resume(): void {
    if (this._closing.state === WebSocket.CONNECTING || this._closing.state === WebSocket.CLOSED) return;
    this.paused = false;
    if (!this.decoding) this._socket?.resume();
  }

  // ---- async iteration ----------------------------------------------------------

  /**
   * `for await (const message of ws)`: text messages as strings, binary ones
   * as `binaryType` says. The socket is paused while too many messages wait
   * for the consumer. The loop ends when the connection closes, and throws if
   * it failed with an error.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return iterateMessages(this);
  }

  // ---- the browser API --------------------------------------------------------

  get onopen(): ((event: WebSocketEvent) => void) | null {
    return eventTarget.getAttributeHandler(this, 'open');
  }
  set onopen(handler: ((event: WebSocketEvent) => void) | null) {
    eventTarget.setAttributeHandler(this, 'open', handler);
  }
  get onmessage(): ((event: MessageEvent) => void) | null {
    return eventTarget.getAttributeHandler(this, 'message');
  }
  set onmessage(handler: ((event: MessageEvent) => void) | null) {
    eventTarget.setAttributeHandler(this, 'message', handler);
  }
  get onclose(): ((event: CloseEvent) => void) | null {
    return eventTarget.getAttributeHandler(this, 'close');
  }
  set onclose(handler: ((event: CloseEvent) => void) | null) {
    eventTarget.setAttributeHandler(this, 'close', handler);
  }
  get onerror(): ((event: ErrorEvent) => void) | null {
    return eventTarget.getAttributeHandler(this, 'error');
  }
  set onerror(handler: ((event: ErrorEvent) => void) | null) {
    eventTarget.setAttributeHandler(this, 'error', handler);
  }

  addEventListener(type: string, listener: WebSocketEventListener, options: { once?: boolean } = {}): void {
    eventTarget.addEventListener(this, type, listener, options);
  }

  removeEventListener(type: string, listener: WebSocketEventListener): void {
    eventTarget.removeEventListener(this, type, listener);
  }

  /** Whether both close frames were exchanged: a CloseEvent's `wasClean`. @internal */
  _closedCleanly(): boolean {
    return this._closing.wasClean;
  }
}


/** Infinity for "no limit" (0, a negative number or Infinity), so that a limit check is one compare. */
function positiveOrInfinity(limit: number): number {
  return limit > 0 ? limit : Infinity;
}

// Property shapes as in ws (and WebIDL): the ready-state constants are read-only and enumerable on
// the class and its prototype; the attributes are enumerable accessors on the prototype.
for (const [value, name] of READY_STATES.entries()) {
  Object.defineProperty(WebSocket, name, { enumerable: true, writable: false, configurable: false, value });
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value });
}
for (const attribute of ['binaryType', 'bufferedAmount', 'extensions', 'isPaused', 'protocol', 'readyState', 'url', 'onopen', 'onmessage', 'onclose', 'onerror']) {
  Object.defineProperty(WebSocket.prototype, attribute, { enumerable: true });
}

const kOwner = Symbol('switchboard.websocket');
type SocketWithOwner = Duplex & { [kOwner]: WebSocket };

function socketOnData(this: SocketWithOwner, chunk: Buffer): void {
  this[kOwner]._onSocketData(chunk);
}
function socketOnChunk(chunk: Buffer, socket: Duplex): void {
  (socket as SocketWithOwner)[kOwner]._onSocketData(chunk);
}
function socketOnEnd(this: SocketWithOwner): void {
  this[kOwner]._onSocketEnd();
}
function socketOnClose(this: SocketWithOwner): void {
  this[kOwner]._onSocketClose();
}
function socketOnError(this: SocketWithOwner): void {
  // A reset connection: its 'close' follows and reports 1006.
  this.destroy();
}

/** Forwards the parser's events to the connection (one small object, no closures). */
class ParserEvents implements FrameParserHandler {
  constructor(private readonly ws: WebSocket) {}
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    this.ws._onMessage(data, isBinary, compressed);
  }
  onPing(data: Buffer): void {
    this.ws._onPing(data);
  }
  onPong(data: Buffer): void {
    this.ws._onPong(data);
  }
  onClose(code: number, reason: Buffer): void {
    this.ws._onCloseFrame(code, reason);
  }
  onError(error: ProtocolError): void {
    this.ws._onProtocolError(error);
  }
}
