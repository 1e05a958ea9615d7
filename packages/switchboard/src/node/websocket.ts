// The WebSocket class: ws's API (EventEmitter, send/ping/pong/close with
// callbacks) and the browser's (onmessage, addEventListener, readyState
// constants) over the connection machinery of websocket-connection.ts.
import { Blob, Buffer } from 'node:buffer';
import type { ClientRequest } from 'node:http';
import { MAX_CLOSE_REASON_BYTES, MAX_CONTROL_PAYLOAD, Opcode, isValidCloseCode } from '../protocol/index.js';
import { codedError } from '../protocol/switchboard-error.js';
import { abortHandshake, connect, handshakeRequest, initAsClient, redirectsFollowed, type ClientOptions } from './client.js';
import { isBinaryType, type BinaryType } from './binary-type.js';
import type { SendOptions } from './connection-options.js';
export type { BinaryType } from './binary-type.js';
import { WebSocketError } from './errors.js';
import * as eventTarget from './event-target.js';
import type { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent, WebSocketEventListener } from './events.js';
import { iterateMessages } from './message-iterator.js';
import { READY_STATES, reportSendAfterClose, toBuffer, type SendCallback, type WebSocketData } from './send-pipeline.js';
import { WebSocketConnection } from './websocket-connection.js';

export {
  DEFAULT_DISCONNECT_BUFFERED_AMOUNT,
  DEFAULT_MAX_PENDING_AUTO_PONGS,
  type ConnectionOptions,
  type SendOptions,
} from './connection-options.js';
export { toBuffer, type SendCallback, type WebSocketData };

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
export class WebSocket extends WebSocketConnection {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  // On the prototype (below), as in ws and browsers, not copied onto every instance.
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;


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
    if (isBinaryType(type)) this._binaryType = type;
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
