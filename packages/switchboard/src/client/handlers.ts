// The application's handlers of a switchboard/client: lifecycle events
// (`connect`, `error`, ...) and what the server sends (events, room
// messages, requests that expect a reply).
import { HubError, RESERVED_EVENTS, encodeMessage } from '../wire/index.js';
import type { Meta, Reply, Status, WebSocketLike } from './types.js';

type Handler = (...args: any[]) => unknown;

export class Handlers {
  private readonly byEvent = new Map<string, Handler[]>();

  add(event: string, handler: Handler): void {
    const list = this.byEvent.get(event);
    if (list) list.push(handler);
    else this.byEvent.set(event, [handler]);
  }

  remove(event: string, handler: Handler): void {
    const list = this.byEvent.get(event);
    const i = list ? list.indexOf(handler) : -1;
    if (i !== -1) list!.splice(i, 1);
  }

  /** Calls the handlers of a lifecycle event (one that throws becomes an `error` event); false when there is none. */
  fire(event: string, ...args: unknown[]): boolean {
    const list = this.byEvent.get(event);
    if (!list || list.length === 0) return false;
    for (const handler of [...list]) {
      try {
        handler(...args);
      } catch (error) {
        if (event === 'error') setTimeout(() => { throw error; });
        else this.fire('error', new HubError('handler_error', String(error)));
      }
    }
    return true;
  }

  /**
   * Hands what the server sent to the handlers of `event`; a request (`id`) is answered on `ws`, the
   * connection it came on, even if the client moved to another transport since.
   */
  dispatch(event: string, data: unknown, id: number | undefined, meta: Meta, ws: WebSocketLike | null, client: { readonly status: Status }): void {
    let replied = false;
    const reply = ((result: unknown) => {
      if (replied || id === undefined || !ws || ws.readyState !== 1 || client.status === 'closed') return;
      replied = true;
      ws.send(encodeMessage({ t: 'ack', id, data: result }));
    }) as Reply;
    reply.error = (code: string, message?: string) => {
      if (replied || id === undefined || !ws || ws.readyState !== 1 || client.status === 'closed') return;
      replied = true;
      ws.send(encodeMessage({ t: 'error', id, code, message: message ?? code }));
    };
    Object.defineProperty(reply, 'expected', { value: id !== undefined });
    const list = RESERVED_EVENTS.has(event) ? undefined : this.byEvent.get(event);
    if (!list || list.length === 0) {
      reply.error('no_handler', `No handler for "${event}"`);
      return;
    }
    for (const handler of [...list]) {
      try {
        const r = handler(data, reply, meta);
        if (r instanceof Promise) r.catch((e: unknown) => reply.error('handler_error', String(e)));
      } catch (error) {
        reply.error('handler_error', String(error));
      }
    }
  }
}
