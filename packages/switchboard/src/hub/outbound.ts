// Writing to one connection under the slow-consumer policy
// (docs/protocol.md, section 9): past `maxBufferedAmount` bytes waiting,
// volatile messages are dropped; past `disconnectBufferedAmount` the
// connection is closed with 1013 and nothing more is written to it.
import type { Buffer } from 'node:buffer';
import { HubCloseCode, type ServerMessage } from '../wire/index.js';
import type { WebSocket } from '../node/websocket.js';
import { encodeMessage } from './wire.js';

export interface OutboundLimits {
  maxBufferedAmount: number;
  disconnectBufferedAmount: number;
}

export class Outbound {
  /** Volatile messages dropped because the connection was slow. */
  droppedVolatile = 0;
  private slowTimer: ReturnType<typeof setTimeout> | null = null;
  private ended = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly limits: OutboundLimits,
    /** Told once, when the policy closes the connection. */
    private readonly onSlow: () => void,
  ) {}

  /** Whether writes still go out (not closed, not being closed for slowness). */
  get writable(): boolean {
    return !this.ended && this.slowTimer === null;
  }

  /** Sends one message. */
  send(message: ServerMessage): void {
    if (!this.writable) return;
    if (this.ws.bufferedAmount > this.limits.disconnectBufferedAmount) {
      this.slowDisconnect();
      return;
    }
    this.ws.send(encodeMessage(message));
  }

  /** Writes a pre-framed message (the same bytes for every member). */
  write(frame: Buffer, volatile: boolean): void {
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.limits.disconnectBufferedAmount) {
      this.slowDisconnect();
      return;
    }
    if (volatile && buffered > this.limits.maxBufferedAmount) {
      this.droppedVolatile++;
      return;
    }
    this.ws.sendFrame(frame);
  }

  /**
   * The policy's last step: close with 1013 and stop writing; the socket is
   * destroyed if the close does not complete within a second (its send
   * buffer may never drain). The client reconnects and resumes.
   */
  slowDisconnect(): void {
    if (!this.writable) return;
    this.onSlow();
    this.slowTimer = setTimeout(() => this.ws.terminate(), 1000);
    this.slowTimer.unref?.();
    try {
      this.ws.close(HubCloseCode.TryAgainLater, 'slow consumer');
    } catch {
      this.ws.terminate();
    }
  }

  /** The socket closed: nothing more is written. */
  end(): void {
    this.ended = true;
    if (this.slowTimer !== null) clearTimeout(this.slowTimer);
  }
}
