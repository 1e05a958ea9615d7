// The listeners a connection puts on its socket and its frame parser: one set
// of functions shared by every connection, which find theirs through the
// socket (no closures per connection).
import type { Duplex } from 'node:stream';
import type { FrameParserHandler, ProtocolError } from '../protocol/index.js';
import type { WebSocketConnection } from './websocket-connection.js';

export const kOwner = Symbol('switchboard.websocket');
export type SocketWithOwner = Duplex & { [kOwner]: WebSocketConnection };

export function socketOnData(this: SocketWithOwner, chunk: Buffer): void {
  this[kOwner]._onSocketData(chunk);
}
export function socketOnChunk(chunk: Buffer, socket: Duplex): void {
  (socket as SocketWithOwner)[kOwner]._onSocketData(chunk);
}
export function socketOnEnd(this: SocketWithOwner): void {
  this[kOwner]._onSocketEnd();
}
export function socketOnClose(this: SocketWithOwner): void {
  this[kOwner]._onSocketClose();
}
export function socketOnError(this: SocketWithOwner): void {
  // A reset connection: its 'close' follows and reports 1006.
  this.destroy();
}

/** Forwards the parser's events to the connection (one small object, no closures). */
export class ParserEvents implements FrameParserHandler {
  constructor(private readonly ws: WebSocketConnection) {}
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
