// The HTTP fallback transports of switchboard/client (docs/transports.md):
// a WebSocketLike over fetch, so that HubClient drives it as it drives a
// WebSocket. Downlink: a Server-Sent Events stream ('sse') read with fetch
// (the same code in browsers and in Node 20, which has no EventSource, and
// it can send what it has seen with every request), or long polls
// ('polling'); uplink: POSTs of newline-separated messages, one in flight at
// a time so that they arrive in order.
import type { WebSocketLike } from './types.js';

export type HttpTransportKind = 'sse' | 'polling';
type FetchLike = (input: string, init?: { method?: string; body?: string; signal?: AbortSignal; headers?: Record<string, string>; keepalive?: boolean }) => Promise<{
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  json(): Promise<any>;
  text(): Promise<string>;
  body: { getReader(): { read(): Promise<{ value?: Uint8Array; done: boolean }>; cancel(): Promise<void> } } | null;
}>;

/** Bytes of messages sent in one POST, at most (a larger single message goes alone). */
const MAX_BATCH = 64 * 1024;
/**
 * A POST answered 503 (the hub's `forward_busy`, `unavailable`: nothing was applied) is sent again
 * after the answer's Retry-After, at most this many times in a row; past it the session counts as lost.
 */
const MAX_BUSY_RETRIES = 5;
/** The longest Retry-After honoured, seconds (a longer one is cut to it). */
const MAX_RETRY_AFTER_S = 10;

type Handler<E> = { handle(event: E): void }['handle'] | null;

export class HttpTransport implements WebSocketLike {
  readyState = 0;
  readonly protocol = 'switchboard.v1';
  onopen: Handler<unknown> = null;
  onmessage: Handler<{ data: unknown }> = null;
  onclose: Handler<{ code: number; reason: string }> = null;
  onerror: Handler<unknown> = null;
  private readonly base: string;
  private session = '';
  /** Sequence number of the last event received: sent back so the server knows what arrived. */
  private last = 0;
  private readonly abort = new AbortController();
  private pending: string[] = [];
  private posting = false;
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** 503 answers in a row to the uplink. */
  private busyRetries = 0;
  /** Called once nothing is left to POST (see whenIdle). */
  private idleWaiters: Array<() => void> = [];

