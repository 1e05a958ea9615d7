// Fuzz targets over real sockets: a WebSocketServer echo and a Hub, each in
// a child process on 127.0.0.1 (test/fuzz/socket-child.ts), attacked by many
// short connections carrying mutated handshakes, frame streams and hub
// messages. Each input is one connection. The child must stay up, grow by
// less than 64 MiB, and serve an honest client at the end.
import { Buffer } from 'node:buffer';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '../../../packages/switchboard/src/index.js';
import type { FuzzTarget } from '../engine.js';
import { encodeRawFrame, frameStream, mutatedHandshake, validHandshake } from '../generators.js';
import { hubMessage } from '../hub-messages.js';
import { mutateBytes, randomChunks, type Rng } from '../rng.js';
import { DEFAULT_HUB_DEPTH } from './hub-wire.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.join(here, '..', '..', '..');
const CHILD = path.join(here, '..', 'socket-child.ts');
/** The issue's bound: an attacked process grows by at most 64 MiB. */
export const MAX_GROWTH = 64 * 1024 * 1024;
/** Longest one attacking connection is kept open. */
const CONNECTION_MS = 1500;

export type ServerKind = 'echo' | 'hub';
/** What runs in the child: a server to attack, or clients that connect to a fuzzing server at `args[0]`. */
export type ChildKind = ServerKind | 'client';

export interface ConnectionInput {
  /** Pieces of what the client sends, handshake first; `afterHead` is where the handshake ends (-1: it is all handshake). */
  chunks: Buffer[];
  afterHead: number;
  /** How the client leaves: a FIN, a TCP reset, or waiting for the server to close. */
  ending: 'end' | 'reset' | 'wait';
  /** The handshake is one the server must accept (101). */
  acceptable: boolean;
}

/** Reason phrases (RFC 9110 section 15; 431 from RFC 6585) of every status a server may answer an upgrade with. */
const REASONS: Record<string, string> = {
  '101': 'Switching Protocols',
  '400': 'Bad Request',
  '401': 'Unauthorized',
  '403': 'Forbidden',
  '404': 'Not Found',
  '405': 'Method Not Allowed',
  '408': 'Request Timeout',
  '413': 'Payload Too Large',
  '414': 'URI Too Long',
  '426': 'Upgrade Required',
  '429': 'Too Many Requests',
  '431': 'Request Header Fields Too Large',
  '500': 'Internal Server Error',
  '501': 'Not Implemented',
  '503': 'Service Unavailable',
  '505': 'HTTP Version Not Supported',
};

/** What the server answered must be an HTTP/1.1 status line with its proper reason phrase; 101 for an acceptable handshake. */
export function checkAnswer(answer: Buffer, input: { acceptable: boolean }, tolerated: ReadonlySet<string> = new Set()): void {
  const lineEnd = answer.indexOf('\r\n');
  if (lineEnd === -1) return; // nothing (or a fragment) before the connection went
  const line = answer.toString('latin1', 0, lineEnd);
  const match = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(line);
  if (match === null) fail(`answered ${JSON.stringify(line.slice(0, 200))}`);
  if (REASONS[match[1]!] !== match[2] && !tolerated.has(line)) fail(`status line ${JSON.stringify(line)}: expected reason ${JSON.stringify(REASONS[match[1]!])}`);
  if (input.acceptable && match[1] !== '101') fail(`a valid handshake was answered ${JSON.stringify(line)}`);
}

export interface ServerSession {
  kind: ChildKind;
  child: ChildProcess;
  port: number;
  stderr: string;
  exited: { code: number | null; signal: string | null } | null;
  baseline: number;
  /** Heap in use after a GC, after warm-up. */
  baselineHeap?: number;
  /** RSS after the run (after a GC) minus the baseline. */
  growth?: number;
  /** The child's report after the run. */
  last?: ChildReport;
}

function fail(message: string): never {
  throw new Error(message);
}

export interface ChildReport {
  rss: number;
  heapUsed: number;
  /** Connections that opened, messages received (WebSocket messages; the hub counts connections only). */
  opened: number;
  messages: number;
  /** Longest the child's event loop was blocked, in ms. */
  maxLoopDelayMs: number;
}

