// One HTTP fallback session, server side: a virtual connection the hub drives
// exactly as it drives a WebSocket (hub.handleConnection), so that hello,
// middleware, canJoin/canPublish, rate and size limits and the slow-consumer
// policy are the same code. What the hub writes is queued; a downlink request
// (an SSE stream or a long poll) takes it. What the client POSTs arrives as
// 'message' events. Framing on the wire is Server-Sent Events for both
// downlinks (docs/transports.md): `id: <seq>` and one `data:` line per
// switchboard.v1 message (JSON text holds no raw newline), `event: close`
// with `{"code","reason"}` when the hub closes the connection.
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { SUBPROTOCOL } from '../wire/index.js';

const OPEN = 1;
const CLOSED = 3;

/** What a session may hold while no downlink takes it; crossing a bound closes it with 1013, as a slow WebSocket. */
export interface SessionLimits {
  maxQueuedMessages: number;
  /** Closed after this many ms with no downlink attached and nothing posted. */
  sessionTimeout: number;
}

/** The payload of an unmasked server frame (RFC 6455 section 5.2): the header is 2, 4 or 10 bytes. */
type Downlink = { res: ServerResponse; poll: boolean; timer: ReturnType<typeof setTimeout> | null; batching: boolean };

export class HttpSession extends EventEmitter {
  readonly protocol = SUBPROTOCOL;
  readyState: number = OPEN;
  /** Why the hub closed it, sent to the client as the last event. */
  private closeInfo: { code: number; reason: string } | null = null;
  private readonly queue: Array<string | Buffer> = [];
  private queuedBytes = 0;
  /** Sequence number of the last message queued; the first queued message is `seq - queue.length + 1`. */
  private seq = 0;
  private downlink: Downlink | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  /** Set once the close event has reached a downlink: the session can be forgotten. */
  delivered = false;

  constructor(
    readonly id: string,
    private readonly limits: SessionLimits,
    private readonly forget: (session: HttpSession) => void,
  ) {
    super();
    this.armIdle();
  }

  /** Bytes waiting: queued, plus what the stream's socket has not taken (the slow-consumer policy reads it). */
  get bufferedAmount(): number {
    return this.queuedBytes + (this.downlink !== null && !this.downlink.poll ? this.downlink.res.writableLength : 0);
  }

  send(text: string): void {
    this.enqueue(text, Buffer.byteLength(text));
  }

