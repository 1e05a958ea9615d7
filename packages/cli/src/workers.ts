// `serve --workers N`: N processes (node:cluster) share the listening port,
// so that a server uses every core. The primary only supervises: it prints
// the listening line once, restarts a worker that dies (at most
// MAX_RESTARTS_PER_MINUTE times a minute, then it gives up and exits 1) and on
// SIGINT/SIGTERM stops the workers (each closes its connections with 1001).
// No sticky sessions: a WebSocket connection lives on the worker that
// accepted it, and with --hub --redis every worker sees every room.
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { listeningAddress, type ListeningAddress } from './listen-address.js';
import type { LogFormat, ServerLog } from './server-log.js';

/** This process's worker number (1..N, kept across restarts), or null outside a --workers cluster. */
export const workerSlot: number | null = cluster.isWorker && process.env.SWITCHBOARD_WORKER !== undefined ? Number(process.env.SWITCHBOARD_WORKER) : null;

/** Restarts the primary allows in any 60 seconds before it gives up (a worker that dies at start would loop). */
export const MAX_RESTARTS_PER_MINUTE = 10;
/** How long the primary waits for workers to close their connections on shutdown before killing them. */
const STOP_TIMEOUT_MS = 5000;

/** "auto" is one worker per core (os.availableParallelism()). */
export function resolveWorkers(value: number | 'auto'): number {
  return value === 'auto' ? availableParallelism() : value;
}

interface ListeningMessage {
  sb: 'listening';
  url: string;
  allInterfaces: boolean;
}

/** A worker tells the primary, which prints one listening line for all; otherwise it is printed here. */
export function announceListening(log: ServerLog, scheme: 'ws' | 'wss', address: AddressInfo): void {
  const shown = listeningAddress(scheme, address);
  if (workerSlot !== null && process.send !== undefined) process.send({ sb: 'listening', url: shown.url, allInterfaces: shown.allInterfaces } satisfies ListeningMessage);
  else log.listening(shown);
}

/**
 * In a worker: `stop` when the primary says so (a message, not a signal: a terminal's Ctrl+C
 * already reached the worker, and a second signal would kill it mid-shutdown) or goes away (its
 * IPC channel closes), so that no worker outlives it. `stop` may be called more than once.
 */
export function onPrimaryGone(stop: () => void): void {
  if (workerSlot === null) return;
  process.once('disconnect', stop);
  process.on('message', (message: unknown) => {
    if ((message as { sb?: unknown } | null)?.sb === 'stop') stop();
  });
}

/** The primary's own lines (worker started, exited, restarted), in the log's format; null: none (--quiet). */
function primaryLine(format: LogFormat, event: string, fields: Record<string, string | number | undefined>, text: string): string | null {
  if (format === 'json') return JSON.stringify({ time: new Date().toISOString(), event, ...fields });
  if (format === 'human') return `${new Date().toISOString()} - ${event} ${text}`;
  return null;
}

/**
 * The primary of `serve --workers N`: forks N workers running the same command line and
 * supervises them until SIGINT/SIGTERM (resolves 0) or too many restarts (resolves 1).
 */
export function runPrimary(count: number, format: LogFormat, showListening: (address: ListeningAddress) => void): Promise<number> {
  return new Promise<number>((resolve) => {
    const slots = new Map<Worker, number>();
    const restarts: number[] = [];
    let stopping = false;
    let announced = false;
    const listening = new Set<number>();
    let exitCode = 0;
    // The listening line comes first, as without --workers: lines before it wait.
    const early: string[] = [];
    const print = (line: string | null): void => {
      if (line === null) return;
      if (announced) process.stdout.write(`${line}\n`);
      else early.push(line);
    };

    const fork = (slot: number): void => {
      const worker = cluster.fork({ SWITCHBOARD_WORKER: String(slot) });
      slots.set(worker, slot);
      worker.on('online', () => print(primaryLine(format, 'worker-started', { worker: slot, pid: worker.process.pid }, `worker ${slot} started (pid ${worker.process.pid})`)));
      worker.on('message', (message: unknown) => {
        const m = message as Partial<ListeningMessage> | null;
        if (m?.sb !== 'listening' || announced || typeof m.url !== 'string') return;
        // Once every worker listens: then connections are spread over all of them from the first.
        listening.add(slot);
        if (listening.size < count) return;
        announced = true;
        showListening({ url: m.url, allInterfaces: m.allInterfaces === true });
        for (const line of early.splice(0)) process.stdout.write(`${line}\n`);
      });
      worker.on('error', () => {}); // an IPC error: its 'exit' follows
    };

    const finish = (): void => {
      if (slots.size === 0) {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
        resolve(exitCode);
      }
    };

    cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
      const slot = slots.get(worker);
      if (slot === undefined) return;
      slots.delete(worker);
      const how = signal !== null ? signal : `code ${code}`;
      if (stopping) {
        finish();
        return;
      }
      const now = Date.now();
      while (restarts.length > 0 && restarts[0]! < now - 60_000) restarts.shift();
      if (restarts.length >= MAX_RESTARTS_PER_MINUTE) {
        process.stderr.write(`switchboard: worker ${slot} exited (${how}); ${MAX_RESTARTS_PER_MINUTE} restarts in the last minute: giving up\n`);
        exitCode = 1;
        stop();
        return;
      }
      restarts.push(now);
      print(primaryLine(format, 'worker-exited', { worker: slot, pid: worker.process.pid, code: code ?? undefined, signal: signal ?? undefined }, `worker ${slot} (pid ${worker.process.pid}) exited (${how}); restarting`));
      fork(slot);
    });

    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      for (const worker of slots.keys()) {
        try {
          worker.send({ sb: 'stop' });
        } catch {
          worker.process.kill('SIGTERM');
        }
      }
      setTimeout(() => {
        for (const worker of slots.keys()) worker.process.kill('SIGKILL');
      }, STOP_TIMEOUT_MS).unref();
      finish();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    for (let slot = 1; slot <= count; slot++) fork(slot);
  });
}
