// What the multi-process benchmarks share (fallback.mjs, redis-fanout.mjs):
// their option parsing, spawning the server, node and load generator
// processes, talking to them over IPC, and formatting.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** `--name value` from `argv`, as a number when `fallback` is one; a flag with no value is `true`. */
export function optionReader(argv) {
  return (name, fallback) => {
    const i = argv.indexOf(`--${name}`);
    if (i === -1) return fallback;
    const v = argv[i + 1];
    return v === undefined || v.startsWith('--') ? true : typeof fallback === 'number' ? Number(v) : v;
  };
}

/** Every process `start` spawned (for the caller to kill on exit). */
export const children = [];

/**
 * Spawns `args` with the descriptor limit raised to the hard limit (a load generator holds one
 * per client), pinned to `core` by taskset when given, with an IPC channel unless `ipc` is false.
 */
export function start(args, { core, ipc = true, quiet = false } = {}) {
  const pinned = core === undefined ? args : ['taskset', '-c', String(core), ...args];
  const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'sh', ...pinned], {
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit', ...(ipc ? ['ipc'] : [])],
  });
  children.push(child);
  return child;
}

/** The next IPC message of `type` from `proc` (an `error` message rejects). */
export function next(proc, type, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.off('message', on);
      reject(new Error(`timed out waiting for '${type}'`));
    }, timeoutMs);
    const on = (m) => {
      if (m.type === type || m.type === 'error') {
        clearTimeout(timer);
        proc.off('message', on);
        if (m.type === 'error') reject(new Error(m.message));
        else resolve(m);
      }
    };
    proc.on('message', on);
  });
}

export const ask = (proc, message, type = message.type, timeoutMs) => {
  const reply = next(proc, type, timeoutMs);
  proc.send(message);
  return reply;
};

export const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Resolves once `load` has reported `count` messages complete (`done`); rejects past `timeoutMs`, naming `phase`. */
export function whenDone(load, count, timeoutMs, phase) {
  return new Promise((resolve, reject) => {
    let done = 0;
    const timer = setTimeout(() => reject(new Error(`${phase} stalled (${done} of ${count})`)), timeoutMs);
    const on = (m) => {
      if (m.type === 'done' && ++done === count) {
        clearTimeout(timer);
        load.off('message', on);
        resolve();
      }
    };
    load.on('message', on);
  });
}

/**
 * The closed loop of a throughput phase: `messages` calls of `publish`, at most `window` of them in
 * flight (a message is until `load` reports it complete: every client has it).
 */
export function closedLoop(load, messages, window, publish, timeoutMs, phase) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = 0;
    const timer = setTimeout(() => reject(new Error(`${phase} stalled (${done} of ${messages})`)), timeoutMs);
    const publishNext = () => {
      sent++;
      publish();
    };
    const on = (m) => {
      if (m.type !== 'done') return;
      if (++done === messages) {
        clearTimeout(timer);
        load.off('message', on);
        resolve();
      } else if (sent < messages) publishNext();
    };
    load.on('message', on);
    while (sent < Math.min(window, messages)) publishNext();
  });
}