/**
 * The longest a server may stop answering everyone: generous, so that a
 * loaded machine does not fail the run, yet far below the seconds-long
 * stalls of the issue's attacks.
 */
export const MAX_LOOP_DELAY_MS = 5000;
/** Every input's connection ends within CONNECTION_MS on a timer here: slower only when this process is starved. */
export const SOCKET_INPUT_SLOW_MS = 30_000;

export function memory(session: ServerSession): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not report its memory')), 10_000);
    const onMessage = (message: { memory?: ChildReport }): void => {
      if (!message.memory) return;
      clearTimeout(timer);
      session.child.off('message', onMessage);
      resolve(message.memory);
    };
    session.child.on('message', onMessage);
    session.child.send('memory');
  });
}

export function assertAlive(session: ServerSession): void {
  if (session.exited) fail(`the ${session.kind} server died (${JSON.stringify(session.exited)}): ${session.stderr.slice(-4000)}`);
}

export async function startServer(kind: ChildKind, args: string[] = []): Promise<ServerSession> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', CHILD, kind, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const session: ServerSession = { kind, child, port: 0, stderr: '', exited: null, baseline: 0 };
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    session.stderr = (session.stderr + d).slice(-20_000);
  });
  child.on('exit', (code, signal) => {
    session.exited = { code, signal };
  });
  session.port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${kind} server did not start: ${session.stderr}`)), 30_000);
    child.on('message', (message: { port?: number }) => {
      if (message.port === undefined) return;
      clearTimeout(timer);
      resolve(message.port);
    });
    child.on('exit', () => reject(new Error(`the ${kind} server exited at start: ${session.stderr}`)));
  });
  return session;
}

/** A frame stream of hub messages, masked as a client must: mostly text, sometimes binary, pings and raw faults. */
function hubFrames(rng: Rng, hubDepth: number): Buffer {
  const frames: Buffer[] = [];
  if (rng.chance(0.8)) frames.push(textFrame(rng, '{"t":"hello"}'));
  for (let n = rng.int(1, 12); n > 0; n--) {
    const r = rng.below(20);
    if (r === 0) frames.push(encodeRawFrame({ fin: true, rsv: 0, opcode: 0x2, payload: rng.bytes(rng.size(100)), maskKey: rng.bytes(4), lengthForm: 7 }));
    else if (r === 1) frames.push(encodeRawFrame({ fin: true, rsv: 0, opcode: 0x9, payload: rng.bytes(rng.size(125)), maskKey: rng.bytes(4), lengthForm: 7 }));
    else if (r === 2) frames.push(frameStream(rng, { role: 'server' }));
    else if (r === 3) frames.push(textFrame(rng, JSON.stringify({ t: 'join', id: rng.below(100), room: rng.pick(['lobby', '__proto__', 'constructor', 'r1']) })));
    else if (r === 4) frames.push(textFrame(rng, JSON.stringify({ t: 'req', id: rng.below(100), ev: 'say', data: 'hi' })));
    else if (r < 8) frames.push(textFrame(rng, JSON.stringify({ t: 'join', id: rng.below(100), room: 'lobby' })), textFrame(rng, hubMessage(rng, hubDepth).replace(/"room":"[^"]*"/, '"room":"lobby"')));
    else frames.push(textFrame(rng, hubMessage(rng, hubDepth)));
  }
  return Buffer.concat(frames);
}

function textFrame(rng: Rng, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  return encodeRawFrame({ fin: true, rsv: 0, opcode: 0x1, payload, maskKey: rng.bytes(4), lengthForm: payload.length < 126 ? 7 : payload.length < 65536 ? 16 : 64 });
}

function generateConnection(rng: Rng, kind: ServerKind, hubDepth: number): ConnectionInput {
  const wsPath = kind === 'hub' ? (rng.chance(0.9) ? '/hub' : rng.pick(['/', '/other', '/hub/x'])) : rng.pick(['/', '/echo']);
  const protocols = kind === 'hub' ? (rng.chance(0.95) ? ['switchboard.v1'] : undefined) : rng.chance(0.2) ? ['chat'] : undefined;
  const ending = rng.pick(['end', 'reset', 'wait'] as const);
  if (rng.chance(0.2)) {
    // A broken handshake: line-level faults, then maybe byte-level ones, maybe frames behind it.
    let head: Buffer = Buffer.from(mutatedHandshake(rng, { path: wsPath, protocols }), 'latin1');
    if (rng.chance(0.4)) head = mutateBytes(rng, head, 3);
    const tail = rng.chance(0.3) ? frameStream(rng, { role: 'server' }) : Buffer.alloc(0);
    return { chunks: randomChunks(rng, Buffer.concat([head, tail])), afterHead: -1, ending, acceptable: false };
  }
  const { head } = validHandshake(rng, { path: wsPath, protocols });
  let frames = kind === 'hub' ? hubFrames(rng, hubDepth) : frameStream(rng, { role: 'server' });
  if (rng.chance(0.4)) frames = mutateBytes(rng, frames, 4);
  const headChunks = randomChunks(rng, Buffer.from(head, 'latin1'));
  const acceptable = kind === 'echo' || (wsPath === '/hub' && protocols !== undefined);
  return { chunks: [...headChunks, ...randomChunks(rng, frames)], afterHead: headChunks.length, ending, acceptable };
}

/** Plays one connection against the server; resolves with what the server sent (its first 64 KiB) when it is closed, whatever happened. */
function playConnection(session: ServerSession, input: ConnectionInput): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = net.connect(session.port, '127.0.0.1');
    socket.setNoDelay(true);
    let received = Buffer.alloc(0);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    const timer = setTimeout(finish, CONNECTION_MS);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', (data: Buffer) => {
      if (received.length < 65536) received = Buffer.concat([received, data]);
      if (waitingForHead && received.includes('\r\n\r\n')) {
        waitingForHead = false;
        sendFrom(input.afterHead);
      }
    });
    let waitingForHead = false;
    const sendFrom = (start: number): void => {
      const chunks = input.chunks;
      let i = start;
      const step = (): void => {
        if (finished || socket.destroyed) return;
        if (i === input.afterHead && start < input.afterHead) {
          waitingForHead = true;
          return;
        }
        if (i >= chunks.length) {
          if (input.ending === 'end') socket.end();
          else if (input.ending === 'reset') socket.resetAndDestroy();
          return;
        }
        socket.write(chunks[i++]!);
        // Most pieces go at once; some wait a turn, so that the server reads them separately.
        if (i % 3 === 0) setImmediate(step);
        else step();
      };
      step();
    };
    socket.on('connect', () => sendFrom(0));
  });
}

async function honestEcho(port: number): Promise<void> {
  const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
  ws.on('error', () => {});
  const answer = new Promise<string>((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('close', () => reject(new Error('closed before the echo')));
  });
  ws.send('honest client');
  const text = await withTimeout(answer, 10_000, 'the echo');
  if (text !== 'honest client') fail(`echo answered ${text}`);
  ws.close();
}

export interface HonestClient {
  /** Every `error` message the server sent this client. */
  errors: Array<Record<string, unknown>>;
  send(message: Record<string, unknown>): void;
  /** Sends text as it is (for messages JSON.stringify could not produce). */
  sendRaw(text: string): void;
  next(match: (m: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  close(): void;
}

export async function openHubClient(port: number): Promise<HonestClient> {
  const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/hub`, { protocols: ['switchboard.v1'] });
  ws.on('error', () => {});
  const received: Array<Record<string, unknown>> = [];
  let wake: () => void = () => {};
  const errors: Array<Record<string, unknown>> = [];
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as Record<string, unknown>;
    if (message.t === 'error') errors.push(message);
    received.push(message);
    wake();
  });
  const client: HonestClient = {
    errors,
    send: (message) => ws.send(JSON.stringify(message)),
    sendRaw: (text) => ws.send(text),
    next: (match, what) =>
      withTimeout(
        new Promise((resolve) => {
          const look = (): void => {
            const found = received.find(match);
            if (found) resolve(found);
          };
          wake = look;
          look();
        }),
        10_000,
        what,
      ),
    close: () => ws.close(),
  };
  client.send({ t: 'hello' });
  await client.next((m) => m.t === 'welcome', 'welcome');
  return client;
}

