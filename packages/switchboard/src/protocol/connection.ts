import { Buffer } from 'node:buffer';
import { CloseCode } from './constants.js';
import { encodeClosePayload } from './frame-writer.js';

/** The WebSocket API's `readyState` values. */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/**
 * What the I/O layer must do after an event, as bit flags (no object per
 * decision). Several may be set; they apply in this order.
 */
export const CloseAction = {
  None: 0,
  /** Send our close frame (`closePayload()`), then report `closeWritten()` once it is written, and start the close timeout. */
  SendClose: 1,
  /** End our side of TCP after whatever is already queued (a FIN; the peer's follows). */
  EndTcp: 2,
  /** Destroy the TCP connection now, without waiting for anything. */
  Destroy: 4,
} as const;
export type CloseAction = number;

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * The closing handshake and the failure rules of one connection (RFC 6455
 * section 7), free of I/O: it is told what happened (a close frame arrived,
 * the peer broke the protocol, the application called close(), our close
 * frame was written, the peer ended TCP, the close timeout expired) and
 * answers with a `CloseAction` to carry out. It owns `readyState` and the
 * code and reason a 'close' event reports. No sockets, timers or events:
 * the Node layer (node/websocket-connection.ts) drives it, tests feed it calls.
 */
export class ClosingHandshake {
  state: ReadyState = ReadyState.CONNECTING;
  closeSent = false;
  closeReceived = false;
  /** The code 'close' reports: the peer's close frame's, ours when we failed the connection, 1006 when neither. */
  code: number = CloseCode.Abnormal;
  /** The reason 'close' reports: the peer's close frame's (bytes, possibly empty). */
  reason: Buffer = EMPTY;
  /** The code of the close frame to send (undefined: a close frame with no body). */
  private sendCode: number | undefined = undefined;
  private sendReason: Buffer = EMPTY;
  /** Whether TCP ends once our close frame is written: we failed the connection (section 7.1.7). */
  private endAfterClose = false;

  /** Which side this is: the server ends TCP first (section 7.1.1). */
  constructor(public isServer: boolean) {}

  /** The opening handshake succeeded. */
  opened(): void {
    this.state = ReadyState.OPEN;
  }

  /** Whether both close frames were exchanged: a CloseEvent's `wasClean` (section 7.1.5). */
  get wasClean(): boolean {
    return this.closeSent && this.closeReceived;
  }

  /** The body of the close frame to send after a `SendClose`: the code (2 bytes, big-endian) and the reason. */
  closePayload(): Buffer {
    return encodeClosePayload(this.sendCode, this.sendReason);
  }

  /**
   * The application calls close() (code and reason already checked; section
   * 7.1.2 "Start the WebSocket Closing Handshake"). On an open connection:
   * send our close frame and wait for the peer's.
   */
  close(code: number | undefined, reason: Buffer): CloseAction {
    if (this.state === ReadyState.OPEN) return this.startClosing(code, reason, false);
    // Both close frames are through and only TCP's end is missing: the server ends it now (section 7.1.1).
    if (this.state === ReadyState.CLOSING && this.closeSent && this.closeReceived && this.isServer) return CloseAction.EndTcp;
    return CloseAction.None;
  }

  /**
   * The peer's close frame arrived (section 5.5.1). Not yet closing: echo it
   * with the peer's code (no code when the peer sent none: 1005 is never put
   * on the wire, section 7.4.1). Closing already: the handshake is complete,
   * and the server ends TCP first; a client waits for the server to
   * (section 7.1.1).
   */
  receiveClose(code: number, reason: Buffer): CloseAction {
    this.closeReceived = true;
    this.code = code;
    this.reason = reason;
    if (this.closeSent) return this.isServer ? CloseAction.EndTcp : CloseAction.None;
    return code === CloseCode.NoStatus ? this.startClosing(undefined, EMPTY, false) : this.startClosing(code, reason, false);
  }

  /**
   * Fail the WebSocket Connection (section 7.1.7): the peer broke the
   * protocol (1002, 1007, 1009, ...), or we cannot go on (1011). Our close
   * frame carries `closeCode` and TCP ends as soon as it is written; if ours
   * was sent already, TCP ends now.
   */
  fail(closeCode: number): CloseAction {
    this.code = closeCode;
    if (this.state === ReadyState.CLOSED) return CloseAction.None;
    if (!this.closeSent) return this.startClosing(closeCode, EMPTY, true);
    return CloseAction.EndTcp;
  }

  /**
   * The peer made us hold more than a limit allows while it does not read:
   * a close frame would wait behind the bytes it does not read, so the
   * connection is destroyed at once; 'close' reports `closeCode`.
   */
  abort(closeCode: number): CloseAction {
    if (this.state === ReadyState.CLOSED) return CloseAction.None;
    this.state = ReadyState.CLOSING;
    this.code = closeCode;
    return CloseAction.Destroy;
  }

  /** The application calls terminate(): no closing handshake. */
  terminate(): CloseAction {
    if (this.state === ReadyState.CLOSED) return CloseAction.None;
    this.state = ReadyState.CLOSING;
    return CloseAction.Destroy;
  }

  /**
   * Our close frame was written. TCP ends now if we failed the connection,
   * or if we are the server and the peer's close frame came first (section
   * 7.1.1); otherwise we wait for the peer's close frame (or, as a client,
   * for the server to end TCP).
   */
  closeWritten(): CloseAction {
    return this.endAfterClose || (this.closeReceived && this.isServer) ? CloseAction.EndTcp : CloseAction.None;
  }

  /** The close timeout expired (our close frame was sent, the peer did not finish the handshake): a peer that never answers cannot hold the connection. */
  closeTimedOut(): CloseAction {
    return CloseAction.Destroy;
  }

  /** The peer ended its side of TCP: nothing more comes, so ours ends too (section 7.1.1: a client may end TCP once the server did). */
  receiveEnd(): CloseAction {
    this.state = ReadyState.CLOSING;
    return CloseAction.EndTcp;
  }

  /** The TCP connection is closed (section 7.1.4: "The WebSocket Connection is Closed"). */
  closed(): void {
    this.state = ReadyState.CLOSED;
  }

  private startClosing(code: number | undefined, reason: Buffer, endAfterClose: boolean): CloseAction {
    this.state = ReadyState.CLOSING;
    if (this.closeSent) return CloseAction.None;
    this.closeSent = true;
    this.endAfterClose = endAfterClose;
    this.sendCode = code;
    this.sendReason = reason;
    return CloseAction.SendClose;
  }
}
