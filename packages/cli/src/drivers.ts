// The non-interactive ways `switchboard connect` gets its messages:
// -x (given on the command line), stdin lines, or none (--echo).
import { createInterface, type Interface } from 'node:readline';
import type { Driver, Session } from './session.js';

/** Pause reading stdin while this many messages wait to be written. */
const HIGH_WATER = 1024;

/** -x: sends the messages, waits `waitSeconds`, closes with 1000. */
export class ExecuteDriver implements Driver {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly messages: string[],
    private readonly waitSeconds: number,
  ) {}

  start(session: Session): void {
    for (const message of this.messages) session.send(message);
    session.afterSent(() => {
      this.timer = setTimeout(() => session.close(1000), this.waitSeconds * 1000);
    });
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

/**
 * stdin is a pipe or a file: each line is one message. When stdin ends and
 * everything has been written, waits `waitSeconds` and closes with 1000.
 */
export class LinesDriver implements Driver {
  private rl: Interface | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly waitSeconds: number,
    private readonly input: NodeJS.ReadableStream & { destroy?: () => void } = process.stdin,
  ) {}

  start(session: Session): void {
    const rl = createInterface({ input: this.input, crlfDelay: Infinity, terminal: false });
    this.rl = rl;
    rl.on('line', (line: string) => {
      if (this.stopped) return;
      session.send(line);
      if (session.backlog >= HIGH_WATER) {
        rl.pause();
        session.afterSent(() => {
          if (!this.stopped) rl.resume();
        });
      }
    });
    rl.on('close', () => {
      if (this.stopped) return;
      session.afterSent(() => {
        this.timer = setTimeout(() => session.close(1000), this.waitSeconds * 1000);
      });
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.rl?.close();
    this.input.destroy?.();
  }
}

/** --echo without -x: sends nothing of its own; the server decides when it ends. */
export class NoInputDriver implements Driver {
  start(): void {}
  stop(): void {}
}
