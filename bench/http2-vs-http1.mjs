// WebSockets over HTTP/2 (RFC 8441) against HTTP/1.1 + TLS, for many sockets
// from one client (the case HTTP/2 exists for): setup time, server memory per
// socket, and echo throughput, side by side. The server runs in a child
// process of its own (memory is its own); rounds alternate the two
// transports, since the machine is shared and noisy: read the ratios.
//
// Usage: node scripts/build.mjs --lib && node bench/http2-vs-http1.mjs [sockets=1000] [rounds=3] [echoSeconds=3]
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import http2 from 'node:http2';

const HOST = '127.0.0.1';

if (process.argv[2] === '--server') {
  const { WebSocketServer } = await import('switchboard');
  const { key, cert } = JSON.parse(process.argv[3]);
  const server = http2.createSecureServer({ key, cert, allowHTTP1: true, settings: { initialWindowSize: 1024 * 1024 } });
  server.on('session', (s) => s.setLocalWindowSize(16 * 1024 * 1024));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  process.on('message', (m) => {
    if (m === 'memory') {
      globalThis.gc?.();
      globalThis.gc?.();
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
      process.send({ rss, heap: heapUsed + external + arrayBuffers, clients: wss.clients.size });
    }
  });
  server.listen(0, HOST, () => process.send({ port: server.address().port }));
} else {
  await main();
}

async function main() {
  const sockets = Number(process.argv[2] ?? 1000);
  const rounds = Number(process.argv[3] ?? 3);
  const echoSeconds = Number(process.argv[4] ?? 3);
  const { WebSocket } = await import('switchboard');
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-h2-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'c'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const tls = { key: readFileSync(join(dir, 'k'), 'utf8'), cert: readFileSync(join(dir, 'c'), 'utf8') };
  rmSync(dir, { recursive: true, force: true });

  const results = { h2: [], h1: [] };
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 === 0 ? ['h2', 'h1'] : ['h1', 'h2']) {
      const server = fork(fileURLToPath(import.meta.url), ['--server', JSON.stringify(tls)], { execArgv: ['--expose-gc'] });
      const { port } = await nextMessage(server);
      const before = await memory(server);
      const url = `wss://${HOST}:${port}/`;
      const started = performance.now();
      const open = [];
      // In batches of 100 in flight: the same pacing for both transports.
      for (let i = 0; i < sockets; i += 100) {
        const batch = [];
        for (let j = i; j < Math.min(sockets, i + 100); j++) batch.push(WebSocket.connect(url, { rejectUnauthorized: false, http2: kind === 'h2', perMessageDeflate: false }));
        open.push(...(await Promise.all(batch)));
      }
      const setupMs = performance.now() - started;
      const after = await memory(server);
      const payload = Buffer.alloc(1024, 1);
      let messages = 0;
      const deadline = performance.now() + echoSeconds * 1000;
      const echoStarted = performance.now();
      await Promise.all(
        open.map(
          (ws) =>
            new Promise((resolve) => {
              ws.on('message', () => {
                messages++;
                if (performance.now() < deadline) ws.send(payload);
                else resolve();
              });
              ws.send(payload);
            }),
        ),
      );
      const echoRate = messages / ((performance.now() - echoStarted) / 1000);
      for (const ws of open) ws.terminate();
      server.kill();
      const r = {
        setupMs,
        rssPerSocket: (after.rss - before.rss) / sockets,
        heapPerSocket: (after.heap - before.heap) / sockets,
        echoRate,
      };
      results[kind].push(r);
      console.log(`round ${round + 1} ${kind}: setup ${setupMs.toFixed(0)} ms, server RSS +${(r.rssPerSocket / 1024).toFixed(1)} KiB/socket, JS heap+buffers +${(r.heapPerSocket / 1024).toFixed(1)} KiB/socket, echo ${Math.round(echoRate)} msg/s (1 KiB, one in flight per socket)`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\n${sockets} sockets, ${rounds} rounds, medians (HTTP/2 ÷ HTTP/1.1 in brackets, per-round ratios min–max):`);
  for (const field of ['setupMs', 'rssPerSocket', 'heapPerSocket', 'echoRate']) {
    const ratios = results.h2.map((r, i) => r[field] / results.h1[i][field]);
    console.log(
      `  ${field}: h2 ${median(results.h2.map((r) => r[field])).toFixed(1)}, h1 ${median(results.h1.map((r) => r[field])).toFixed(1)} [${median(ratios).toFixed(2)}; ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}]`,
    );
  }
  process.exit(0);
}

function nextMessage(child) {
  return new Promise((resolve) => child.once('message', resolve));
}

async function memory(child) {
  child.send('memory');
  return nextMessage(child);
}
