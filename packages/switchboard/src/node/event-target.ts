import { Buffer } from 'node:buffer';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocketEvent, type WebSocketEventListener } from './events.js';
import type { WebSocket } from './websocket.js';

/**
 * The browser API of a WebSocket (`addEventListener`, `on<event>`) laid over
 * its EventEmitter: each browser listener is an EventEmitter listener that
 * turns ws's arguments into the event object. The wrapper remembers the
 * user's listener (`original`) so that it can be found again to remove it,
 * and whether it is the `on<event>` handler, which is replaced rather than
 * added to.
 */
type WrappedListener = ((...args: any[]) => void) & { original: unknown; isAttribute: boolean };

/** The events a WebSocket dispatches to the browser API; ws ignores `addEventListener` for any other type, and so do we. */
const EVENT_TYPES = new Set(['open', 'message', 'close', 'error']);

export function addEventListener(ws: WebSocket, type: string, listener: WebSocketEventListener, options: { once?: boolean }): void {
  if (!EVENT_TYPES.has(type)) return;
  if (typeof listener !== 'function' && (typeof listener !== 'object' || listener === null)) return;
  for (const existing of ws.listeners(type) as WrappedListener[]) {
    if (existing.original === listener && !existing.isAttribute) return;
  }
  const wrapper = wrapListener(ws, type, listener, false);
  if (options.once) ws.once(type, wrapper);
  else ws.on(type, wrapper);
}

export function removeEventListener(ws: WebSocket, type: string, listener: WebSocketEventListener): void {
  for (const existing of ws.listeners(type) as WrappedListener[]) {
    if (existing.original === listener && !existing.isAttribute) {
      ws.removeListener(type, existing);
      return;
    }
  }
}

/** The `on<type>` handler, as the user set it. */
export function getAttributeHandler<T>(ws: WebSocket, type: string): T | null {
  for (const existing of ws.listeners(type) as WrappedListener[]) {
    if (existing.isAttribute) return existing.original as T;
  }
  return null;
}

/** Sets `on<type>`; anything but a function just removes the old handler, as in browsers. */
export function setAttributeHandler(ws: WebSocket, type: string, handler: unknown): void {
  for (const existing of ws.listeners(type) as WrappedListener[]) {
    if (existing.isAttribute) ws.removeListener(type, existing);
  }
  if (typeof handler === 'function') ws.on(type, wrapListener(ws, type, handler as WebSocketEventListener, true));
}

function wrapListener(ws: WebSocket, type: string, listener: WebSocketEventListener, isAttribute: boolean): WrappedListener {
  const call = (event: WebSocketEvent): void => {
    event.target = ws;
    event.currentTarget = ws;
    if (typeof listener === 'function') listener.call(ws, event);
    else listener.handleEvent(event);
  };
  let wrapper: WrappedListener;
  switch (type) {
    case 'message':
      wrapper = ((data: unknown, isBinary: boolean) => {
        const value = isBinary ? data : Array.isArray(data) ? Buffer.concat(data as Buffer[]).toString() : (data as Buffer).toString();
        call(new MessageEvent('message', { data: value }));
      }) as WrappedListener;
      break;
    case 'close':
      wrapper = ((code: number, reason: Buffer) => {
        call(new CloseEvent('close', { code, reason: reason.toString(), wasClean: ws._closedCleanly() }));
      }) as WrappedListener;
      break;
    case 'error':
      wrapper = ((error: Error) => {
        call(new ErrorEvent('error', { error, message: error?.message ?? '' }));
      }) as WrappedListener;
      break;
    default:
      wrapper = (() => call(new WebSocketEvent(type))) as WrappedListener;
  }
  wrapper.original = listener;
  wrapper.isAttribute = isAttribute;
  return wrapper;
}