  constructor(
    url: string,
    readonly kind: HttpTransportKind,
    private readonly fetchFn: FetchLike,
    /** ms the stream has to deliver its first byte (a proxy that buffers never does) before the attempt fails. */
    openTimeout: number,
  ) {
    this.base = url.replace(/^ws/i, 'http').replace(/[?#].*$/, '');
    this.openTimer = setTimeout(() => this.fail(1006, `${kind} did not open within ${openTimeout} ms`), openTimeout);
    this.start().catch((error: unknown) => this.fail(1006, String((error as Error)?.message ?? error)));
  }

  /**
   * Messages given to `send` and not yet POSTed (the batch in flight not counted: at most MAX_BATCH
   * bytes). HubClient keeps this under its `uplinkQueueSize`, holding the rest in its outbox.
   */
  get queued(): number {
    return this.pending.length;
  }

  send(data: string): void {
    if (this.readyState !== 1) return;
    this.pending.push(data);
    if (!this.posting) this.postPending();
  }

  /**
   * Calls `done` once every message given to `send` so far has been POSTed and answered (the hub has
   * received it), or the transport closed: moving to another transport after this keeps the uplink in order.
   */
  whenIdle(done: () => void): void {
    if (!this.posting || this.readyState !== 1) done();
    else this.idleWaiters.push(done);
  }

  close(): void {
    if (this.readyState >= 2) return;
    const had = this.session !== '';
    this.readyState = 3;
    this.stop();
    if (had) this.fetchFn(`${this.base}/close?session=${this.session}`, { method: 'POST', keepalive: true }).catch(() => {});
  }

  private async start(): Promise<void> {
    const res = await this.fetchFn(`${this.base}/open`, { method: 'POST', signal: this.abort.signal });
    if (!res.ok) return this.fail(1006, `open: HTTP ${res.status}`);
    const answer = (await res.json()) as { session?: unknown; sse?: boolean; polling?: boolean };
    if (typeof answer.session !== 'string') return this.fail(1006, 'open: no session');
    this.session = answer.session;
    if (this.kind === 'sse') await this.stream();
    else {
      this.opened();
      await this.poll();
    }
  }

  private opened(): void {
    if (this.readyState !== 0) return;
    if (this.openTimer !== null) clearTimeout(this.openTimer);
    this.openTimer = null;
    this.readyState = 1;
    this.onopen?.({});
  }

  /** The SSE downlink; a stream that ends without `event: close` is opened again (the session survives it). */
  private async stream(): Promise<void> {
    let tries = 0;
    while (this.readyState <= 1) {
      const res = await this.fetchFn(`${this.base}/sse?session=${this.session}&last=${this.last}`, { signal: this.abort.signal });
      if (!res.ok || res.body === null) return this.fail(1006, `sse: HTTP ${res.status}`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        // The server's first byte is a comment: the stream delivers, this proxy does not buffer it.
        this.opened();
        tries = 0;
        buffer += decoder.decode(value, { stream: true });
        const end = buffer.lastIndexOf('\n\n');
        if (end === -1) continue;
        const complete = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (this.events(complete)) return;
      }
      if (++tries > 2) return this.fail(1006, 'sse: the stream keeps ending');
    }
  }

  private async poll(): Promise<void> {
    while (this.readyState === 1) {
      const res = await this.fetchFn(`${this.base}/poll?session=${this.session}&last=${this.last}`, { signal: this.abort.signal });
      if (!res.ok) return this.fail(1006, `poll: HTTP ${res.status}`);
      if (this.events(await res.text())) return;
    }
  }

  /** Dispatches complete SSE events; true once the connection closed. */
  private events(text: string): boolean {
    for (const block of text.split('\n\n')) {
      let id = -1;
      let event = '';
      let data: string | null = null;
      for (const line of block.split('\n')) {
        if (line.startsWith('data: ')) data = line.slice(6);
        else if (line.startsWith('id: ')) id = Number(line.slice(4));
        else if (line.startsWith('event: ')) event = line.slice(7);
      }
      if (data === null) continue;
      if (event === 'close') {
        let info: { code?: unknown; reason?: unknown } = {};
        try {
          info = JSON.parse(data) as typeof info;
        } catch {}
        this.fail(typeof info.code === 'number' ? info.code : 1006, typeof info.reason === 'string' ? info.reason : '');
        return true;
      }
      // An id already seen is a poll answer sent again (the previous one was lost on the way): skip it.
      if (id !== -1) {
        if (id <= this.last) continue;
        this.last = id;
      }
      this.onmessage?.({ data });
      if (this.readyState !== 1) return true;
    }
    return false;
  }

  private postPending(): void {
    if (this.pending.length === 0 || this.readyState !== 1) {
      this.posting = false;
      this.idle();
      return;
    }
    this.posting = true;
    let size = 0;
    let n = 0;
    while (n < this.pending.length && (n === 0 || size + this.pending[n]!.length < MAX_BATCH)) size += this.pending[n++]!.length + 1;
    const batch = this.pending.slice(0, n);
    const body = batch.join('\n');
    this.pending = this.pending.slice(n);
    this.fetchFn(`${this.base}/send?session=${this.session}`, { method: 'POST', body, signal: this.abort.signal, headers: { 'Content-Type': 'text/plain' } }).then(
      (res) => {
        if (res.ok) {
          this.busyRetries = 0;
          this.postPending();
        } else if (res.status === 503 && this.busyRetries < MAX_BUSY_RETRIES && this.readyState === 1) {
          // Refused before it reached the session: the same batch, first again, after the server's wait.
          this.busyRetries++;
          this.pending = batch.concat(this.pending);
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.postPending();
          }, retryAfterMs(res.headers.get('retry-after')));
        }
        // 410: closed, and the downlink carries why; anything else (504 included: it may have been
        // applied, so sending it again could double it): the session is lost.
        else if (res.status !== 410) this.fail(1006, `send: HTTP ${res.status}`);
      },
      (error: unknown) => this.fail(1006, String((error as Error)?.message ?? error)),
    );
  }

  private fail(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.stop();
    this.onclose?.({ code, reason });
  }

  private stop(): void {
    if (this.openTimer !== null) clearTimeout(this.openTimer);
    this.openTimer = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.pending = [];
    this.abort.abort();
    this.posting = false;
    this.idle();
  }

  private idle(): void {
    const waiters = this.idleWaiters;
    if (waiters.length === 0) return;
    this.idleWaiters = [];
    for (const done of waiters) done();
  }
}

/** Retry-After in seconds (RFC 9110 section 10.2.3; the hub sends no date form) as ms: 1 s when absent, at most MAX_RETRY_AFTER_S. */
function retryAfterMs(header: string | null): number {
  const seconds = header === null ? NaN : Number(header);
  return Math.min(Number.isFinite(seconds) && seconds >= 0 ? seconds : 1, MAX_RETRY_AFTER_S) * 1000;
}
