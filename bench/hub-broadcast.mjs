// Room broadcast to many clients: switchboard/hub (serialise and frame once,
// write the same bytes to every member) against a loop of `ws` sends (the
// message serialised once, framed per client by ws) over the same number of
// connections.
//
//   node bench/hub-broadcast.mjs [--clients 10000] [--messages 20] [--rounds 5] [--size 100]
//   (or: npm run bench:hub)
//
// Three processes: this one coordinates; the server and the clients each run
// in their own process (each holds one end of every connection: 10,000
// connections need 10,000 descriptors per process, under the limit of 20,000).
// A round: the server broadcasts `messages` messages to every client; it ends
// when the client process has received all clients × messages. Reported:
// deliveries per second end to end (median of the rounds), and the server's
// own time in its send loops. The machine is shared and noisy: compare the
// ratio, not the absolute numbers.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const self = fileURLToPath(import.meta.url);
const [role, ...rest] = process.argv.slice(2);

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const nextMessage = (proc, type) =>
  new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.type === type) {
        proc.off('message', onMessage);
        resolve(m);
      } else if (m.type === 'error') reject(new Error(m.message));
    };
    proc.on('message', onMessage);
  });

// ---- the server process ---------------------------------------------------------
async function server(mode) {
  const { createServer } = await import('node:http');
  const http = createServer();
  let broadcast;
  let count = () => 0;
  let state = () => ({});
  if (mode === 'hub') {
    const { Hub } = await import('switchboard/hub');
    const hub = new Hub({ server: http, path: '/hub', rateLimit: false, presence: false, heartbeat: { interval: 3_600_000, timeout: 60_000 }, history: { maxMessages: 1000 } });
    count = () => hub.clients.size;
    state = () => {
      let buffered = 0;
      for (const c of hub.clients.values()) buffered += c.ws.bufferedAmount;
      return { clients: hub.clients.size, buffered };
    };
    broadcast = (data) => hub.to('all').emit('tick', data);
  } else {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ server: http, path: '/hub', perMessageDeflate: false });
    count = () => wss.clients.size;
    state = () => {
      let buffered = 0;
      for (const c of wss.clients) buffered += c.bufferedAmount;
      return { clients: wss.clients.size, buffered };
    };
    // What a ws user writes: serialise once, send to each client.
    broadcast = (data) => {
      const text = JSON.stringify({ t: 'msg', room: 'all', ev: 'tick', data });
      for (const client of wss.clients) client.send(text);
    };
  }
  http.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: http.address().port }));
  process.on('SIGTERM', () => process.exit(0));
  process.on('message', async (m) => {
    if (m.type === 'count') process.send({ type: 'count', count: count() });
    if (m.type === 'state') process.send({ type: 'state', state: state() });
    if (m.type === 'go') {
      const text = 'x'.repeat(m.size);
      let loopMs = 0;
      for (let i = 0; i < m.messages; i++) {
        const start = performance.now();
        await broadcast({ n: i, text });
        loopMs += performance.now() - start;
        await new Promise((r) => setImmediate(r));
      }
      process.send({ type: 'sent', loopMs });
    }
  });
}

// ---- the client process ---------------------------------------------------------
async function clients(port, n, mode) {
  const { WebSocket } = await import('switchboard');
  const url = `ws://127.0.0.1:${port}/hub`;
  let received = 0;
  let target = Infinity;
  let ready = 0;
  const sockets = [];
  const closes = {};
  const onMessage = () => {
    if (++received === target) process.send({ type: 'done' });
  };
  const open = () =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ['switchboard.v1']);
      ws.on('error', reject);
      ws.on('close', (code, reason) => {
        const key = `${code} ${reason}`;
        closes[key] = (closes[key] ?? 0) + 1;
      });
      ws.on('open', () => {
        sockets.push(ws);
        if (mode !== 'hub') {
          ws.on('message', onMessage);
          ready++;
          resolve();
          return;
        }
        // Hub: hello, join; the second server message is the join's ack.
        let seen = 0;
        const handshake = () => {
          if (++seen < 2) return;
          ws.off('message', handshake);
          ws.on('message', onMessage);
          ready++;
          resolve();
        };
        ws.on('message', handshake);
        ws.send('{"t":"hello"}');
        ws.send('{"t":"join","id":1,"room":"all"}');
      });
    });
  for (let i = 0; i < n; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - i) }, open));
    if (process.env.BENCH_DEBUG) console.log('clients', ready);
  }
  process.send({ type: 'ready', ready });
  process.on('message', (m) => {
    if (m.type === 'state') process.send({ type: 'state', received, target, open: sockets.filter((ws) => ws.readyState === 1).length, closes });
    if (m.type === 'expect') {
      received = 0;
      target = m.target;
      process.send({ type: 'expecting' });
    }
    if (m.type === 'close') {
      for (const ws of sockets) ws.terminate();
      setTimeout(() => process.exit(0), 100);
    }
  });
}

