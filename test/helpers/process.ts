// Child processes that must not outlive the test: started with a readiness
// condition and a timeout, stopped with SIGTERM then SIGKILL.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMPL_NAME, repoRoot } from './env.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Child {
  readonly proc: ChildProcess;
  readonly label: string;
  stdout = '';
  stderr = '';
  exit: Exit | null = null;
  readonly exited: Promise<Exit>;
  private listeners: Array<() => void> = [];

  constructor(command: string, args: string[], options: SpawnOptions = {}) {
    this.label = [path.basename(command), ...args].join(' ');
    this.proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.notify();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.notify();
    });
    this.exited = new Promise<Exit>((resolve) => {
      this.proc.once('error', (err) => {
        this.stderr += `\nspawn error: ${err.message}`;
        this.exit ??= { code: null, signal: null };
        this.notify();
        resolve(this.exit);
      });
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.notify();
      });
      // 'close' comes after all output has been read.
      this.proc.once('close', (code, signal) => {
        this.exit ??= { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Complete stdout lines so far. */
  get lines(): string[] {
    const parts = this.stdout.split('\n');
    parts.pop();
    return parts.map((l) => l.replace(/\r$/, ''));
  }

  private notify(): void {
    const l = this.listeners;
    this.listeners = [];
    for (const f of l) f();
  }

  /** What the process printed, for error messages. */
  describe(): string {
    const st = this.exit ? `exited with ${this.exit.signal ?? `code ${this.exit.code}`}` : 'still running';
    const clip = (t: string) => (t.length <= 4000 ? t : `${t.slice(0, 1500)}\n[... ${t.length - 4000} characters left out ...]\n${t.slice(-2500)}`);
    return `${this.label} (${st})\n--- stdout ---\n${clip(this.stdout) || '(empty)'}\n--- stderr ---\n${clip(this.stderr) || '(empty)'}`;
  }

  /**
   * Waits until `check()` returns a value other than undefined; fails if the
   * process exits first or `timeoutMs` passes.
   */
  async waitFor<T>(check: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (!this.running) throw new Error(`process exited while waiting for ${what}: ${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.listeners.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for a complete stdout line matching `re`; returns its match. */
  waitForLine(re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return this.waitFor(() => {
      for (const l of this.lines) {
        const m = l.match(re);
        if (m) return m;
      }
      return undefined;
    }, `a stdout line matching ${re}`, timeoutMs);
  }

  /**
   * SIGTERM (or `signal`), then SIGKILL after `graceMs`. Resolves with the
   * exit status and whether SIGKILL was needed. Safe to call repeatedly.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<Exit & { killed: boolean }> {
    if (!this.running) return { ...(await this.exited), killed: false };
    this.proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      this.exited.then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (graceful) return { ...(await this.exited), killed: false };
    this.proc.kill('SIGKILL');
    return { ...(await this.exited), killed: true };
  }
}

/** A Node script run with the same node binary as the tests. */
export function startNode(script: string, args: string[] = [], options: SpawnOptions = {}): Child {
  return new Child(process.execPath, [script, ...args], { cwd: repoRoot, ...options });
}

export const CLI = path.join(repoRoot, 'packages/cli/bin/switchboard.js');
const WS_STAND_IN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ws-echo-server.mjs');

export const LISTENING_RE = /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/;

export interface CliServer {
  child: Child;
  port: number;
  url: string;
  stop: Child['stop'];
}

/**
 * Starts `node bin/switchboard.js serve --echo --port 0 --host 127.0.0.1` (plus
 * `extraArgs`) and waits for its one readiness line
 * `listening on ws://127.0.0.1:PORT`, which must be the first line it prints.
 * Call `stop()` in an `after` hook.
 */
export async function startEchoCli(extraArgs: string[] = [], timeoutMs = 15_000): Promise<CliServer> {
  const script = IMPL_NAME === 'ws' ? WS_STAND_IN : CLI;
  const child = startNode(script, ['serve', '--echo', '--port', '0', '--host', '127.0.0.1', ...extraArgs]);
  try {
    const line = await child.waitFor(() => child.lines[0], 'the first stdout line (listening on ws://127.0.0.1:PORT)', timeoutMs);
    const m = line.match(LISTENING_RE);
    if (!m) throw new Error(`first stdout line is ${JSON.stringify(line)}, expected "listening on ws://127.0.0.1:PORT": ${child.describe()}`);
    const port = Number(m[1]);
    if (!(port > 0 && port < 65536)) throw new Error(`invalid port in ${JSON.stringify(line)}`);
    return { child, port, url: `ws://127.0.0.1:${port}/`, stop: child.stop.bind(child) };
  } catch (e) {
    await child.stop('SIGKILL', 1000);
    throw e;
  }
}
