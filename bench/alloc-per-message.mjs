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
import { freePort, runEchoBenchCommand, runEchoes, serverReady, stderrTail } from './lib/raw-echo.mjs';

export async function measureAllocation(options) {
  const { connections, size, messages } = options;
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
    let from = -1;
    let measured = '';
    await runEchoes(port, options, {
      // GCs logged after this point are counted: they collect what the measured messages allocated.
      onWarmedUp: () => (from = log.length),
      // Whatever the last messages allocated is collected in a GC that may not have run yet: the
      // sum covers whole GC periods, so over many GCs it is within one young generation of the total.
      onMeasured: () => (measured = log.slice(from)),
    });
    const allocated = [...measured.matchAll(/allocated=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    const collections = (measured.match(/gc=s /g) ?? []).length;
    return { connections, size, messages, collections, allocated, bytesPerMessage: allocated / messages };
  } finally {
    child.kill('SIGTERM');
    process.off('exit', stopServer);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runEchoBenchCommand(
    { connections: 100, size: 32, messages: 200000, warmup: 20000, timeout: 120 },
    measureAllocation,
    (result) => `${result.bytesPerMessage.toFixed(0)} bytes allocated per message (${result.collections} scavenges)`,
  );
}
