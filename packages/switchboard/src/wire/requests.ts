// The request/reply/timeout engine of switchboard.v1 (docs/protocol.md,
// section 3, "Requests"), one for both sides: the hub asking a client, a
// client asking the hub. Each side numbers its own requests; an `ack` or
// `error` with one of those ids settles it; the requester's timeout fails it
// with `timeout`, and a late answer is ignored.
import { HubError, type HubErrorCode } from './errors.js';

interface Waiting {
  resolve: (value: any) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export interface RequestCallbacks {
  resolve: (value: any) => void;
  reject: (error: Error) => void;
}

export class Requests {
  private readonly waiting = new Map<number, Waiting>();
  private next = 1;

  /** Requests waiting for an answer. */
  get size(): number {
    return this.waiting.size;
  }

  /** The ids of the requests waiting for an answer. */
  ids(): IterableIterator<number> {
    return this.waiting.keys();
  }

  /** A fresh id for a message this side wants answered. */
  nextId(): number {
    return this.next++;
  }

  /** Whether `id` is a request of this side still waiting (an answer to it is expected). */
  has(id: number): boolean {
    return this.waiting.has(id);
  }

  /**
   * Waits for the answer to request `id`, sent by the caller. Fails with
   * HubError `timeout` (carrying `timeoutMessage`) after `timeoutMs`.
   */
  wait<T = unknown>(id: number, timeoutMs: number, timeoutMessage = `No reply within ${timeoutMs} ms`): Promise<T> {
    return new Promise<T>((resolve, reject) => this.track(id, { resolve, reject }, timeoutMs, timeoutMessage));
  }

  /** As `wait`, with callbacks instead of a promise. */
  track(id: number, callbacks: RequestCallbacks, timeoutMs: number, timeoutMessage = `No reply within ${timeoutMs} ms`): void {
    const timer = setTimeout(() => this.settle(id, new HubError('timeout', timeoutMessage)), timeoutMs);
    this.waiting.set(id, { resolve: callbacks.resolve, reject: callbacks.reject, timer });
  }

  /** Settles request `id` with an error or a value; false when nothing waits for it (unknown, late). */
  settle(id: number, error: Error | null, value?: unknown): boolean {
    const waiting = this.waiting.get(id);
    if (waiting === undefined) return false;
    this.waiting.delete(id);
    clearTimeout(waiting.timer);
    if (error) waiting.reject(error);
    else waiting.resolve(value);
    return true;
  }

  /** Settles from a received `ack` or `error`; false when it answers nothing waiting. */
  answer(message: { t: 'ack'; id: number; data?: unknown } | { t: 'error'; id?: number; code: string; message?: string }): boolean {
    if (message.id === undefined) return false;
    return message.t === 'ack' ? this.settle(message.id, null, message.data) : this.settle(message.id, new HubError(message.code, message.message ?? message.code));
  }

  /** Fails every waiting request (but those in `keep`) with HubError `code`. */
  failAll(code: HubErrorCode, message: string, keep?: ReadonlySet<number | undefined>): void {
    for (const id of [...this.waiting.keys()]) if (keep === undefined || !keep.has(id)) this.settle(id, new HubError(code, message));
  }
}
