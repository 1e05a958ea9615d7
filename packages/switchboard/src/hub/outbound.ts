// Writing to one connection under the slow-consumer policy
// (docs/protocol.md, section 9): past `maxBufferedAmount` bytes waiting,
// volatile messages are dropped; past `disconnectBufferedAmount` the
// connection is closed with 1013 and nothing more is written to it.
import { Buffer } from 'node:buffer';
import { HubCloseCode, type ServerMessage } from '../wire/index.js';
import { WebSocket } from '../node/websocket.js';
import { encodeMessage } from './wire.js';

export interface OutboundLimits {
  maxBufferedAmount: number;
  disconnectBufferedAmount: number;
}

/**
 * Connections with frames waiting for the end of this turn of the event loop. A fan-out writes
 * one frame to each member per message; when several messages reach the process at once (one
 * read from Redis holding several, or a burst of publishes), each member then gets them in one
 * write instead of one syscall per message (the `write` per member and message was most of a
 * hub node's time under bench:redis, docs/performance.md). setImmediate runs after the I/O
 * callbacks of the turn, so a burst read in one turn is written together.
 *
 * A turn writes to at most FLUSH_SLICE connections, then lets the event loop read again: a
 * message that arrives meanwhile joins the frames of the members not written yet, so under load
 * they get more messages per write (a fan-out to thousands takes milliseconds, and messages
 * published a little apart were otherwise written apart), and a large fan-out does not hold up
 * every other connection's reads for its whole length.
 */
const waiting: Outbound[] = [];
/** The next connection of `waiting` to flush (entries before it are done). */
let head = 0;
let flushScheduled = false;
/** Connections written per turn (about 2-3 ms of `write`s on the machine of docs/performance.md). */
export const FLUSH_SLICE = 256;

/** Writes made by `Outbound#flush` in this process, and the frames they carried (`Hub#stats()`). */
export const flushCounts = { writes: 0, frames: 0 };

function flushWaiting(): void {
  flushScheduled = false;
  // Connections added while flushing (a write's callback publishing) wait for the next turn.
  const end = Math.min(waiting.length, head + FLUSH_SLICE);
  try {
    while (head < end) waiting[head++]!.flush();
  } finally {
    lastFrames = null;
    lastJoined = null;
    if (head >= waiting.length) {
      waiting.length = 0;
      head = 0;
    } else {
      // Under sustained load the list may never empty: drop the flushed entries now and then.
      if (head >= 4096 && head * 2 >= waiting.length) {
        waiting.splice(0, head);
        head = 0;
      }
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushWaiting);
      }
    }
  }
}

/**
 * The frames waiting for one connection, joined into one buffer. Members of a room get the same
 * frames in the same order, so the joined buffer of the last connection is used again when the
 * next one waits for the very same frames: one copy per distinct sequence, not per member.
 */
let lastFrames: readonly Buffer[] | null = null;
let lastJoined: Buffer | null = null;

function joined(frames: readonly Buffer[], bytes: number): Buffer {
  if (lastFrames !== null && lastFrames.length === frames.length && lastFrames.every((frame, i) => frame === frames[i])) return lastJoined!;
  lastFrames = frames;
  lastJoined = Buffer.concat(frames as Buffer[], bytes);
  return lastJoined;
}

export class Outbound {
  /** Volatile messages dropped because the connection was slow. */
  droppedVolatile = 0;
  private slowTimer: ReturnType<typeof setTimeout> | null = null;
  private ended = false;
  /** Frames written this turn, sent together at its end (one frame, or several in order). */
  private pending: Buffer | Buffer[] | null = null;
  private pendingBytes = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly limits: OutboundLimits,
    /** Told once, when the policy closes the connection. */
    /** Told the bytes waiting (the socket's and this turn's) when the policy cuts the connection. */
    private readonly onSlow: (bufferedAmount: number) => void,
  ) {}

  /** Whether writes still go out (not closed, not being closed for slowness). */
  get writable(): boolean {
    return !this.ended && this.slowTimer === null;
  }

  /** Sends one message (after the frames waiting, so that nothing overtakes them). */
  send(message: ServerMessage): void {
    if (!this.writable) return;
    this.flush();
    if (this.ws.bufferedAmount > this.limits.disconnectBufferedAmount) {
      this.slowDisconnect();
      return;
    }
    this.ws.send(encodeMessage(message));
  }

  /** Writes a pre-framed message (the same bytes for every member), at the end of this turn. */
  write(frame: Buffer, volatile: boolean): void {
    const buffered = this.ws.bufferedAmount + this.pendingBytes;
    if (buffered > this.limits.disconnectBufferedAmount) {
      this.slowDisconnect();
      return;
    }
    if (volatile && buffered > this.limits.maxBufferedAmount) {
      this.droppedVolatile++;
      return;
    }
    this.pendingBytes += frame.length;
    if (this.pending === null) {
      this.pending = frame;
      waiting.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushWaiting);
      }
    } else if (Array.isArray(this.pending)) this.pending.push(frame);
    else this.pending = [this.pending, frame];
  }

  /** Writes the frames waiting now (before a message that must follow them, or a close). */
  flush(): void {
    const pending = this.pending;
    if (pending === null) return;
    const bytes = this.pendingBytes;
    this.pending = null;
    this.pendingBytes = 0;
    if (this.ended || this.ws.readyState !== WebSocket.OPEN) return;
    flushCounts.writes++;
    if (Array.isArray(pending)) {
      flushCounts.frames += pending.length;
      this.ws.sendFrame(joined(pending, bytes));
    } else {
      flushCounts.frames++;
      this.ws.sendFrame(pending);
    }
  }

  /**
   * The policy's last step: close with 1013 and stop writing; the socket is
   * destroyed if the close does not complete within a second (its send
   * buffer may never drain). The client reconnects and resumes.
   */
  slowDisconnect(): void {
    if (!this.writable) return;
    const waiting = this.ws.bufferedAmount + this.pendingBytes;
    this.pending = null;
    this.pendingBytes = 0;
    this.onSlow(waiting);
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
    this.pending = null;
    this.pendingBytes = 0;
    if (this.slowTimer !== null) clearTimeout(this.slowTimer);
  }
}
