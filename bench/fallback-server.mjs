// The server of bench/fallback.mjs: switchboard/hub ('sb': WebSocket, SSE and
// long-polling clients on the same server, one room per kind) or socket.io
// ('sio': Engine.IO long-polling only, every socket in one room), driven over IPC.
//
//   node --expose-gc bench/fallback-server.mjs sb|sio      (spawned)
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

const stack = process.argv[2];
const clockOffset = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
const nowUs = () => Math.round(performance.now() * 1000 + clockOffset);

const http = createServer();
let publish; // (room, data) => void
let connections; // () => number

if (stack === 'sio') {
  const { Server } = await import('socket.io');
  // Long-polling only (no upgrade); no ping during the run, as for the hub below.
  const io = new Server(http, { transports: ['polling'], serveClient: false, pingInterval: 3_600_000, pingTimeout: 60_000 });
  io.on('connection', (socket) => socket.join('sio'));
  publish = (room, data) => io.to(room).emit('tick', data);
  connections = () => io.engine.clientsCount;
} else {
  const { Hub } = await import('switchboard/hub');
  const hub = new Hub({
    server: http,
    path: '/hub',
    rateLimit: false,
    presence: () => false,
    heartbeat: { interval: 3_600_000, timeout: 60_000 },
    fallback: { maxSessions: 100_000 },
  });
  http.on('request', (req, res) => {
    if (!hub.handleRequest(req, res)) res.writeHead(404).end();
  });
  publish = (room, data) => hub.to(room).emit('tick', data).catch((error) => console.error(`sb publish failed: ${error.message}`));
  connections = () => hub.clients.size;
}

const pad = (size) => 'x'.repeat(size);
const message = (seq, padding) => ({ s: seq, t0: nowUs(), p: padding });

function publishAtRate(room, first, count, hz, padding) {
  return new Promise((resolve) => {
    const start = performance.now();
    let sent = 0;
    const tick = () => {
      const due = Math.min(count, Math.floor(((performance.now() - start) * hz) / 1000) + 1);
      while (sent < due) publish(room, message(first + sent++, padding));
      if (sent >= count) return resolve();
      setTimeout(tick, Math.max(0, start + (sent * 1000) / hz - performance.now()));
    };
    tick();
  });
}

function memory() {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

process.on('message', async (m) => {
  try {
    if (m.type === 'publish') publish(m.room, message(m.seq, pad(m.size)));
    else if (m.type === 'rate') {
      await publishAtRate(m.room, m.first, m.count, m.hz, pad(m.size));
      process.send({ type: 'rate-sent' });
    } else if (m.type === 'memory') {
      await new Promise((r) => setTimeout(r, 200));
      process.send({ type: 'memory', ...memory(), connections: connections() });
    } else if (m.type === 'close') process.exit(0);
  } catch (error) {
    process.send({ type: 'error', message: `${stack} server: ${error.stack ?? error}` });
  }
});
process.on('SIGTERM', () => process.exit(0));
http.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: http.address().port }));
