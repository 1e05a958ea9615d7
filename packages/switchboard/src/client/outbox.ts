// The outbox of switchboard/client: the client's own messages held while it
// cannot send them: disconnected (sent after the next welcome), moving to
// WebSocket (until the fallback's uplink has delivered what it had), or with
// a fallback's uplink full (a POST in flight or a 503 waited out). Both
// queues are bounded: the uplink by `uplinkQueueSize`, the outbox by
// `outboxSize`, where the oldest is dropped and a request among them
// rejects with `outbox_full`.
import { HubError, encodeMessage, type ClientMessage, type Requests } from '../wire/index.js';
import { HttpTransport } from './http-transport.js';
import type { WebSocketLike } from './types.js';

export const DEFAULT_OUTBOX_SIZE = 100;
export const DEFAULT_UPLINK_QUEUE_SIZE = 1000;

/** A message this client sends, before it is given an id (`call` numbers it). */
export type Outgoing = Extract<ClientMessage, { t: 'emit' | 'req' | 'pub' | 'dm' | 'join' | 'leave' | 'resume' }>;

type Held = { message: Outgoing; id?: number };

export class Outbox {
  private items: Held[] = [];
  /** The fallback whose uplink the outbox waits on, to be idle. */
  private uplinkWaitedOn: HttpTransport | null = null;
  private readonly uplinkSize: number;

  constructor(
    private readonly size: number,
    uplinkSize: number,
    private readonly requests: Requests,
  ) {
    this.uplinkSize = Math.max(1, uplinkSize);
  }

  get length(): number {
    return this.items.length;
  }

  /** Holds a message (`id`: a request's); past `size` the oldest is dropped. */
  hold(message: Outgoing, id: number | undefined): void {
    this.items.push({ message, id });
    if (this.items.length > this.size) {
      const dropped = this.items.shift()!;
      if (dropped.id !== undefined) this.requests.settle(dropped.id, new HubError('outbox_full', 'Dropped from the full outbox (option outboxSize)'));
    }
  }

  /** The requests held (they are sent after reconnecting, so not failed with the connection). */
  ids(): Set<number | undefined> {
    return new Set(this.items.map((o) => o.id));
  }

  /** The client closed: the requests held reject with `closed`. */
  fail(): void {
    for (const item of this.items) if (item.id !== undefined) this.requests.settle(item.id, new HubError('closed'));
    this.items = [];
  }

  /** Empties the outbox, giving what it held (see `putBack`). */
  take(): Held[] {
    const items = this.items;
    this.items = [];
    return items;
  }

  putBack(items: Held[]): void {
    this.items.push(...items);
  }

  /** Whether `ws` is an HTTP fallback holding `uplinkQueueSize` messages not yet POSTed. */
  uplinkFull(ws: WebSocketLike | null): boolean {
    return ws instanceof HttpTransport && ws.queued >= this.uplinkSize;
  }

  /**
   * Sends what is held on `ws`, as far as its uplink takes it; the rest once the uplink has sent what
   * it has, if `current()` says `ws` is still the client's open connection then.
   */
  sendOn(ws: WebSocketLike, current: () => boolean): void {
    while (this.items.length > 0 && !this.uplinkFull(ws)) ws.send(encodeMessage(this.items.shift()!.message));
    if (this.items.length > 0) this.sendWhenIdle(ws, current);
  }

  sendWhenIdle(ws: WebSocketLike, current: () => boolean): void {
    if (!(ws instanceof HttpTransport) || this.uplinkWaitedOn === ws) return;
    this.uplinkWaitedOn = ws;
    ws.whenIdle(() => {
      if (this.uplinkWaitedOn === ws) this.uplinkWaitedOn = null;
      // A transport that closed meanwhile: the outbox waits for the next connection's welcome.
      if (ws.readyState === 1 && current()) this.sendOn(ws, current);
    });
  }
}
