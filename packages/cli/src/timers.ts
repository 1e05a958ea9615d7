// Timers for durations a person types: Node's setTimeout takes at most
// 2^31-1 ms (about 24.8 days) and fires after 1 ms past that, with a
// TimeoutOverflowWarning; Infinity means never.

/** setTimeout's largest delay. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export interface Cancel {
  (): void;
}

/** Calls `fn` after `seconds` (Infinity: never), however long; returns a function that cancels it. */
export function afterSeconds(seconds: number, fn: () => void): Cancel {
  let timer: NodeJS.Timeout | undefined;
  if (seconds === Infinity) return () => {};
  let remaining = Math.max(0, seconds * 1000);
  const arm = (): void => {
    const delay = Math.min(remaining, MAX_DELAY_MS);
    remaining -= delay;
    timer = setTimeout(remaining > 0 ? arm : fn, delay);
  };
  arm();
  return () => clearTimeout(timer);
}
