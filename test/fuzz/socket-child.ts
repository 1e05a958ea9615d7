// The server a socket fuzz target attacks, in its own process: a
// WebSocketServer echo ('echo') or a Hub on an http server ('hub'), both on
// 127.0.0.1, set up as the README sets them up. It exits non-zero on any
// uncaught exception or unhandled rejection, and reports its memory on request.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../../src/index.js';
import { Hub } from '../../src/hub/index.js';

const kind = process.argv[2];

process.on('uncaughtException', (error) => {
  console.error(`uncaughtException: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(70);
});
process.on('unhandledRejection', (reason) => {
  console.error(`unhandledRejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
  process.exit(71);
});

const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (message) => {
  if (message !== 'memory') return;
  gc?.();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  process.send!({ memory: { rss, heapUsed, external, arrayBuffers } });
});
// The parent going away ends the child too.
process.on('disconnect', () => process.exit(0));

function ready(port: number): void {
  process.send!({ port });
}

if (kind === 'echo') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, maxPayload: 1024 * 1024 });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  });
  wss.on('listening', () => ready((wss.address() as AddressInfo).port));
} else if (kind === 'hub') {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const hub = new Hub({ server, path: '/hub', history: { maxMessages: 1000, maxAge: 10 * 60_000 } });
  hub.on('connection', (client) => {
    client.on('say', (data, reply) => reply({ echo: data }));
  });
  server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
} else {
  console.error(`unknown kind ${kind}`);
  process.exit(2);
}
