// --exec CMD (websocketd's job, websocat's exec:): a program whose stdin gets
// every received message (one per line) and whose stdout lines are sent as
// text messages. The command line is the operator's, split into argv here
// and run without a shell; what the peer sends only ever reaches the
// program's stdin, so it cannot inject a command. When the program exits the
// connection closes: 1000 after exit code 0, 1011 otherwise; when the
// connection closes the program gets EOF, then SIGTERM, then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { UsageError } from './options.js';
import type { Driver, Session } from './session.js';

export interface ExecLimits {
  /** Longest stdout line sent as one message; a longer one is sent in pieces of this size. */
  maxLine?: number;
}

/** A stdout line longer than this is sent in pieces: the bridge never buffers more. */
export const DEFAULT_EXEC_MAX_LINE = 1024 * 1024;
/** After EOF on its stdin, the program has this long to exit before SIGTERM, then as long again before SIGKILL. */
const EXIT_GRACE_MS = 2000;
/** Pause the program's stdout while this many messages wait to be written to the socket. */
const HIGH_WATER = 1024;

/** Splits a command line into argv: words, '...' and "..." quoting, backslash escapes; no expansion of any kind. */
export function splitCommand(command: string): string[] {
  const argv: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < command.length) word += command[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < command.length) {
      word += command[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) argv.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== null) throw new Error(`unterminated ${quote} quote`);
  if (inWord) argv.push(word);
  if (argv.length === 0) throw new Error('empty command');
  return argv;
}

export interface BridgeEnds {
  send(data: Buffer): void;
  /** Messages handed to the socket and not yet written. */
  backlog(): number;
  /** Calls `fn` once everything sent so far has been written. */
  afterSent(fn: () => void): void;
  close(code: number, reason: string): void;
}

/** One program bridged to one connection. */
export class ProgramBridge {
  private readonly child: ChildProcess;
  private partial: Buffer[] = [];
  private partialSize = 0;
  private closed = false;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(
    argv: string[],
    private readonly ends: BridgeEnds,
    private readonly maxLine = DEFAULT_EXEC_MAX_LINE,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], env, shell: false });
    this.child.on('error', (error) => this.finish(1011, `cannot run ${argv[0]}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    this.child.stdin!.on('error', () => {}); // EPIPE when the program exits without reading: its exit is reported instead.
    this.child.stdout!.on('data', (chunk: Buffer) => this.output(chunk));
    this.child.on('close', (code, signal) => {
      clearTimeout(this.killTimer);
      this.flushPartial();
      this.finish(code === 0 ? 1000 : 1011, code === 0 ? '' : `program exited with ${signal ?? `code ${code}`}`);
    });
  }

  /** A received message: one line on the program's stdin. */
  input(data: Buffer): void {
    if (this.closed || !this.child.stdin!.writable) return;
    this.child.stdin!.write(data);
    this.child.stdin!.write('\n');
  }

  private output(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      this.sendLine(this.partial.length === 0 ? piece : Buffer.concat([...this.partial, piece]));
      this.partial = [];
      this.partialSize = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.partial.push(chunk.subarray(start));
      this.partialSize += chunk.length - start;
      if (this.partialSize >= this.maxLine) this.flushPartial();
    }
    if (this.ends.backlog() >= HIGH_WATER) {
      this.child.stdout!.pause();
      this.ends.afterSent(() => this.child.stdout!.resume());
    }
  }

  private flushPartial(): void {
    if (this.partial.length === 0) return;
    const line = Buffer.concat(this.partial);
    this.partial = [];
    this.partialSize = 0;
    for (let i = 0; i < line.length; i += this.maxLine) this.sendLine(line.subarray(i, i + this.maxLine));
  }

  private sendLine(line: Buffer): void {
    if (this.closed) return;
    // A line ending in \r\n (a Windows-style program) is sent without the \r.
    this.ends.send(line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line);
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ends.close(code, reason.slice(0, 123));
  }

  /** The connection is over: EOF on the program's stdin, then SIGTERM, then SIGKILL. */
  stop(): void {
    this.closed = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    this.killTimer = setTimeout(() => {
      this.child.kill('SIGTERM');
      this.killTimer = setTimeout(() => this.child.kill('SIGKILL'), EXIT_GRACE_MS);
      this.killTimer.unref();
    }, EXIT_GRACE_MS);
    this.killTimer.unref();
  }
}

/** connect --exec: the program is the client's input and output. */
export class ExecDriver implements Driver {
  private bridge: ProgramBridge | null = null;
  private readonly argv: string[];

  constructor(
    command: string,
    private readonly limits: ExecLimits = {},
  ) {
    try {
      this.argv = splitCommand(command);
    } catch (error) {
      throw new UsageError(`--exec ${command}: ${(error as Error).message}`);
    }
  }

  start(session: Session): void {
    this.bridge = new ProgramBridge(this.argv, {
      send: (data) => {
        if (session.isOpen) session.sendData(data.toString('utf8'), false);
      },
      backlog: () => session.backlog,
      afterSent: (fn) => session.afterSent(fn),
      close: (code, reason) => {
        if (code === 1000) session.close(code, reason);
        else session.fail(`--exec: ${reason}`, code);
      },
    }, this.limits.maxLine);
  }

  deliver(data: Buffer): void {
    this.bridge?.input(data);
  }

  stop(): void {
    this.bridge?.stop();
  }
}
