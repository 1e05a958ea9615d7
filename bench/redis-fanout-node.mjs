// One node of bench/redis-fanout.mjs: an HTTP server on 127.0.0.1 with either
// socket.io + @socket.io/redis-adapter ('sio') or switchboard/hub + @switchboard/redis
// ('sb'), both on the same Redis client library (node-redis). The coordinator drives it
// over IPC: publish one message, publish at a fixed rate, read a room's member list, report
// its garbage collection time so far.
//
//   node bench/redis-fanout-node.mjs <sio|sb> <redis url>      (spawned by redis-fanout.mjs)
//
// Both stacks publish from the server side (what a backend does: `io.to(room).emit`,
// `hub.to(room).emit`), with the publish time in the payload: `{"s":seq,"t0":µs,"p":pad}`,
// t0 on the machine's monotonic clock (the same in every process of the machine).
import { createServer } from 'node:http';
import { performance, PerformanceObserver } from 'node:perf_hooks';

const [stack, redisUrl] = process.argv.slice(2);
const BROADCAST_ROOM = 'all';

// µs on CLOCK_MONOTONIC: performance.now() is per process, hrtime is machine-wide.
const clockOffset = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
const nowUs = () => Math.round(performance.now() * 1000 + clockOffset);

// Garbage collection pauses of this process, summed (the coordinator reads them around each phase).
let gcMs = 0;
let gcCount = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration;
    gcCount++;
  }
}).observe({ entryTypes: ['gc'] });

const http = createServer();
let publish; // (data) => void
let members; // (room) => Promise<number>
let connections; // () => number
let writeCounts = () => ({ writes: 0, frames: 0 }); // switchboard's coalesced writes (Hub#stats)
let close;

if (stack === 'sio') {
  const { Server } = await import('socket.io');
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const { createClient } = await import('@redis/client');
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  // The heartbeat is pushed out of the measured window on both stacks (hours), so
  // neither pays for it during the bench; the clients answer it anyway.
  const io = new Server(http, {
    transports: ['websocket'],
    serveClient: false,
    pingInterval: 3_600_000,
    pingTimeout: 60_000,
    adapter: createAdapter(pub, sub),
  });
  io.on('connection', (socket) => {
    socket.on('join', (room, ack) => {
      socket.join(room);
      if (typeof ack === 'function') ack();
    });
    socket.on('leave', (room, ack) => {
      socket.leave(room);
      if (typeof ack === 'function') ack();
    });
  });
  publish = (data) => io.to(BROADCAST_ROOM).emit('tick', data);
  // socket.io has no presence: the member list of a room across nodes is fetchSockets(),
  // a request to every node over pub/sub and their answers.
  members = async (room) => (await io.in(room).fetchSockets()).length;
  connections = () => io.engine.clientsCount;
  close = async () => {
    io.close();
    await Promise.allSettled([pub.quit(), sub.quit()]);
  };
} else {
  const { Hub } = await import('switchboard/hub');
  const { RedisAdapter } = await import('@switchboard/redis');
  const adapter = new RedisAdapter({ url: redisUrl });
  // Presence is off for the broadcast room (as docs/hub.md advises for large broadcast
  // rooms: socket.io has none), on for every other room (the presence phase).
  const hub = new Hub({
    server: http,
    path: '/hub',
    adapter,
    rateLimit: false,
    presence: (room) => room !== BROADCAST_ROOM,
    heartbeat: { interval: 3_600_000, timeout: 60_000 },
  });
  publish = (data) =>
    hub
      .to(BROADCAST_ROOM)
      .emit('tick', data)
      .catch((error) => console.error(`sb publish failed: ${error.message}`));
  members = async (room) => (await hub.presence(room)).length;
  connections = () => hub.clients.size;
  writeCounts = () => {
    const stats = hub.stats();
    return { writes: stats.coalescedWrites, frames: stats.coalescedFrames };
  };
  close = async () => {
    await hub.close?.();
    await adapter.close();
  };
}

const pad = (size) => 'x'.repeat(size);
const message = (seq, padding) => ({ s: seq, t0: nowUs(), p: padding });

// Fixed rate: message k goes out at start + k / hz (drift-free schedule); a late timer
// sends what is due at once, so a slow node shows up as latency, not as a lower rate.
function publishAtRate(first, count, hz, padding) {
  return new Promise((resolve) => {
    const start = performance.now();
    let sent = 0;
    const tick = () => {
      const due = Math.min(count, Math.floor(((performance.now() - start) * hz) / 1000) + 1);
      while (sent < due) publish(message(first + sent++, padding));
      if (sent >= count) return resolve();
      const nextAt = start + (sent * 1000) / hz;
      setTimeout(tick, Math.max(0, nextAt - performance.now()));
    };
    tick();
  });
}

process.on('message', async (m) => {
  try {
    if (m.type === 'publish') {
      publish(message(m.seq, pad(m.size)));
    } else if (m.type === 'rate') {
      await publishAtRate(m.first, m.count, m.hz, pad(m.size));
      process.send({ type: 'rate-sent' });
    } else if (m.type === 'members') {
      const times = [];
      let count = 0;
      for (let i = 0; i < m.reads; i++) {
        const t = performance.now();
        count = await members(m.room);
        times.push(performance.now() - t);
      }
      process.send({ type: 'members', count, times });
    } else if (m.type === 'gc') {
      process.send({ type: 'gc', ms: gcMs, count: gcCount, ...writeCounts() });
    } else if (m.type === 'count') {
      process.send({ type: 'count', count: connections() });
    } else if (m.type === 'close') {
      // Bounded: the process must exit normally (a --cpu-prof profile is written at exit).
      await Promise.race([close(), new Promise((r) => setTimeout(r, 1000))]);
      process.exit(0);
    }
  } catch (error) {
    process.send({ type: 'error', message: `${stack} node: ${error.stack ?? error}` });
  }
});
process.on('SIGTERM', () => process.exit(0));
http.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: http.address().port }));
