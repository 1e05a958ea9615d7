// Running the real `switchboard` binary (node bin/switchboard.js, over the
// build in dist/) as a child process, bounded in time, on 127.0.0.1 only.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { repoRoot } from '../helpers/env.js';
import { CLI, Child, startNode, type Exit } from '../helpers/process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

export { CLI };

/** The built entry bin/switchboard.js loads; `npm test` (pretest) and `npm run build` make it. */
export const BUILT_MAIN = path.join(repoRoot, 'packages/cli/dist/src/main.js');

export function assertBuilt(): void {
  if (!existsSync(BUILT_MAIN)) throw new Error(`${BUILT_MAIN} is missing: run "npm run build" first`);
}

/** The environment of CLI children: no colour unless a test asks for it. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Every child started here, stopped by `stopAll()` in an `after` hook. */
const started = new Set<Child>();

export function spawnCli(args: string[], options: { stdin?: boolean; env?: NodeJS.ProcessEnv } = {}): Child {
  const child = startNode(CLI, args, {
    env: options.env ?? cliEnv(),
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  void child.exited.then(() => started.delete(child));
  return child;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((child) => child.stop('SIGKILL', 2000)));
}

export interface Run extends Exit {
  stdout: string;
  stderr: string;
  /** stdout split into lines, without the final empty one. */
  lines: string[];
  ms: number;
  child: Child;
}

/**
 * Runs `switchboard ...args` to completion (killing it after `timeoutMs`),
 * with `stdin` written to a pipe when given (the pipe stays open until
 * `stdin` is written, then ends).
 */
export async function runCli(args: string[], options: { stdin?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const started = Date.now();
  const child = spawnCli(args, { stdin: options.stdin !== undefined, env: options.env });
  if (options.stdin !== undefined) child.proc.stdin!.end(options.stdin);
  const timeoutMs = options.timeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    child.exited.then(() => false),
    new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    await child.stop('SIGKILL', 1000);
    throw new Error(`switchboard ${args.join(' ')} did not exit within ${timeoutMs} ms: ${child.describe()}`);
  }
  const exit = await child.exited;
  return { ...exit, stdout: child.stdout, stderr: child.stderr, lines: child.lines, ms: Date.now() - started, child };
}

export const LISTENING_LINE = /^listening on (wss?):\/\/127\.0\.0\.1:(\d+)$/;

export interface Served {
  child: Child;
  port: number;
  /** ws://127.0.0.1:PORT/ (or wss://) */
  url: string;
}

/**
 * Starts `switchboard serve --port 0 --host 127.0.0.1 ...args` and waits for
 * its first stdout line, `listening on ws://127.0.0.1:PORT` (or the JSON
 * "listening" object with --json).
 */
export async function startServe(args: string[], timeoutMs = 10_000, env?: NodeJS.ProcessEnv): Promise<Served> {
  const child = spawnCli(['serve', '--port', '0', '--host', '127.0.0.1', ...args], { env });
  try {
    const first = await child.waitFor(() => child.lines[0], 'the listening line', timeoutMs);
    let url: string;
    if (args.includes('--json')) {
      const record = JSON.parse(first) as { event: string; url: string };
      if (record.event !== 'listening') throw new Error(`first line is not the listening event: ${first}`);
      url = record.url;
    } else {
      if (!LISTENING_LINE.test(first)) throw new Error(`first line ${JSON.stringify(first)} is not "listening on ws://127.0.0.1:PORT"`);
      url = first.slice('listening on '.length);
    }
    const m = /^wss?:\/\/127\.0\.0\.1:(\d+)$/.exec(url);
    if (!m) throw new Error(`unexpected url ${url}`);
    return { child, port: Number(m[1]), url: `${url}/` };
  } catch (error) {
    await child.stop('SIGKILL', 1000);
    throw new Error(`${(error as Error).message}\n${child.describe()}`);
  }
}

/** Waits until `check()` is true (polling), failing after `timeoutMs`. */
export async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The `before` and `after` of a suite of `serve --hub --redis` nodes: before, the CLI built and a
 * redis-server started (`.redis` once it runs); after, `clients` closed, `beforeStopping` run, every
 * `serve` stopped, then Redis.
 */
export function withServedRedis(clients: ReadonlyArray<{ close(): void }>, beforeStopping?: () => Promise<void>): { readonly redis: RedisServer } {
  const setup = {} as { redis: RedisServer };
  before(async () => {
    assertBuilt();
    setup.redis = await startRedis();
  });
  after(async () => {
    for (const c of clients) c.close();
    await beforeStopping?.();
    await stopAll();
    await setup.redis?.stop();
  });
  return setup;
}