// ---- the coordinator ---------------------------------------------------------------
async function main() {
  const n = arg('clients', 10_000);
  const messages = arg('messages', 20);
  const rounds = arg('rounds', 5);
  const size = arg('size', 100);
  console.log(`room broadcast: ${n} clients, ${messages} messages of ~${size + 40} bytes per round, ${rounds} rounds per side (median)`);
  // Both sides are set up at once and their rounds alternate, so that load from
  // elsewhere on the machine hits both alike.
  const sides = {};
  for (const mode of ['hub', 'ws']) {
    // BENCH_PROF=1: CPU profiles of the server processes in ./prof (for looking into the send loops).
    const srv = fork(self, ['server', mode], { stdio: 'inherit', execArgv: process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=prof'] : [] });
    const { port } = await nextMessage(srv, 'listening');
    const cli = fork(self, ['clients', String(port), String(n), mode], { stdio: 'inherit' });
    const { ready } = await nextMessage(cli, 'ready');
    srv.send({ type: 'count' });
    const { count } = await nextMessage(srv, 'count');
    if (ready !== n || count !== n) throw new Error(`${mode}: ${ready} clients ready, server counts ${count}`);
    sides[mode] = { srv, cli, rates: [], loops: [] };
    if (process.env.BENCH_DEBUG) console.log(mode, 'ready');
  }
  const round = async (side) => {
    side.cli.send({ type: 'expect', target: n * messages });
    await nextMessage(side.cli, 'expecting');
    const done = nextMessage(side.cli, 'done');
    const sent = nextMessage(side.srv, 'sent');
    const start = performance.now();
    side.srv.send({ type: 'go', messages, size });
    const stalled = setTimeout(async () => {
      side.srv.send({ type: 'state' });
      side.cli.send({ type: 'state' });
      const [s, c] = await Promise.all([nextMessage(side.srv, 'state'), nextMessage(side.cli, 'state')]);
      console.error(`stalled: server ${JSON.stringify(s.state)}, clients ${JSON.stringify(c)}`);
      process.exit(1);
    }, 120_000);
    await done;
    clearTimeout(stalled);
    const ms = performance.now() - start;
    const { loopMs } = await sent;
    return { rate: (n * messages) / (ms / 1000), loopMs };
  };
  const ratios = [];
  const loopRatios = [];
  for (let r = 0; r <= rounds; r++) {
    const order = r % 2 === 0 ? ['hub', 'ws'] : ['ws', 'hub'];
    const got = {};
    for (const mode of order) got[mode] = await round(sides[mode]);
    if (r === 0) continue; // warm-up
    for (const mode of order) {
      sides[mode].rates.push(got[mode].rate);
      sides[mode].loops.push(got[mode].loopMs);
    }
    ratios.push(got.hub.rate / got.ws.rate);
    loopRatios.push(got.ws.loopMs / got.hub.loopMs);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const mode of ['hub', 'ws']) {
    const rate = median(sides[mode].rates);
    const loop = median(sides[mode].loops);
    console.log(
      `${mode === 'hub' ? 'switchboard/hub  ' : 'ws send loop     '} ${Math.round(rate).toLocaleString('en-US')} deliveries/s end to end; ` +
        `server send loops ${loop.toFixed(1)} ms per round (${Math.round((n * messages) / (loop / 1000)).toLocaleString('en-US')} sends/s)`,
    );
  }
  console.log(`ratio hub / ws (median of paired rounds): ${median(ratios).toFixed(2)}x deliveries/s end to end, ${median(loopRatios).toFixed(2)}x in the server's send loops`);
  console.log(`  per round: ${ratios.map((x) => x.toFixed(2)).join(' ')} (end to end); ${loopRatios.map((x) => x.toFixed(2)).join(' ')} (send loops)`);
  for (const side of Object.values(sides)) {
    side.cli.send({ type: 'close' });
    side.srv.kill();
  }
}

if (role === 'server') await server(rest[0]);
else if (role === 'clients') await clients(Number(rest[0]), Number(rest[1]), rest[2]);
else await main();
