// Runs a fuzz target for a number of inputs or a time budget, whichever
// comes first, and collects what broke. Each input i comes from
// Rng.forInput(seed, i) alone, so `--seed S --index i` replays it.
import { Rng } from './rng.js';

export interface FuzzTarget<Input = unknown, Session = unknown> {
  name: string;
  /** Set up what the inputs run against (a child process ...). */
  start?(): Promise<Session>;
  generate(rng: Rng): Input;
  /** Throws (or rejects) when an invariant is broken. */
  check(input: Input, session: Session): void | Promise<void>;
  /** Checks after the last input (the server is still up, memory, an honest client is served); tears down. */
  finish?(session: Session): Promise<void>;
  /** A line for the run's summary, after `finish` (memory growth ...). */
  report?(session: Session): string;
  /** A JSON-able form of an input, saved with a failure. */
  describe(input: Input): unknown;
  /** Inputs in flight at once (targets whose check is asynchronous). */
  concurrency?: number;
  /** An input slower than this is a failure (default: RunOptions.slowInputMs). */
  slowInputMs?: number;
}

export interface Failure {
  target: string;
  seed: number;
  /** The input's index, or -1 for a failure of the whole run (setup, final checks, unhandled rejection). */
  index: number;
  error: string;
  input?: unknown;
}

export interface RunOptions {
  seed: number;
  inputs: number;
  /** Stop after this long even if fewer inputs ran. */
  seconds?: number;
  /** Run only this index (a replay). */
  index?: number;
  /** Stop at this many failures (default 5). */
  maxFailures?: number;
  /** An input slower than this is a failure too (quadratic paths, stalls). Default 2000 ms. */
  slowInputMs?: number;
  /** Called before each input with its index (a watchdog in another thread can then name the input that hangs). */
  onInput?: (index: number) => void;
}

export interface RunResult {
  target: string;
  seed: number;
  inputs: number;
  seconds: number;
  failures: Failure[];
  /** What the target's `report` said. */
  note?: string;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Runs `target`; never throws: everything that goes wrong, including an
 * unhandled rejection or uncaught exception while it runs, is a failure.
 */
export async function runTarget<I, S>(target: FuzzTarget<I, S>, options: RunOptions): Promise<RunResult> {
  const { seed } = options;
  const failures: Failure[] = [];
  const maxFailures = options.maxFailures ?? 5;
  const slowMs = target.slowInputMs ?? options.slowInputMs ?? 2000;
  const fail = (index: number, error: unknown, input?: I): void => {
    if (failures.length >= maxFailures) return;
    failures.push({ target: target.name, seed, index, error: describeError(error), input: input === undefined ? undefined : target.describe(input) });
  };
  // Inputs run since the last turn of the event loop: where an unhandled rejection or a late exception came from.
  let sinceIndex = 0;
  let lastIndex = -1;
  const where = (): string => (lastIndex < 0 ? 'during setup' : `after one of inputs ${sinceIndex}-${lastIndex}`);
  const onRejection = (reason: unknown): void => fail(-1, new Error(`unhandledRejection ${where()}: ${describeError(reason)}`));
  const onException = (error: unknown): void => fail(-1, new Error(`uncaughtException ${where()}: ${describeError(error)}`));
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);

  const started = performance.now();
  const deadline = options.seconds === undefined ? Infinity : started + options.seconds * 1000;
  let ran = 0;
  let session: S | undefined;
  let note: string | undefined;
  try {
    session = target.start ? await target.start() : (undefined as S);
    const first = options.index ?? 0;
    const last = options.index !== undefined ? options.index + 1 : options.inputs;
    const onInput = options.onInput;
    const runOne = async (index: number): Promise<void> => {
      onInput?.(index);
      lastIndex = index;
      const input = target.generate(Rng.forInput(seed, index));
      const t0 = performance.now();
      try {
        await target.check(input, session as S);
      } catch (error) {
        fail(index, error, input);
        return;
      }
      const took = performance.now() - t0;
      if (took > slowMs) fail(index, new Error(`input took ${Math.round(took)} ms (limit ${slowMs} ms)`), input);
    };
    const concurrency = target.concurrency ?? 1;
    if (concurrency === 1 && !target.start) {
      // The sans-I/O targets: a tight loop, one input at a time.
      sinceIndex = first;
      for (let index = first; index < last && failures.length < maxFailures; index++) {
        onInput?.(index);
        lastIndex = index;
        if ((index & 1023) === 1023) {
          // A turn of the event loop now and then, so that unhandled rejections surface near the input that made them.
          await new Promise((resolve) => setImmediate(resolve));
          sinceIndex = index + 1;
        }
        const input = target.generate(Rng.forInput(seed, index));
        const t0 = performance.now();
        try {
          const pending = target.check(input, session as S);
          if (pending) await pending;
        } catch (error) {
          fail(index, error, input);
        }
        ran++;
        const now = performance.now();
        if (now - t0 > slowMs) fail(index, new Error(`input took ${Math.round(now - t0)} ms (limit ${slowMs} ms)`), input);
        if (now > deadline) break;
      }
    } else {
      let next = first;
      const worker = async (): Promise<void> => {
        while (next < last && failures.length < maxFailures && performance.now() < deadline) {
          const index = next++;
          await runOne(index);
          ran++;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    }
    if (target.finish) await target.finish(session as S);
    if (target.report) note = target.report(session as S);
  } catch (error) {
    fail(-1, error);
  } finally {
    // Let late rejections of this target surface before the listeners go.
    await new Promise((resolve) => setImmediate(resolve));
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
  return { target: target.name, seed, inputs: ran, seconds: (performance.now() - started) / 1000, failures, note };
}
