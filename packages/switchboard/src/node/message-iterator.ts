import { Buffer } from 'node:buffer';
import type { WebSocket } from './websocket.js';

/** Messages an async iterator holds before it pauses the socket. */
const ITERATOR_HIGH_WATER = 16;

/**
 * `ws[Symbol.asyncIterator]()`. A consumer slower than the peer would let
 * messages pile up without bound: past `ITERATOR_HIGH_WATER` waiting messages
 * the socket is paused, and resumed once half of them were taken.
 */
export function iterateMessages(ws: WebSocket): AsyncIterableIterator<unknown> {
  const queue: unknown[] = [];
  let waiter: { resolve: (result: IteratorResult<unknown>) => void; reject: (error: unknown) => void } | null = null;
  let closed = ws.readyState === ws.CLOSED;
  let failure: unknown = null;
  let pausedByIterator = false;
  const onMessage = (data: unknown, isBinary: boolean): void => {
    const value = isBinary ? data : Array.isArray(data) ? Buffer.concat(data as Buffer[]).toString() : String(data);
    if (waiter !== null) {
      const w = waiter;
      waiter = null;
      w.resolve({ value, done: false });
      return;
    }
    queue.push(value);
    if (queue.length >= ITERATOR_HIGH_WATER && !pausedByIterator) {
      pausedByIterator = true;
      ws.pause();
    }
  };
  const onError = (error: unknown): void => {
    failure = error;
  };
  const onClose = (): void => {
    closed = true;
    detach();
    if (waiter !== null) {
      const w = waiter;
      waiter = null;
      if (failure !== null) w.reject(failure);
      else w.resolve({ value: undefined, done: true });
    }
  };
  const detach = (): void => {
    ws.removeListener('message', onMessage);
    ws.removeListener('error', onError);
    ws.removeListener('close', onClose);
  };
  ws.on('message', onMessage);
  ws.on('error', onError);
  ws.on('close', onClose);
  const iterator: AsyncIterableIterator<unknown> = {
    next: () => {
      if (queue.length > 0) {
        const value = queue.shift();
        if (pausedByIterator && queue.length <= ITERATOR_HIGH_WATER / 2) {
          pausedByIterator = false;
          ws.resume();
        }
        return Promise.resolve({ value, done: false });
      }
      if (closed) {
        if (failure !== null) {
          const error = failure;
          failure = null;
          return Promise.reject(error);
        }
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
    return: () => {
      detach();
      if (pausedByIterator) ws.resume();
      closed = true;
      queue.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