/**
 * Two honest clients in 'lobby', the room the attackers publish to most:
 * one joins with its whole history (the attackers' messages replayed), the
 * other publishes, and the first receives it live. A request is answered.
 */
async function honestHubClient(port: number): Promise<void> {
  const reader = await openHubClient(port);
  const writer = await openHubClient(port);
  reader.send({ t: 'join', id: 1, room: 'lobby', since: 0 });
  await reader.next((m) => m.t === 'ack' && m.id === 1, 'join ack with history');
  writer.send({ t: 'join', id: 1, room: 'lobby' });
  await writer.next((m) => m.t === 'ack' && m.id === 1, 'join ack');
  writer.send({ t: 'pub', id: 2, room: 'lobby', ev: 'honest', data: { n: 1 } });
  await writer.next((m) => m.t === 'ack' && m.id === 2, 'pub ack');
  await reader.next((m) => m.t === 'msg' && m.ev === 'honest', 'the honest message, live');
  writer.send({ t: 'req', id: 3, ev: 'say', data: 'hi' });
  await writer.next((m) => m.t === 'ack' && m.id === 3, 'request answered');
  for (const client of [reader, writer]) if (client.errors.length > 0) fail(`an honest client got ${JSON.stringify(client.errors)}`);
  reader.close();
  writer.close();
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export interface SocketTargetOptions {
  /** Deepest nesting of the hub messages' data (see DEFAULT_HUB_DEPTH). */
  hubDepth?: number;
  /** Status lines not counted as failures (a known bug with its reproducer in findings.test.ts). */
  toleratedStatusLines?: ReadonlySet<string>;
}

export function socketTarget(kind: ServerKind, options: SocketTargetOptions = {}): FuzzTarget<ConnectionInput, ServerSession> {
  const hubDepth = options.hubDepth ?? DEFAULT_HUB_DEPTH;
  const tolerated = options.toleratedStatusLines ?? new Set<string>();
  return {
    name: `socket-${kind}`,
    concurrency: 48,
    slowInputMs: SOCKET_INPUT_SLOW_MS,
    async start(): Promise<ServerSession> {
      const session = await startServer(kind);
      // Warm up with an honest client before the baseline: code compiled and buffers allocated on first use are not growth.
      await (kind === 'echo' ? honestEcho(session.port) : honestHubClient(session.port));
      const start = await memory(session);
      session.baseline = start.rss;
      session.baselineHeap = start.heapUsed;
      return session;
    },
    generate: (rng) => generateConnection(rng, kind, hubDepth),
    async check(input, session): Promise<void> {
      assertAlive(session);
      checkAnswer(await playConnection(session, input), input, tolerated);
      assertAlive(session);
    },
    async finish(session): Promise<void> {
      try {
        // Connections closing on the server side may still be in flight.
        await new Promise((resolve) => setTimeout(resolve, 200));
        assertAlive(session);
        await (kind === 'echo' ? honestEcho(session.port) : honestHubClient(session.port));
        session.last = await memory(session);
        const { rss } = session.last;
        session.growth = rss - session.baseline;
        if (session.last.maxLoopDelayMs > MAX_LOOP_DELAY_MS) fail(`the ${kind} server's event loop was blocked for ${Math.round(session.last.maxLoopDelayMs)} ms`);
        if (rss - session.baseline > MAX_GROWTH) {
          fail(`the ${kind} server grew by ${((rss - session.baseline) / 1048576).toFixed(1)} MiB (limit ${MAX_GROWTH / 1048576} MiB)`);
        }
        assertAlive(session);
      } finally {
        session.child.kill('SIGTERM');
      }
    },
    report(session): string {
      const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
      return `server RSS ${mib(session.baseline)} MiB after warm-up, ${session.growth === undefined ? '?' : `${session.growth >= 0 ? '+' : ''}${mib(session.growth)}`} MiB after the run (limit +${mib(MAX_GROWTH)}), heap ${mib(session.baselineHeap ?? NaN)} -> ${mib(session.last?.heapUsed ?? NaN)} MiB; event loop blocked ${Math.round(session.last?.maxLoopDelayMs ?? NaN)} ms at most; ${session.last?.opened ?? '?'} connections opened${kind === 'echo' ? `, ${session.last?.messages ?? '?'} messages echoed` : ''}`;
    },
    describe(input): unknown {
      return { ...input, chunks: input.chunks.map((c) => c.toString('base64')) };
    },
  };
}
