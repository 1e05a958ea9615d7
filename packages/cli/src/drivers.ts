// The non-interactive ways `switchboard connect` gets its messages:
// -x (given on the command line), stdin lines (text, or raw bytes with
// --binary), a whole file as one binary message (--binary-file), or none
// (--echo).
import { createReadStream } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { Driver, Session } from './session.js';
import { afterSeconds, type Cancel } from './timers.js';

/** Pause reading stdin while this many messages wait to be written. */
const HIGH_WATER = 1024;
/** --binary reads lines of raw bytes: a longer line (no newline in sight) is refused rather than buffered without bound. */
export const MAX_BINARY_LINE = 64 * 1024 * 1024;
/** --binary-file sends the whole file as one message: larger files are refused before anything is sent. */
export const MAX_BINARY_FILE = 64 * 1024 * 1024;

type Input = NodeJS.ReadableStream & { destroy?: () => void };

/** -x: sends the messages, waits `waitSeconds` (Infinity: until the server closes), closes with 1000. */
export class ExecuteDriver implements Driver {
  private cancel: Cancel = () => {};

  constructor(
    private readonly messages: string[],
    private readonly waitSeconds: number,
  ) {}

  start(session: Session): void {
    for (const message of this.messages) session.send(message);
    session.afterSent(() => {
      this.cancel = afterSeconds(this.waitSeconds, () => session.close(1000));
    });
  }

  stop(): void {
    this.cancel();
  }
}

/**
 * stdin is a pipe or a file: each line is one message (text; with --binary
 * the line's raw bytes, not decoded, without its "\n"). When stdin ends and
 * everything has been written, waits `waitSeconds` and closes with 1000.
 */
export class LinesDriver implements Driver {
  private rl: Interface | null = null;
  private cancel: Cancel = () => {};
  private stopped = false;

  constructor(
    private readonly waitSeconds: number,
    private readonly binary = false,
    private readonly input: Input = process.stdin,
  ) {}

  start(session: Session): void {
    if (this.binary) this.startBinary(session);
    else this.startText(session);
  }

  private startText(session: Session): void {
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
    rl.on('close', () => this.ended(session));
  }

  private startBinary(session: Session): void {
    let partial: Buffer[] = [];
    let partialSize = 0;
    this.input.on('data', (chunk: Buffer) => {
      if (this.stopped) return;
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        const line = partial.length === 0 ? piece : Buffer.concat([...partial, piece]);
        partial = [];
        partialSize = 0;
        session.sendData(line, true);
        start = nl + 1;
      }
      if (start < chunk.length) {
        partial.push(chunk.subarray(start));
        partialSize += chunk.length - start;
        if (partialSize > MAX_BINARY_LINE) {
          session.fail(`stdin: a line longer than ${MAX_BINARY_LINE} bytes (--binary sends one message per line; --binary-file - sends all of stdin as one)`);
          return;
        }
      }
      if (session.backlog >= HIGH_WATER) {
        this.input.pause();
        session.afterSent(() => {
          if (!this.stopped) this.input.resume();
        });
      }
    });
    this.input.on('end', () => {
      if (this.stopped) return;
      if (partial.length > 0) session.sendData(Buffer.concat(partial), true);
      partial = [];
      this.ended(session);
    });
    this.input.on('error', (error: Error) => session.fail(`stdin: ${error.message}`));
  }

  private ended(session: Session): void {
    if (this.stopped) return;
    session.afterSent(() => {
      if (!this.stopped) this.cancel = afterSeconds(this.waitSeconds, () => session.close(1000));
    });
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
    this.rl?.close();
    this.input.destroy?.();
  }
}

/**
 * --binary-file FILE (or "-" for stdin): the whole file as one binary
 * message, then `waitSeconds`, then close with 1000.
 */
export class BinaryFileDriver implements Driver {
  private cancel: Cancel = () => {};
  private stopped = false;
  private input: Input | null = null;

  constructor(
    private readonly file: string,
    private readonly waitSeconds: number,
  ) {}

  start(session: Session): void {
    const input: Input = this.file === '-' ? process.stdin : createReadStream(this.file);
    this.input = input;
    const chunks: Buffer[] = [];
    let size = 0;
    input.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BINARY_FILE) {
        input.destroy?.();
        session.fail(`--binary-file ${this.file}: larger than ${MAX_BINARY_FILE} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    input.on('error', (error: Error) => session.fail(`--binary-file ${this.file}: ${error.message}`));
    input.on('end', () => {
      if (this.stopped || size > MAX_BINARY_FILE) return;
      session.sendData(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), true);
      session.afterSent(() => {
        if (!this.stopped) this.cancel = afterSeconds(this.waitSeconds, () => session.close(1000));
      });
    });
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
    this.input?.destroy?.();
  }
}

/** --echo without -x: sends nothing of its own; the server decides when it ends. */
export class NoInputDriver implements Driver {
  start(): void {}
  stop(): void {}
}
