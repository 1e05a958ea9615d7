// The server the attack tests (attacks.test.ts) run in a child process, so
// that its memory can be measured and its death seen. Usage:
//   node --expose-gc --import tsx test/node/attack-server.ts <port|server|noServer> [options as JSON]
// An echo server on 127.0.0.1 with `path: '/ws'`. Prints `listening <port>`.
// A text message "stats" is answered with JSON: the RSS after a GC, the peak RSS, and how
// every closed connection ended; a binary message starting with "B" is
// broadcast to every client; anything else is echoed.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, broadcast, type WebSocket, type WebSocketServerOptions } from '../../packages/switchboard/src/index.js';

const mode = process.argv[2] ?? 'port';
const options = JSON.parse(process.argv[3] ?? '{}') as Partial<WebSocketServerOptions>;
const closes: Array<{ code: number; error: string | null }> = [];
const B = 'B'.charCodeAt(0);

function onConnection(ws: WebSocket): void {
  let error: string | null = null;
  ws.on('error', (e: Error & { code?: string }) => (error = e.code ?? e.message));
  ws.on('close', (code: number) => closes.push({ code, error }));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary && data.length === 5 && data.toString() === 'stats') {
      (globalThis as { gc?: () => void }).gc?.();
      ws.send(JSON.stringify({ rss: process.memoryUsage().rss, hwm: peakRss(), closes }));
    } else if (isBinary && data[0] === B) {
      broadcast(wss.clients, data);
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
}

/** The process's peak RSS so far (VmHWM), where /proc tells it; else the RSS now. */
function peakRss(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'latin1'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // Not Linux.
  }
  return process.memoryUsage().rss;
}

let wss: WebSocketServer;
if (mode === 'port') {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws', ...options });
  wss.on('listening', () => console.log(`listening ${(wss.address() as AddressInfo).port}`));
} else {
  const server = http.createServer((_req, res) => res.end('not a WebSocket endpoint\n'));
  if (mode === 'server') {
    wss = new WebSocketServer({ server, path: '/ws', ...options });
  } else {
    wss = new WebSocketServer({ noServer: true, path: '/ws', ...options });
    server.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
  }
  server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
}
wss.on('connection', onConnection);
process.on('SIGTERM', () => process.exit(0));
