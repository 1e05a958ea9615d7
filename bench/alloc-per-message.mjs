#!/usr/bin/env node
// Bytes a Node echo server allocates on V8's heap per echoed message: a count that does not
// depend on the machine's load, unlike msg/s. What is allocated per message is what the young
// generation's scavenges must sweep, and a scavenge stops every connection's messages at once
// (docs/performance.md, "Allocation per message").
//
//   node bench/alloc-per-message.mjs [--connections 100] [--size 32] [--messages 200000]
//                                    [--warmup 20000] [--timeout 120] [--json] [-- server command...]
//
// The server command (default: node bench/servers/switchboard.mjs) follows ../shared/perf's
// convention (PORT and HOST from the environment, READY on stdout) and must be a Node program
// that echoes frames (not net-echo, which echoes the client's masked bytes as they are): it is
// started as `node --trace-gc-nvp <script>`, and the `allocated=` of each garbage collection
// (bytes allocated since the one before) are summed over the measured messages. Clients are raw
// TCP connections in this process, each with one masked binary message in flight.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, maskedFrame, openConnection, parseEchoArgs, replyLength, serverReady, stderrTail } from './lib/raw-echo.mjs';

const parseArgs = (argv) => parseEchoArgs(argv, { connections: 100, size: 32, messages: 200000, warmup: 20000, timeout: 120 });

export async function measureAllocation(options) {
  const { connections, size, messages, warmup } = options;
  const [node, ...script] = options.command;
  const port = await freePort();
  const child = spawn(node, ['--trace-gc-nvp', ...script], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DEFLATE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (chunk) => (log += chunk));
  const stopServer = () => child.kill('SIGKILL');
  process.once('exit', stopServer);
  try {
    await serverReady(child, 15000, stderrTail(child));
    const sockets = [];
    for (let i = 0; i < connections; i++) sockets.push(await openConnection(port));
    const frame = maskedFrame(size);
    const reply = replyLength(size);
    let sent = 0;
    let echoed = 0;
    let from = -1;
    await new Promise((resolve, reject) => {
      for (const socket of sockets) {
        let pending = 0;
        socket.on('data', (chunk) => {
          pending += chunk.length;
          while (pending >= reply) {
            pending -= reply;
            echoed++;
            // GCs logged after this point are counted: they collect what the measured messages allocated.
            if (echoed === warmup) from = log.length;
            if (echoed === warmup + messages) resolve();
            if (sent < warmup + messages) {
              sent++;
              socket.write(frame);
            }
          }
        });
        socket.on('error', reject);
        socket.on('close', () => {
          if (echoed < warmup + messages) reject(new Error('a connection closed during the run'));
        });
      }
      for (const socket of sockets) {
        sent++;
        socket.write(frame);
      }
    });
    // Whatever the last messages allocated is collected in a GC that may not have run yet: the
    // sum covers whole GC periods, so over many GCs it is within one young generation of the total.
    const measured = log.slice(from);
    for (const socket of sockets) socket.destroy();
    const allocated = [...measured.matchAll(/allocated=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    const collections = (measured.match(/gc=s /g) ?? []).length;
    return { connections, size, messages, collections, allocated, bytesPerMessage: allocated / messages };
  } finally {
    child.kill('SIGTERM');
    process.off('exit', stopServer);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const options = parseArgs(process.argv.slice(2));
  process.once('SIGTERM', () => process.exit(143));
  setTimeout(() => {
    console.error(`no result within ${options.timeout} s`);
    process.exit(1);
  }, options.timeout * 1000).unref();
  const result = await measureAllocation(options);
  if (options.json) console.log(JSON.stringify(result));
  else {
    console.log(
      `${result.connections} connections x ${result.size} B echo, ${result.messages} messages measured: ` +
        `${result.bytesPerMessage.toFixed(0)} bytes allocated per message (${result.collections} scavenges)`,
    );
  }
}
