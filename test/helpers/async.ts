// Promise helpers with bounded waits, so no test can hang.
import type { EventEmitter } from 'node:events';

export function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * The arguments of the next `event` on `emitter`. Rejects on timeout and,
 * unless `event` is 'error', when the emitter emits 'error' first.
 */
export function onceEvent<A extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, ms = 5000): Promise<A> {
  return withTimeout(
    new Promise<A>((resolve, reject) => {
      const onEvent = (...args: unknown[]) => {
        cleanup();
        resolve(args as A);
      };
      const onError = (err: unknown) => {
        cleanup();
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      const cleanup = () => {
        emitter.off(event, onEvent);
        if (event !== 'error') emitter.off('error', onError);
      };
      emitter.on(event, onEvent);
      if (event !== 'error') emitter.on('error', onError);
    }),
    ms,
    `waiting for '${event}'`,
  );
}
