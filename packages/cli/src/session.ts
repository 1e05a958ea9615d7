// One `switchboard connect` connection: sending with bookkeeping (so the
// command knows when everything it sent has left), pings and their pongs,
// and who started the closing handshake.
import { performance } from 'node:perf_hooks';
import type { WebSocket } from 'switchboard';
import type { Printer } from './connect-output.js';
import type { Recorder } from './record.js';

/** Where the messages to send come from: -x, stdin lines, the interactive prompt, or nowhere (--echo). */
export interface Driver {
  /** The connection is open. */
  start(session: Session): void;
  /** The connection is over: stop reading input and release stdin. */
  stop(): void;
}

export interface SessionOptions {
  /** Send text as binary frames (--binary). */
  binary: boolean;
  /** Show every ping, pong and close frame (--show-control). */
  showControl: boolean;
  /** --record: every frame sent goes into the recording too. */
  recorder?: Recorder | null;
}

export class Session {
  /** Whether this side sent the first close frame. */
  closedByUs = false;
  /** Why the session was ended from this side (unreadable input, no pong in time): the command exits 1 with it. */
  localFailure: string | null = null;
  private pending = 0;
  private waiters: Array<() => void> = [];
  private pings: Array<{ data: Buffer; at: number }> = [];

  constructor(
    readonly ws: WebSocket,
    readonly printer: Printer,
    readonly options: SessionOptions,
  ) {}

  get isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /** Messages handed to the socket and not yet written. */
  get backlog(): number {
    return this.pending;
  }

  /** Sends `text` as a text message, or its UTF-8 bytes as a binary one with --binary. */
  send(text: string): void {
    this.sendData(this.options.binary ? Buffer.from(text, 'utf8') : text, this.options.binary);
  }

  sendData(data: string | Buffer, binary: boolean): void {
    this.pending++;
    this.options.recorder?.message('out', data, binary);
    this.ws.send(data, { binary }, () => {
      this.pending--;
      if (this.pending === 0) this.flushWaiters();
    });
  }

  /** Calls `fn` once everything sent so far has been written to the socket. */
  afterSent(fn: () => void): void {
    if (this.pending === 0) setImmediate(fn);
    else this.waiters.push(fn);
  }

  private flushWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const fn of waiters) fn();
  }

  /** Sends a ping (throws if the connection is not open or the data is over 125 bytes). */
  ping(data = ''): void {
    const payload = Buffer.from(data, 'utf8');
    this.ws.ping(payload);
    this.options.recorder?.control('ping', 'out', payload);
    this.pings.push({ data: payload, at: performance.now() });
    if (this.options.showControl) this.printer.control('ping', 'out', payload);
  }

  /** Sends an unsolicited pong (/pong: a heartbeat some servers expect). */
  pong(data = ''): void {
    const payload = Buffer.from(data, 'utf8');
    this.ws.pong(payload);
    this.options.recorder?.control('pong', 'out', payload);
    if (this.options.showControl) this.printer.control('pong', 'out', payload);
  }

  /** Ends the session because of a local problem: closes with 1000 (or drops it if not open) and remembers why. */
  fail(reason: string, code = 1000): void {
    this.localFailure ??= reason;
    if (this.isOpen) this.close(code);
    else this.ws.terminate();
  }

  /** If `data` answers one of our pings, forgets it and returns the round trip in ms. */
  answerPong(data: Buffer): number | undefined {
    const i = this.pings.findIndex((p) => p.data.equals(data));
    if (i === -1) return undefined;
    const [ping] = this.pings.splice(i, 1);
    return performance.now() - ping!.at;
  }

  /** Starts the closing handshake (throws on a code or reason the client may not send). */
  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === this.ws.CLOSING || this.ws.readyState === this.ws.CLOSED) return;
    const wasOpen = this.isOpen;
    this.ws.close(code, reason);
    this.closedByUs = true;
    if (wasOpen) this.options.recorder?.close('out', code, reason);
    if (wasOpen && this.options.showControl) this.printer.control('close', 'out', Buffer.from(reason, 'utf8'), { code });
  }
}