  /**
   * Pre-framed messages shared by every member of a room: one frame, or the frames of one turn laid
   * end to end (hub/outbound.ts). The hub's frames are unmasked, final and uncompressed (RFC 6455
   * section 5.2), so each payload is found from its length field; only payloads are kept (no copy).
   */
  sendFrame(frames: Buffer): void {
    let at = 0;
    while (at + 2 <= frames.length) {
      const len7 = frames[at + 1]! & 0x7f;
      const header = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      const length = len7 < 126 ? len7 : len7 === 126 ? frames.readUInt16BE(at + 2) : Number(frames.readBigUInt64BE(at + 2));
      this.enqueue(frames.subarray(at + header, at + header + length), length);
      at += header + length;
    }
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState !== OPEN) return;
    this.readyState = CLOSED;
    this.closeInfo = { code, reason };
    this.flush();
    this.emit('close', code, Buffer.from(reason));
    this.armIdle();
  }

  /** No close event for the client: the session is gone (it will get 404 and start afresh). */
  terminate(): void {
    if (this.readyState === OPEN) {
      this.readyState = CLOSED;
      this.closeInfo = { code: 1006, reason: '' };
      this.emit('close', 1006, Buffer.alloc(0));
    }
    this.endDownlink();
    this.dispose();
  }

  /** Messages from the uplink: one per line. */
  receive(body: Buffer): void {
    this.armIdle();
    let start = 0;
    while (start < body.length && this.readyState === OPEN) {
      let end = body.indexOf(10, start);
      if (end === -1) end = body.length;
      if (end > start) this.emit('message', body.subarray(start, end), false);
      start = end + 1;
    }
  }

  /**
   * A downlink request: what is queued after `acked` (the client's last seen
   * sequence number) is written at once; a stream stays open for what comes,
   * a poll ends after one batch or after `pollTimeout` ms with nothing.
   */
  attach(res: ServerResponse, poll: boolean, acked: number, pollTimeout: number): void {
    this.endDownlink();
    this.dropAcked(acked);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const link: Downlink = { res, poll, timer: null, batching: false };
    this.downlink = link;
    res.on('close', () => {
      if (this.downlink !== link) return;
      if (link.timer !== null) clearTimeout(link.timer);
      this.downlink = null;
      if (this.closeInfo !== null && this.queue.length === 0 && res.writableFinished) this.delivered = true;
      this.armIdle();
    });
    if (poll) {
      if (this.queue.length > 0 || this.closeInfo !== null) this.flush();
      else {
        // Held until something comes or pollTimeout passes (then answered empty, and the client polls again).
        link.timer = setTimeout(() => this.endDownlink(), pollTimeout);
        link.timer.unref?.();
      }
    } else {
      // A comment first: headers and a byte go out now, so that the client can tell a stream that delivers from a proxy that buffers.
      res.write(':\n\n');
      this.flush();
    }
  }

  /** Drops what the client says it has (`acked`), so that a lost poll answer loses nothing: the next poll gets it again. */
  private dropAcked(acked: number): void {
    let first = this.seq - this.queue.length + 1;
    while (this.queue.length > 0 && first <= acked) {
      const item = this.queue.shift()!;
      this.queuedBytes -= typeof item === 'string' ? Buffer.byteLength(item) : item.length;
      first++;
    }
  }

  private enqueue(item: string | Buffer, bytes: number): void {
    if (this.readyState !== OPEN) return;
    if (this.queue.length >= this.limits.maxQueuedMessages) {
      // The bound in messages, behind the slow-consumer policy's bound in bytes: the same answer, 1013.
      this.close(1013, 'slow consumer');
      return;
    }
    this.queue.push(item);
    this.queuedBytes += bytes;
    this.seq++;
    if (this.downlink !== null) this.flush();
  }

  /** Writes the queue to the downlink. A stream forgets what it wrote; a poll keeps it until the next poll acknowledges it. */
  private flush(): void {
    const link = this.downlink;
    if (link === null) return;
    if (link.poll) {
      // The messages of this tick gather into one answer.
      if (link.batching) return;
      link.batching = true;
      if (link.timer !== null) clearTimeout(link.timer);
      link.timer = setTimeout(() => this.answerPoll(link), 0);
      return;
    }
    const res = link.res;
    let id = this.seq - this.queue.length + 1;
    for (const item of this.queue) {
      res.write(`id: ${id++}\ndata: `);
      res.write(item);
      res.write('\n\n');
    }
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (this.closeInfo !== null) {
      res.end(`event: close\ndata: ${JSON.stringify(this.closeInfo)}\n\n`);
      this.delivered = true;
    }
  }

  private answerPoll(link: Downlink): void {
    link.timer = null;
    if (this.downlink !== link) return;
    const parts: Array<string | Buffer> = [];
    let id = this.seq - this.queue.length + 1;
    for (const item of this.queue) parts.push(`id: ${id++}\ndata: `, item, '\n\n');
    if (this.closeInfo !== null) {
      parts.push(`event: close\ndata: ${JSON.stringify(this.closeInfo)}\n\n`);
      this.delivered = true;
    }
    const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    this.downlink = null;
    if (!link.res.headersSent) link.res.writeHead(200, { 'Content-Length': body.length });
    link.res.end(body);
    this.armIdle();
  }

  /** Ends the downlink in place (a poll answered empty, a stream replaced by a newer one). */
  private endDownlink(): void {
    const link = this.downlink;
    if (link === null) return;
    this.downlink = null;
    if (link.timer !== null) clearTimeout(link.timer);
    if (link.poll) {
      if (!link.res.headersSent) link.res.writeHead(200, { 'Content-Length': 0 });
      link.res.end();
    } else link.res.end();
  }

  /** (Re)starts the idle clock: a session with no downlink for sessionTimeout ms is closed and forgotten. */
  private armIdle(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.downlink !== null) return;
    if (this.delivered) {
      this.dispose();
      return;
    }
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.readyState === OPEN) this.close(1001, 'session expired');
      this.dispose();
    }, this.limits.sessionTimeout);
    this.idleTimer.unref?.();
  }

  private dispose(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.forget(this);
  }
}
