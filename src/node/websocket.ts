import { Buffer, Blob } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  CloseCode,
  DEFAULT_MAX_PAYLOAD,
  FrameParser,
  type FrameParserHandler,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  ProtocolError,
  copyMasked,
  encodeClosePayload,
  frameHeaderSize,
  isValidCloseCode,
  writeFrameHeader,
} from '../protocol/index.js';
import type { MessageTransform } from '../protocol/index.js';
import { isUtf8 } from 'node:buffer';
import type { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent, WebSocketEventListener } from './events.js';
import * as eventTarget from './event-target.js';
import { iterateMessages } from './message-iterator.js';
import { heartbeatClock } from './heartbeat.js';
import { hasSharedReads, kChunkSink } from './shared-reads.js';
import { abortHandshake, connect, initAsClient, type ClientOptions } from './client.js';
import { WebSocketError, type WebSocketErrorCode } from './errors.js';
import { codedError } from '../protocol/switchboard-error.js';

export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';
export type WebSocketData = string | Buffer | ArrayBuffer | ArrayBufferView | Blob | number | boolean;
export type SendCallback = (error?: Error | null) => void;

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
}

/** Payloads up to this size are copied behind their header and written once; larger ones are written separately, uncopied. */
const COPY_THRESHOLD = 16 * 1024;
/** A batch of frames up to this size is joined into one buffer; larger ones go out as a writev. */
const BATCH_COPY_LIMIT = 64 * 1024;
const DEFAULT_CLOSE_TIMEOUT = 30_000;
/** ws's default for `maxPendingAutoPongs`. */
export const DEFAULT_MAX_PENDING_AUTO_PONGS = 60;
/**
 * Default `disconnectBufferedAmount` of server-side connections: twice the hub's
 * slow-consumer limit (8 MiB), so that the hub's policy acts first, and far
 * below what one attacker may cost (64 MiB).
 */
export const DEFAULT_DISCONNECT_BUFFERED_AMOUNT = 16 * 1024 * 1024;
/**
 * Small frames sent while a received chunk's messages are reported (the
 * replies to a pipelined burst) are written one after another into a
 * shared slab, so that the batch leaves as one buffer with no allocation
 * and no copy per frame. A region handed to a socket is never written
 * again: a full slab is replaced, not rewound.
 */
const SLAB_SIZE = 64 * 1024;
/** Frames up to this size (header included) go into the slab. */
const SLAB_FRAME_LIMIT = 4 * 1024;
let slab: Buffer | null = null;
let slabUsed = SLAB_SIZE;
const READY_STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;
const EMPTY: Buffer = Buffer.alloc(0);

/** Masking keys come from the CSPRNG in batches: one syscall per 1,024 client frames, not one per frame. */
const maskPool = Buffer.allocUnsafe(4096);
let maskPoolOffset = maskPool.length;
function nextMaskKey(): Buffer {
  if (maskPoolOffset === maskPool.length) {
    randomFillSync(maskPool);
    maskPoolOffset = 0;
  }
  const key = maskPool.subarray(maskPoolOffset, maskPoolOffset + 4);
  maskPoolOffset += 4;
  return key;
}

/** Turns what `send` accepts into bytes without copying where the input already is bytes. */
export function toBuffer(data: Exclude<WebSocketData, Blob>): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof SharedArrayBuffer !== 'undefined' && (data as unknown) instanceof SharedArrayBuffer) return Buffer.from(data as unknown as ArrayBuffer);
  return Buffer.from(String(data));
}

