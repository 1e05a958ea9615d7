// The connection machinery under the public WebSocket class (websocket.ts):
// it takes over an upgraded socket, reads frames through the parser,
// delivers messages (inflating them when permessage-deflate is on), runs the
// closing handshake that protocol/connection.ts decides, and fails the
// connection with the right close code and error. The WebSocket class adds
// the API on top (ws's and the browser's): constructor, send, ping, close...
import { Buffer, isUtf8 } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  CloseAction,
  CloseCode,
  ClosingHandshake,
  DEFAULT_MAX_PAYLOAD,
  FrameParser,
  Opcode,
  ProtocolError,
  ReadyState,
  type MessageTransform,
} from '../protocol/index.js';
import { convertBinary, type BinaryType } from './binary-type.js';
import { backpressureChannel, closeChannel, errorChannel, openChannel, receivedChannel } from './diagnostics.js';
import { WebSocketError, type WebSocketErrorCode } from './errors.js';
import { heartbeatClock } from './heartbeat.js';
import { resetStream } from './http2-server.js';
import { keepFreedMemoryForReuse } from './malloc-reuse.js';
import { SendPipeline } from './send-pipeline.js';
import { hasSharedReads, kChunkSink } from './shared-reads.js';
import {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_DISCONNECT_BUFFERED_AMOUNT,
  DEFAULT_MAX_PENDING_AUTO_PONGS,
  positiveOrInfinity,
  type ConnectionOptions,
} from './connection-options.js';
import { kOwner, ParserEvents, socketOnChunk, socketOnClose, socketOnData, socketOnEnd, socketOnError, type SocketWithOwner } from './connection-listeners.js';

const EMPTY: Buffer = Buffer.alloc(0);

/** The state and the receiving and closing side of one connection; `WebSocket` is the only subclass. */
export abstract class WebSocketConnection extends EventEmitter {
  /** The WebSocket attribute (an accessor of WebSocket.prototype, as in ws); the send pipeline reads it. */
  abstract get readyState(): number;

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

  protected _binaryType: BinaryType = 'nodebuffer';
  private parser: FrameParser | null = null;
  private autoPong = true;
  private closeTimeout = DEFAULT_CLOSE_TIMEOUT;
  private closeTimer: NodeJS.Timeout | null = null;
  private errorEmitted = false;
  private propagateListenerErrors = false;
  /** What send/ping/pong were given while CLOSING or CLOSED: WHATWG counts it in `bufferedAmount` (it never leaves). */
  protected bytesAfterClose = 0;
  protected paused = false;
  /** The sending half (send-pipeline.ts), made when the connection opens. */
  protected sender: SendPipeline | null = null;
  /** permessage-deflate, when negotiated. */
  private transform: MessageTransform | null = null;
  /** Whether a received message is being decompressed (the parser waits for it). */
  protected decoding = false;
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
    if (this.autoPong && this._closing.state === ReadyState.OPEN) {
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
    // Not through safeEmit: its rest parameter would allocate an array per message.
    try {
      // Text is one Buffer whatever binaryType says, as in ws (binaryType is "the type for binary data").
      this.emit('message', isBinary ? convertBinary(data, this._binaryType) : data, isBinary);
    } catch (error) {
      if (this.propagateListenerErrors) throw error;
      this.handlerFailed('message', error);
    }
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
    if (this._closing.state === ReadyState.OPEN) this.carryOut(this._closing.fail(CloseCode.InternalError));
  }

  /**
   * A Blob given to send/ping/pong could not be read: as in ws, 'error'
   * gets the reader's error (a `NotReadableError` DOMException) and the
   * connection closes; here with 1011, as for any other failure of ours.
   * @internal
   */
  _failWithSendError(error: Error): void {
    if (this._closing.state !== ReadyState.OPEN) return;
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
    if (backpressureChannel.hasSubscribers) backpressureChannel.publish({ websocket: this, code, closeCode, bufferedAmount: (this.sender === null ? 0 : this.sender.bufferedAmount) + this.bytesAfterClose });
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

  /**
   * A client connection failed before it opened: 'error' (if anyone listens,
   * so a forgotten listener cannot crash the process), then 'close' with 1006.
   * @internal
   */
  _failBeforeOpen(error: Error): void {
    this._closing.state = ReadyState.CLOSING;
    if (this.listenerCount('error') > 0 && !this.errorEmitted) {
      this.errorEmitted = true;
      this.safeEmit('error', error);
    }
    this._closing.closed();
    this.safeEmit('close', CloseCode.Abnormal, EMPTY);
  }

  /** Carries out what the closing handshake decided (protocol/connection.ts). */
  protected carryOut(action: CloseAction): void {
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

  /** Whether both close frames were exchanged: a CloseEvent's `wasClean`. @internal */
  _closedCleanly(): boolean {
    return this._closing.wasClean;
  }
}
