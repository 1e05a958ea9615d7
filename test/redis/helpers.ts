// Helpers for the Redis adapter tests (not a test file): hub nodes in child
// processes (fixtures/hub-node.ts), a TCP balancer in front of them that a
// test can point at another node (what a load balancer does when a node
// dies), and hub clients that record what they receive.
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'switchboard';
import { HubClient, type ClientOptions } from 'switchboard/client';
import { withTimeout } from '../helpers/async.js';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hub-node.ts');
export const HOST = '127.0.0.1';

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `cond` every 20 ms until true, at most `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, label = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${label}`);
    await delay(20);
  }
}

export class HubNode {
  port = 0;
  node = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: any): void; reject(e: Error): void }>();
  stderr = '';
  readonly exited: Promise<void>;

  constructor(readonly proc: ChildProcess) {
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    proc.on('message', (m: { id?: number; result?: unknown; error?: { code?: string; message: string } }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else p?.resolve(m.result);
    });
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    this.exited.then(() => {
      for (const p of this.pending.values()) p.reject(new Error('hub node exited'));
      this.pending.clear();
    });
  }

  get url(): string {
    return `ws://${HOST}:${this.port}/hub`;
  }

  call<T = any>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return withTimeout(
      new Promise<T>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.proc.send({ id, op, ...args });
      }),
      20_000,
      `hub node ${op}`,
    );
  }

  /** kill -9. */
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    await this.call('close').catch(() => {});
    await this.kill();
  }
}

/** A hub node process with the RedisAdapter built from `options` ({ url } or { cluster }, ...). */
export async function startNode(options: Record<string, unknown>): Promise<HubNode> {
  const proc = fork(fixture, [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const node = new HubNode(proc);
  const ready = await withTimeout(
    new Promise<{ ready: number; node: string }>((resolve, reject) => {
      proc.on('message', (m: { ready?: number; node: string }) => m.ready !== undefined && resolve(m as { ready: number; node: string }));
      node.exited.then(() => reject(new Error(`hub node exited before it was ready: ${node.stderr}`)));
    }),
    30_000,
    'hub node ready',
  ).catch(async (error: unknown) => {
    await node.kill();
    throw error;
  });
  node.port = ready.ready;
  node.node = ready.node;
  return node;
}

/** A TCP balancer on 127.0.0.1: forwards each new connection to `target`; when a target's connection ends, so does the client's. */
export class Balancer {
  target = 0;
  private readonly server = net.createServer((client) => {
    const upstream = net.connect(this.target, HOST);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  port = 0;

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, HOST, resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `ws://${HOST}:${this.port}/hub`;
  }

  async close(): Promise<void> {
    this.server.close();
  }
}

export interface Received {
  ev: string;
  data: any;
  mid?: number;
}

/** A HubClient on Switchboard's WebSocket, recording room messages, events, gaps and disconnects. */
export class Recorder {
  readonly client: HubClient<any, any>;
  readonly messages: Received[] = [];
  readonly events: Received[] = [];
  readonly gaps: Array<{ room: string; from: number; to: number; reset?: boolean }> = [];
  readonly disconnects: number[] = [];

  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    this.client = new HubClient(url, { WebSocket: WebSocket as any, reconnect: { initialDelay: 50, maxDelay: 300 }, ...options });
    this.client.on('error', () => {});
    this.client.on('gap', (gap) => this.gaps.push(gap));
    this.client.on('disconnect', ({ code }) => this.disconnects.push(code));
  }

  /** Records room messages of event `ev` (`meta.mid` set) and direct events. */
  listen(ev: string): this {
    this.client.on(ev, (data: unknown, _reply: unknown, meta: { mid?: number }) => {
      if (meta?.mid !== undefined) this.messages.push({ ev, data, mid: meta.mid });
      else this.events.push({ ev, data });
    });
    return this;
  }

  close(): void {
    this.client.close();
  }
}

/** The `n` values 0..n-1, for "every message once, in order". */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
