// Fuzz target: the WebSocket client over real sockets. Clients in a child
// process (test/fuzz/socket-child.ts 'client') keep connecting to a fuzzing
// server here, which answers each connection with a mutated 101 (or a
// redirect, or another status) and a mutated, unmasked frame stream. The
// child must stay up, grow by less than 64 MiB, and still talk to an honest
// server at the end.
import { Buffer } from 'node:buffer';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../../../packages/switchboard/src/index.js';
import type { FuzzTarget } from '../engine.js';
import { acceptFor, frameStream, token } from '../generators.js';
import { Rng, mutateBytes, randomChunks } from '../rng.js';
import { MAX_GROWTH, MAX_LOOP_DELAY_MS, SOCKET_INPUT_SLOW_MS, assertAlive, memory, startServer, withTimeout, type ServerSession } from './sockets.js';

export interface ClientInput {
  /** The answer's status line and header lines; `{accept}` and `{protocol}` are filled in from the request. */
  head: string[];
  frames: Buffer;
  /** Seed of the byte mutations applied to the answer once filled in (0: none). */
  mutationSeed: number;
  ending: 'end' | 'reset' | 'wait';
  chunkSeed: number;
}

interface ClientSession extends ServerSession {
  server: net.Server;
  incoming: net.Socket[];
  waiters: Array<{ resolve: (socket: net.Socket) => void; reject: (error: Error) => void }>;
  honest: WebSocketServer;
}

const CONNECTION_MS = 1500;

function fail(message: string): never {
  throw new Error(message);
}

const EXTENSION_ANSWERS = [
  'permessage-deflate',
  'permessage-deflate; server_no_context_takeover',
  'permessage-deflate; client_no_context_takeover; server_max_window_bits=10',
  'permessage-deflate; client_max_window_bits=9',
  'permessage-deflate; client_max_window_bits=8',
  'permessage-deflate; server_max_window_bits=16',
  'permessage-deflate; server_max_window_bits',
  'permessage-deflate, permessage-deflate',
  'permessage-deflate; foo=bar',
  'x-unknown',
  'permessage-deflate;;',
  '',
];
const REDIRECTS = ['/', '/again', 'ws://127.0.0.1:{port}/elsewhere', 'http://127.0.0.1:1/', 'ws+unix:/nonexistent.sock', 'wss://127.0.0.1:{port}/', '%%%', 'ws://[::1', ''];

function generate(rng: Rng): ClientInput {
  const head: string[] = [];
  const kind = rng.below(10);
  if (kind < 7) {
    head.push('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade');
    head.push(`Sec-WebSocket-Accept: ${rng.chance(0.95) ? '{accept}' : rng.pick(['', 'x', acceptFor(token(rng))])}`);
    if (rng.chance(0.3)) head.push(`Sec-WebSocket-Protocol: ${rng.chance(0.7) ? '{protocol}' : rng.pick(['other', '', 'chat, superchat', token(rng)])}`);
    if (rng.chance(0.3)) head.push(`Sec-WebSocket-Extensions: ${rng.pick(EXTENSION_ANSWERS)}`);
    if (rng.chance(0.1)) head.splice(rng.int(1, head.length - 1), 1);
  } else if (kind < 9) {
    const status = rng.pick([301, 302, 303, 307, 308]);
    head.push(`HTTP/1.1 ${status} Moved`, `Location: ${rng.pick(REDIRECTS)}`, 'Content-Length: 0');
  } else {
    head.push(`HTTP/1.1 ${rng.pick([200, 400, 401, 404, 426, 500, 999])} X`, `Content-Length: ${rng.int(0, 20)}`);
  }
  for (let n = rng.below(3); n > 0; n--) head.push(`X-${token(rng)}: ${token(rng, 20)}`);
  return {
    head,
    frames: kind < 7 ? frameStream(rng, { role: 'client' }) : rng.bytes(rng.size(30)),
    mutationSeed: rng.chance(0.4) ? rng.next() || 1 : 0,
    ending: rng.pick(['end', 'reset', 'wait'] as const),
    chunkSeed: rng.next(),
  };
}

function nextSocket(session: ClientSession): Promise<net.Socket> {
  const ready = session.incoming.shift();
  if (ready) return Promise.resolve(ready);
  if (session.exited) return Promise.reject(new Error(`the client process died: ${session.stderr.slice(-4000)}`));
  return withTimeout(new Promise((resolve, reject) => session.waiters.push({ resolve, reject })), 15_000, 'a connection from the fuzzed clients');
}