function invalidState(readyState: number): Error {
  return new DOMException(`WebSocket is not open: readyState ${readyState} (${READY_STATES[readyState]})`, 'InvalidStateError');
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

  /** @internal */ _readyState = 0;
  /** @internal */ _socket: Duplex | null = null;
  /** @internal */ _isServer = true;
  /** @internal */ _protocol = '';
  /** @internal */ _extensions = '';
  /** @internal */ _url = '';
  /** @internal */ _lastActivity = 0;
  /** @internal */ _pingSentAt = 0;

  private _binaryType: BinaryType = 'nodebuffer';
  private parser: FrameParser | null = null;
  private autoPong = true;
  private closeTimeout = DEFAULT_CLOSE_TIMEOUT;
  private closeTimer: NodeJS.Timeout | null = null;
  private closeFrameSent = false;
  private closeFrameReceived = false;
  private closeCode: number = CloseCode.Abnormal;
  private closeReason: Buffer = EMPTY;
  private errorEmitted = false;
  private paused = false;
  /** Opcode a fragmented send continues with (0 when no fragmented send is open). */
  private sendFragmentOpcode = 0;
  /** Sends waiting behind one still being prepared (a Blob being read, a message being compressed). */
  private sendQueue: Array<{ task: () => void; cb: SendCallback | undefined }> | null = null;
  private sendBusy = false;
  private queuedBytes = 0;
  /** permessage-deflate, when negotiated. */
  private transform: MessageTransform | null = null;
  private compressThreshold = 1024;
  /** Whether the message being sent (possibly in fragments) is compressed. */
  private sendCompressing = false;
  /** Whether a received message is being decompressed (the parser waits for it). */
  private decoding = false;
  private validateUtf8 = true;
  private maxPayload = DEFAULT_MAX_PAYLOAD;
  private maxFragments: number | undefined = undefined;
  /** Infinity when there is no limit: each check is one compare. */
  private maxPendingAutoPongs = DEFAULT_MAX_PENDING_AUTO_PONGS;
  private pendingAutoPongs = 0;
  /** Called once an automatic pong was written; made on the first ping (one function per connection, as in ws). */
  private autoPongWritten: (() => void) | null = null;
  private disconnectBufferedAmount = Infinity;
  /**
   * Frames written while a received chunk's messages are reported wait here
   * and leave together at its end: one write for all the replies to a
   * pipelined burst, instead of one syscall each.
   */
  private batching = false;
  private batch: Buffer[] | null = null;
  private batchCallbacks: SendCallback[] | null = null;
  private batchBytes = 0;
  /**
   * This connection's run of frames in the slab: where it starts (-1: none
   * open), in which slab, and where it ends. Another connection may write
   * to the slab while this one's batch is open (a handler's send reaching,
   * through a synchronous stream, a connection of the same process), so a
   * run continues only if nothing else was written behind it.
   */
  private slabRunStart = -1;
  private slabRunEnd = 0;
  private slabRunSlab: Buffer | null = null;
  /** Whether the socket reads into the shared buffer (shared-reads.ts), whose chunks the parser must copy from. */
  private sharedReads = false;

  /**
   * `new WebSocket(url, protocols?, options?)` connects as a client.
   * Without an address (as `WebSocketServer` creates them) the instance waits
   * for a server-side socket.
   */
  constructor(address?: string | URL | null, protocols?: string | string[] | ClientOptions, options?: ClientOptions) {
    super();
    if (address === undefined || address === null) return;
    if (protocols !== undefined && typeof protocols === 'object' && !Array.isArray(protocols)) {
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
    return this._readyState;
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
  /** Bytes accepted by `send` but not yet handed to the kernel. */
  get bufferedAmount(): number {
    const socket = this._socket;
    return this.queuedBytes + this.batchBytes + (socket ? socket.writableLength : 0);
  }

  /**
   * Takes over an upgraded socket and starts reading frames. `head` holds
   * bytes that arrived with the handshake.
   * @internal
   */
  _attach(socket: Duplex, head: Buffer, isServer: boolean, options: ConnectionOptions): void {
    this._isServer = isServer;
    this._socket = socket;
    this.autoPong = options.autoPong ?? true;
    this.closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this._lastActivity = heartbeatClock.now;
    this.transform = options.transform ?? null;
    this.compressThreshold = options.compressThreshold ?? 1024;
    this.validateUtf8 = !options.skipUTF8Validation;
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxFragments = options.maxFragments;
    this.maxPendingAutoPongs = positiveOrInfinity(options.maxPendingAutoPongs ?? DEFAULT_MAX_PENDING_AUTO_PONGS);
    this.disconnectBufferedAmount = positiveOrInfinity(options.disconnectBufferedAmount ?? (isServer ? DEFAULT_DISCONNECT_BUFFERED_AMOUNT : 0));
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
    this._readyState = WebSocket.OPEN;
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
    this.batching = true;
    try {
      parser.push(chunk);
    } finally {
      this.batching = false;
      this.flushBatch();
    }
  }

  /** Hands bytes to the socket, or to the batch while a chunk is being reported. */
  private output(bytes: Buffer, cb: SendCallback | undefined): void {
    if (!this.batching) {
      this._socket!.write(bytes, cb);
      return;
    }
    if (this.slabRunStart >= 0) this.closeSlabRun();
    (this.batch ??= []).push(bytes);
    this.batchBytes += bytes.length;
    if (cb !== undefined) (this.batchCallbacks ??= []).push(cb);
  }

  /** Writes a small unmasked frame into the slab, for the batch being gathered. */
  private slabFrame(opcode: number, payload: Buffer, fin: boolean, rsv1: boolean, headerSize: number, cb: SendCallback | undefined): void {
    const size = headerSize + payload.length;
    if (this.slabRunStart >= 0 && (this.slabRunSlab !== slab || this.slabRunEnd !== slabUsed)) this.closeSlabRun();
    if (slabUsed + size > SLAB_SIZE) {
      if (this.slabRunStart >= 0) this.closeSlabRun();
      slab = Buffer.allocUnsafe(SLAB_SIZE);
      slabUsed = 0;
    }
    const target = slab!;
    if (this.slabRunStart < 0) {
      this.slabRunStart = slabUsed;
      this.slabRunSlab = target;
    }
    writeFrameHeader(target, slabUsed, payload.length, opcode, fin, rsv1, null);
    if (payload.length > 0) target.set(payload, slabUsed + headerSize);
    slabUsed += size;
    this.slabRunEnd = slabUsed;
    this.batchBytes += size;
    if (cb !== undefined) (this.batchCallbacks ??= []).push(cb);
  }

  /** Ends this connection's run of frames in the slab: the run joins the batch as one buffer. */
  private closeSlabRun(): void {
    (this.batch ??= []).push(this.slabRunSlab!.subarray(this.slabRunStart, this.slabRunEnd));
    this.slabRunStart = -1;
    this.slabRunSlab = null;
  }

  private flushBatch(): void {
    if (this.slabRunStart >= 0) this.closeSlabRun();
    const frames = this.batch;
    if (frames === null) return;
    const callbacks = this.batchCallbacks;
    const bytes = this.batchBytes;
    this.batch = null;
    this.batchCallbacks = null;
    this.batchBytes = 0;
    const cb: SendCallback | undefined =
      callbacks === null ? undefined : callbacks.length === 1 ? callbacks[0] : (error) => callbacks.forEach((callback) => callback(error));
    const socket = this._socket!;
    if (socket.destroyed) {
      // terminate() from a handler: the batch goes nowhere; its senders learn it.
      if (cb) process.nextTick(cb, new WebSocketError('WS_ERR_NOT_OPEN', 'WebSocket is not open: the connection was destroyed'));
      return;
    }
    if (frames.length === 1) {
      socket.write(frames[0]!, cb);
    } else if (bytes <= BATCH_COPY_LIMIT) {
      socket.write(Buffer.concat(frames, bytes), cb);
    } else {
      socket.cork();
      const last = frames.length - 1;
      for (let i = 0; i < last; i++) socket.write(frames[i]!);
      socket.write(frames[last]!, cb);
      socket.uncork();
    }
  }

  /** Ends our side of TCP after whatever is still batched. */
  private endSocket(): void {
    const socket = this._socket;
    if (socket === null) return;
    this.flushBatch();
    if (!socket.writableEnded) socket.end();
  }

  private createParser(): FrameParser {
    const parser = new FrameParser(new ParserEvents(this), {
      role: this._isServer ? 'server' : 'client',
      maxPayload: this.maxPayload,
      maxFragments: this.maxFragments,
      skipUtf8Validation: !this.validateUtf8,
      allowRsv1: this.transform !== null,
      borrowedChunks: this.sharedReads,
    });
    this.parser = parser;
    return parser;
  }

  /** @internal */
  _onSocketEnd(): void {
    this._readyState = WebSocket.CLOSING;
    const socket = this._socket;
    if (socket) this.endSocket();
  }

  /** @internal */
  _onSocketClose(): void {
    const socket = this._socket!;
    if (hasSharedReads(socket)) socket[kChunkSink] = null;
    else socket.removeListener('data', socketOnData);
    socket.removeListener('end', socketOnEnd);
    this._readyState = WebSocket.CLOSED;
    if (this.closeTimer !== null) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    this.parser?.destroy();
    this.parser = null;
    this.transform?.release();
    this.failQueuedSends();
    this.safeEmit('close', this.closeCode, this.closeReason);
  }

  /** @internal */
  _onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    if (compressed) this.decodeMessage(data, isBinary);
    else this.deliverMessage(data, isBinary);
  }

  /** @internal */
  _onPing(data: Buffer): void {
    if (this.autoPong && this._readyState === WebSocket.OPEN) {
      // As ws 8.23 does: a peer that keeps pinging but does not read our pongs is cut off.
      if (this.pendingAutoPongs >= this.maxPendingAutoPongs) {
        this.failForLimit('WS_ERR_TOO_MANY_PENDING_PONGS', CloseCode.PolicyViolation, `More than ${this.maxPendingAutoPongs} automatic pongs wait unwritten: the peer does not read`);
        return;
      }
      this.pendingAutoPongs++;
      this.writeControl(Opcode.Pong, data, !this._isServer, (this.autoPongWritten ??= () => void this.pendingAutoPongs--));
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
    this.closeFrameReceived = true;
    this.closeCode = code;
    this.closeReason = reason;
    if (this.closeFrameSent) {
      // Our close was answered: the server ends TCP now; a client waits for the server to (RFC 6455 section 7.1.1).
      if (this._isServer) this.endSocket();
      return;
    }
    // Echo the peer's code and reason, as ws does.
    this.sendCloseFrame(code === CloseCode.NoStatus ? undefined : code, code === CloseCode.NoStatus ? EMPTY : reason);
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
        this.failConnection(new ProtocolError('WS_ERR_INVALID_UTF8', 'Invalid UTF-8 sequence in a text message', CloseCode.InvalidPayload));
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
      this.handlerFailed(event, error);
    }
  }

  private handlerFailed(event: string, error: unknown): void {
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
    if (this._readyState === WebSocket.OPEN) this.sendCloseFrame(CloseCode.InternalError, EMPTY, true);
  }

  /**
   * The peer made us hold more than a limit allows (it does not read): the
   * connection is destroyed at once, since a close frame would wait behind
   * the bytes the peer does not read. 'close' reports `closeCode`.
   */
  private failForLimit(code: WebSocketErrorCode, closeCode: number, message: string): void {
    if (this._readyState === WebSocket.CLOSED) return;
    this._readyState = WebSocket.CLOSING;
    this.closeCode = closeCode;
    // Nothing more is parsed (this may run inside the parser's loop).
    this.parser?.destroy();
    this._socket?.destroy();
    if (!this.errorEmitted && this.listenerCount('error') > 0) {
      this.errorEmitted = true;
      this.safeEmit('error', new WebSocketError(code, message));
    }
  }

  /** Whether the write buffer is past `disconnectBufferedAmount`; if so the connection is failed (1013). */
  private overBufferLimit(): boolean {
    if (this.bufferedAmount <= this.disconnectBufferedAmount) return false;
    this.failForLimit(
      'WS_ERR_BUFFERED_AMOUNT_EXCEEDED',
      CloseCode.TryAgainLater,
      `More than ${this.disconnectBufferedAmount} bytes wait to be sent: the peer does not read`,
    );
    return true;
  }

  /** Fails the connection after a protocol violation by the peer (RFC 6455 section 7.1.7). */
  private failConnection(error: ProtocolError): void {
    this.closeCode = error.closeCode;
    this.parser?.destroy();
    // Nothing more is parsed, but the socket must read on (it may have
    // been paused for a decode) to see the peer's close and end of stream.
    this._socket?.resume();
    if (this._readyState !== WebSocket.CLOSED) {
      if (!this.closeFrameSent) this.sendCloseFrame(error.closeCode, EMPTY, true);
      else if (!this.sendBusy && this.sendQueue === null) this.endSocket();
    }
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
    if (this._readyState === WebSocket.CONNECTING) throw invalidState(this._readyState);
    if (typeof data === 'number' || typeof data === 'boolean') data = String(data);
    const binary = options?.binary ?? typeof data !== 'string';
    const fin = options?.fin ?? true;
    const mask = options?.mask ?? !this._isServer;
    const compress = options?.compress ?? true;
    if (this._readyState !== WebSocket.OPEN || this.overBufferLimit()) {
      this.reportSendAfterClose(cb);
      return;
    }
    if (data instanceof Blob) {
      const blob = data;
      this.queuedBytes += blob.size;
      this.schedule(
        () => {
          this.sendBusy = true;
          blob.arrayBuffer().then(
            (arrayBuffer) => {
              this.queuedBytes -= blob.size;
              this.sendBusy = false;
              this.sendData(Buffer.from(arrayBuffer), binary, fin, mask, compress, cb);
              this.runSendQueue();
            },
            (error: unknown) => {
              this.queuedBytes -= blob.size;
              this.sendBusy = false;
              if (cb) cb(error as Error);
              this.runSendQueue();
            },
          );
        },
        cb,
      );
      return;
    }
    const bytes = toBuffer(data);
    if (!this.sendBusy && this.sendQueue === null) {
      this.sendData(bytes, binary, fin, mask, compress, cb);
      return;
    }
    this.queuedBytes += bytes.length;
    this.schedule(() => {
      this.queuedBytes -= bytes.length;
      this.sendData(bytes, binary, fin, mask, compress, cb);
    }, cb);
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
    if (this._readyState !== WebSocket.OPEN || this._socket === null || this._socket.destroyed || this.overBufferLimit()) {
      this.reportSendAfterClose(cb);
      return;
    }
    if (this.sendFragmentOpcode !== 0) throw new WebSocketError('WS_ERR_INVALID_STATE', 'sendFrame cannot interleave with a fragmented message being sent');
    if (!this.sendBusy && this.sendQueue === null) {
      this.output(frame, cb);
      return;
    }
    this.queuedBytes += frame.length;
    this.schedule(() => {
      this.queuedBytes -= frame.length;
      const socket = this._socket;
      if (socket === null || socket.destroyed) this.reportSendAfterClose(cb);
      else this.output(frame, cb);
    }, cb);
  }

  /**
   * Writes a frame shared by many connections (see `broadcast`) when this
   * connection can take it as it is: open, server-side, without
   * permessage-deflate, no fragmented send open and nothing queued ahead.
   * Returns false otherwise, and the caller falls back to `send`.
   * @internal
   */
  _writeSharedFrame(frame: Buffer): boolean {
    if (
      !this._isServer ||
      this.transform !== null ||
      this.sendFragmentOpcode !== 0 ||
      this.sendBusy ||
      this.sendQueue !== null ||
      this._readyState !== WebSocket.OPEN
    ) {
      return false;
    }
    const socket = this._socket!;
    // Over the limit, the connection is failed: no longer OPEN, the caller skips it.
    if (socket.destroyed || this.overBufferLimit()) return false;
    if (this.batching) this.output(frame, undefined);
    else socket.write(frame);
    return true;
  }

  /**
   * Runs `task` now, or after the sends before it when one of them is still
   * being prepared (a Blob being read, a message being compressed), so
   * frames leave in the order they were sent.
   */
  private schedule(task: () => void, cb: SendCallback | undefined): void {
    if (!this.sendBusy && this.sendQueue === null) {
      task();
      return;
    }
    (this.sendQueue ??= []).push({ task, cb });
  }

  private runSendQueue(): void {
    const queue = this.sendQueue;
    if (queue === null) return;
    while (queue.length > 0 && !this.sendBusy) queue.shift()!.task();
    if (queue.length === 0 && this.sendQueue === queue) this.sendQueue = null;
  }

  /** The connection closed with sends still waiting: their callbacks learn it. */
  private failQueuedSends(): void {
    const queue = this.sendQueue;
    this.sendQueue = null;
    this.queuedBytes = 0;
    if (queue === null) return;
    for (const { cb } of queue) this.reportSendAfterClose(cb);
  }

  private reportSendAfterClose(cb: SendCallback | undefined): void {
    if (cb) {
      const error = new WebSocketError('WS_ERR_NOT_OPEN', `WebSocket is not open: readyState ${this._readyState} (${READY_STATES[this._readyState]})`);
      process.nextTick(cb, error);
    }
  }

  private sendData(payload: Buffer, binary: boolean, fin: boolean, mask: boolean, compress: boolean, cb: SendCallback | undefined): void {
    const socket = this._socket;
    if (socket === null || socket.destroyed) {
      this.reportSendAfterClose(cb);
      return;
    }
    let opcode: number;
    const continuing = this.sendFragmentOpcode !== 0;
    if (continuing) opcode = Opcode.Continuation;
    else {
      opcode = binary ? Opcode.Binary : Opcode.Text;
      // The whole message is compressed or not, decided on its first fragment.
      this.sendCompressing = this.transform !== null && compress && payload.length >= this.compressThreshold;
    }
    this.sendFragmentOpcode = fin ? 0 : opcode === Opcode.Continuation ? this.sendFragmentOpcode : opcode;
    if (!this.sendCompressing) {
      this.writeFrame(opcode, payload, fin, mask, false, cb);
      return;
    }
    this.sendBusy = true;
    this.transform!.encode(payload, fin, (error, compressed) => {
      this.sendBusy = false;
      if (error) {
        if (cb) cb(error);
        // The peer's decompressor and ours no longer agree on what was sent: end the connection (1011).
        if (this._readyState === WebSocket.OPEN) this.sendCloseFrame(CloseCode.InternalError, EMPTY, true);
      } else if (this._socket !== null && !this._socket.destroyed) {
        this.writeFrame(opcode, compressed as Buffer, fin, mask, !continuing, cb);
      } else {
        this.reportSendAfterClose(cb);
      }
      this.runSendQueue();
    });
  }

  /** Writes one frame: header and payload in one buffer when small, header then the caller's payload (uncopied) when large. */
  private writeFrame(opcode: number, payload: Buffer, fin: boolean, mask: boolean, rsv1: boolean, cb: SendCallback | undefined): void {
    const socket = this._socket!;
    const maskKey = mask ? nextMaskKey() : null;
    const length = payload.length;
    const headerSize = frameHeaderSize(length, maskKey !== null);
    if (this.batching && maskKey === null && headerSize + length <= SLAB_FRAME_LIMIT) {
      this.slabFrame(opcode, payload, fin, rsv1, headerSize, cb);
      return;
    }
    if (length <= COPY_THRESHOLD || maskKey !== null) {
      // Masked payloads must be copied anyway (the caller's bytes stay as they are).
      const frame = Buffer.allocUnsafe(headerSize + length);
      writeFrameHeader(frame, 0, length, opcode, fin, rsv1, maskKey);
      if (maskKey !== null) {
        copyMasked(payload, frame, headerSize, maskKey);
      } else if (length > 0) {
        payload.copy(frame, headerSize);
      }
      this.output(frame, cb);
      return;
    }
    const header = Buffer.allocUnsafe(headerSize);
    writeFrameHeader(header, 0, length, opcode, fin, rsv1, null);
    if (this.batching) {
      this.output(header, undefined);
      this.output(payload, cb);
      return;
    }
    socket.cork();
    socket.write(header);
    socket.write(payload, cb);
    socket.uncork();
  }

  /** Control frames wait behind data still being prepared, like every other frame. */
  private writeControl(opcode: number, payload: Buffer, mask: boolean, cb: SendCallback | undefined): void {
    this.schedule(() => {
      const socket = this._socket;
      if (socket === null || socket.destroyed) this.reportSendAfterClose(cb);
      else this.writeFrame(opcode, payload, true, mask, false, cb);
    }, cb);
  }

  ping(data?: WebSocketData, mask?: boolean | SendCallback, cb?: SendCallback): void {
    this.control(Opcode.Ping, data, mask, cb);
  }

  pong(data?: WebSocketData, mask?: boolean | SendCallback, cb?: SendCallback): void {
    this.control(Opcode.Pong, data, mask, cb);
  }

  private control(opcode: number, data: WebSocketData | undefined, mask: boolean | SendCallback | undefined, cb: SendCallback | undefined): void {
    if (this._readyState === WebSocket.CONNECTING) throw invalidState(this._readyState);
    if (typeof data === 'function') {
      cb = data as unknown as SendCallback;
      data = undefined;
      mask = undefined;
    } else if (typeof mask === 'function') {
      cb = mask;
      mask = undefined;
    }
    if (data instanceof Blob) throw codedError(new TypeError('ping and pong payloads must not be Blobs'), 'WS_ERR_INVALID_ARGUMENT');
    const payload = data === undefined ? EMPTY : toBuffer(typeof data === 'number' ? String(data) : data);
    if (payload.length > MAX_CONTROL_PAYLOAD) throw codedError(new RangeError('The data size must not be greater than 125 bytes'), 'WS_ERR_INVALID_ARGUMENT');
    if (this._readyState !== WebSocket.OPEN) {
      this.reportSendAfterClose(cb);
      return;
    }
    this.writeControl(opcode, payload, typeof mask === 'boolean' ? mask : !this._isServer, cb);
  }

  // ---- closing --------------------------------------------------------------

  /**
   * Starts the closing handshake. ws's rules: any valid close code (1000,
   * 1001-1003, 1007-1014, 3000-4999) and a reason of at most 123 bytes.
   */
  close(code?: number, reason?: string | Buffer): void {
    if (this._readyState === WebSocket.CLOSED) return;
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
    if (this._readyState === WebSocket.CONNECTING) {
      this.abortConnecting();
      return;
    }
    if (this._readyState === WebSocket.CLOSING) {
      if (this.closeFrameSent && this.closeFrameReceived && this._isServer) this.endSocket();
      return;
    }
    this.sendCloseFrame(code, reasonBytes);
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
    this._readyState = WebSocket.CLOSING;
    if (this.listenerCount('error') > 0 && !this.errorEmitted) {
      this.errorEmitted = true;
      this.safeEmit('error', error);
    }
    this._readyState = WebSocket.CLOSED;
    this.safeEmit('close', CloseCode.Abnormal, EMPTY);
  }

  /** Sends our close frame (once). `endAfter`: end TCP as soon as it is written, when failing the connection. */
  private sendCloseFrame(code: number | undefined, reason: Buffer, endAfter = false): void {
    const socket = this._socket;
    this._readyState = WebSocket.CLOSING;
    if (this.closeFrameSent || socket === null) return;
    this.closeFrameSent = true;
    this.sendFragmentOpcode = 0;
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    this.writeControl(Opcode.Close, encodeClosePayload(code, reason), !this._isServer, (error) => {
      if (error) socket.destroy();
      else if (endAfter || (this.closeFrameReceived && this._isServer)) socket.end();
    });
    // A peer that never answers cannot hold the socket.
    this.closeTimer = setTimeout(() => socket.destroy(), this.closeTimeout);
    this.closeTimer.unref?.();
  }

  /** Destroys the connection at once, without a closing handshake. */
  terminate(): void {
    if (this._readyState === WebSocket.CLOSED) return;
    if (this._readyState === WebSocket.CONNECTING) {
      this.abortConnecting();
      return;
    }
    this._readyState = WebSocket.CLOSING;
    this._socket?.destroy();
  }

  pause(): void {
    if (this._readyState === WebSocket.CONNECTING || this._readyState === WebSocket.CLOSED) return;
    this.paused = true;
    this._socket?.pause();
  }

  resume(): void {
    if (this._readyState === WebSocket.CONNECTING || this._readyState === WebSocket.CLOSED) return;
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
    return this.closeFrameSent && this.closeFrameReceived;
  }
}


/** Infinity for "no limit" (0, a negative number or Infinity), so that a limit check is one compare. */
function positiveOrInfinity(limit: number): number {
  return limit > 0 ? limit : Infinity;
}

for (const [value, name] of READY_STATES.entries()) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value });
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
