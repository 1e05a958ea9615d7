// The server a socket fuzz target attacks, in its own process: a
// WebSocketServer echo ('echo') or a Hub on an http server ('hub'), both on
// 127.0.0.1, set up as the README sets them up; or ('client') WebSocket
// clients that keep connecting to a fuzzing server. It exits non-zero on any
// uncaught exception or unhandled rejection, and reports its memory on request.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from '../../packages/switchboard/src/index.js';
import { Hub } from '../../packages/switchboard/src/hub/index.js';

const kind = process.argv[2];

process.on('uncaughtException', (error) => {
  console.error(`uncaughtException: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(70);
});
process.on('unhandledRejection', (reason) => {
  console.error(`unhandledRejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
  process.exit(71);
});

/** What the child saw, so a run can show its inputs got somewhere. */
const counts = { opened: 0, messages: 0 };
// How long the event loop was ever blocked: a stall is a denial of service too.
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (message) => {
  if (message !== 'memory') return;
  gc?.();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  process.send!({ memory: { rss, heapUsed, external, arrayBuffers, ...counts, maxLoopDelayMs: loopDelay.max / 1e6 } });
});
// The parent going away ends the child too.
process.on('disconnect', () => process.exit(0));

function ready(port: number): void {
  process.send!({ port });
}

if (kind === 'echo') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, maxPayload: 1024 * 1024 });
  wss.on('connection', (ws) => {
    counts.opened++;
    ws.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      counts.messages++;
      ws.send(data, { binary: isBinary });
    });
  });
  wss.on('listening', () => ready((wss.address() as AddressInfo).port));
} else if (kind === 'hub') {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const hub = new Hub({ server, path: '/hub', history: { maxMessages: 1000, maxAge: 10 * 60_000 } });
  hub.on('connection', (client) => {
    counts.opened++;
    client.on('say', (data, reply) => reply({ echo: data }));
  });
  server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
} else if (kind === 'client') {
  // Clients that connect again and again to the fuzzing server at argv[3], which answers each with a mutated handshake and frames.
  const target = `ws://127.0.0.1:${process.argv[3]}/`;
  let stopped = false;
  const connectOne = (): void => {
    if (stopped) return;
    const ws = new WebSocket(target, Math.random() < 0.3 ? ['chat', 'superchat'] : [], {
      perMessageDeflate: Math.random() < 0.5,
      maxPayload: 1024 * 1024,
      followRedirects: Math.random() < 0.3,
      maxRedirects: 3,
      handshakeTimeout: 3000,
    });
    ws.on('error', () => {});
    ws.on('open', () => counts.opened++);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      counts.messages++;
      if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary: isBinary });
    });
    ws.on('close', () => setImmediate(connectOne));
  };
  for (let i = 0; i < 16; i++) connectOne();
  process.on('message', (message: 'stop' | { honest?: number }) => {
    if (message === 'stop') {
      stopped = true;
      return;
    }
    if (message.honest === undefined) return;
    // An honest server: the client library must still work in this process.
    const ws = new WebSocket(`ws://127.0.0.1:${message.honest}/`);
    ws.on('error', (error) => process.send!({ honest: `error ${error.message}` }));
    ws.on('open', () => ws.send('honest server'));
    ws.on('message', (data: Buffer) => {
      process.send!({ honest: String(data) });
      ws.close();
    });
  });
  ready(0);
} else {
  console.error(`unknown kind ${kind}`);
  process.exit(2);
}