/** Reads the client's request head, answers it as `input` says, and resolves when the connection is over. */
function play(session: ClientSession, socket: net.Socket, input: ClientInput): Promise<void> {
  return new Promise((resolve) => {
    let request = Buffer.alloc(0);
    let answered = false;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(finish, CONNECTION_MS);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', (data: Buffer) => {
      if (answered) return;
      request = Buffer.concat([request, data]);
      if (request.length > 65536) return finish();
      const end = request.indexOf('\r\n\r\n');
      if (end === -1) return;
      answered = true;
      const text = request.toString('latin1', 0, end);
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(text)?.[1] ?? '';
      const protocol = /^sec-websocket-protocol:\s*([^,\r\n]+)/im.exec(text)?.[1]?.trim() ?? 'none';
      const port = String(session.port);
      const head = input.head.map((line) => line.replace('{accept}', acceptFor(key)).replace('{protocol}', protocol).replace('{port}', port));
      let answer: Buffer = Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), input.frames]);
      if (input.mutationSeed !== 0) answer = mutateBytes(new Rng(input.mutationSeed), answer, 3);
      const chunks = randomChunks(new Rng(input.chunkSeed), answer);
      let i = 0;
      const step = (): void => {
        if (finished || socket.destroyed) return;
        if (i >= chunks.length) {
          if (input.ending === 'end') socket.end();
          else if (input.ending === 'reset') socket.resetAndDestroy();
          return;
        }
        socket.write(chunks[i++]!);
        if (i % 3 === 0) setImmediate(step);
        else step();
      };
      step();
    });
  });
}

export const clientSocketTarget: FuzzTarget<ClientInput, ClientSession> = {
  name: 'socket-client',
  concurrency: 16,
  slowInputMs: SOCKET_INPUT_SLOW_MS,
  async start(): Promise<ClientSession> {
    const incoming: net.Socket[] = [];
    const waiters: ClientSession['waiters'] = [];
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      const waiter = waiters.shift();
      if (waiter) waiter.resolve(socket);
      else if (incoming.length < 256) incoming.push(socket);
      else socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const honest = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    honest.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    });
    await new Promise((resolve) => honest.once('listening', resolve));
    const port = (server.address() as AddressInfo).port;
    const child = await startServer('client', [String(port)]);
    const session: ClientSession = { ...child, port, server, incoming, waiters, honest };
    // No more connections come from a dead child: whoever waits for one hears it at once.
    child.child.on('exit', () => {
      for (const waiter of waiters.splice(0)) waiter.reject(new Error(`the client process died: ${child.stderr.slice(-4000)}`));
    });
    // The child's fields change after this (exit, stderr): keep reading them from the child's own session.
    Object.defineProperty(session, 'exited', { get: () => child.exited });
    Object.defineProperty(session, 'stderr', { get: () => child.stderr });
    const start = await memory(session);
    session.baseline = start.rss;
    session.baselineHeap = start.heapUsed;
    return session;
  },
  generate,
  async check(input, session): Promise<void> {
    assertAlive(session);
    const socket = await nextSocket(session);
    await play(session, socket, input);
    assertAlive(session);
  },
  async finish(session): Promise<void> {
    try {
      session.child.send('stop');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assertAlive(session);
      const reply = await withTimeout(
        new Promise<string>((resolve) => {
          const onMessage = (message: { honest?: string }): void => {
            if (message.honest === undefined) return;
            session.child.off('message', onMessage);
            resolve(message.honest);
          };
          session.child.on('message', onMessage);
          session.child.send({ honest: (session.honest.address() as AddressInfo).port });
        }),
        10_000,
        'the client process to talk to an honest server',
      );
      if (reply !== 'honest server') fail(`the client process, to an honest server: ${reply}`);
      session.last = await memory(session);
      session.growth = session.last.rss - session.baseline;
      if (session.last.maxLoopDelayMs > MAX_LOOP_DELAY_MS) fail(`the client process's event loop was blocked for ${Math.round(session.last.maxLoopDelayMs)} ms`);
      if (session.growth > MAX_GROWTH) fail(`the client process grew by ${(session.growth / 1048576).toFixed(1)} MiB`);
      assertAlive(session);
    } finally {
      session.child.kill('SIGTERM');
      for (const socket of session.incoming) socket.destroy();
      session.server.close();
      await new Promise((resolve) => session.honest.close(resolve));
    }
  },
  report(session): string {
    const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
    return `client process RSS ${mib(session.baseline)} MiB at start, ${session.growth === undefined ? '?' : `${session.growth >= 0 ? '+' : ''}${mib(session.growth)}`} MiB after the run (limit +${mib(MAX_GROWTH)}), heap ${mib(session.baselineHeap ?? NaN)} -> ${mib(session.last?.heapUsed ?? NaN)} MiB; event loop blocked ${Math.round(session.last?.maxLoopDelayMs ?? NaN)} ms at most; ${session.last?.opened ?? '?'} clients opened, ${session.last?.messages ?? '?'} messages received`;
  },
  describe(input): unknown {
    return { ...input, frames: input.frames.toString('base64') };
  },
};
