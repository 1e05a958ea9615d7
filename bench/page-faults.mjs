#!/usr/bin/env node
// Counts the minor page faults an echo server takes per message (Linux only):
// a count that does not depend on the machine's load, unlike msg/s. A server
// whose every large payload lands on freshly mapped pages takes about one
// fault per 4 KiB of payload (16 for 64 KiB); one that reuses freed memory
// takes well under one. See docs/performance.md, "2026-12-06: the slow mode
// on 1,000 connections x 64 KiB".
//
//   node bench/page-faults.mjs [--connections 200] [--size 65536] [--messages 6000]
//                              [--warmup 2000] [--timeout 60] [--json] [-- server command...]
//
// The server command (default: node bench/servers/switchboard.mjs) follows
// ../shared/perf's convention: PORT and HOST from the environment, READY on
// stdout. It is run without a shell, so its pid is the process measured.
// Clients are raw TCP connections in this process, each with one masked
// binary message in flight, sent again as soon as its echo is back.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, runEchoBenchCommand, runEchoes, serverReady, stderrTail } from './lib/raw-echo.mjs';

/** Minor faults, user and system CPU seconds of one process (all its threads): /proc/PID/stat fields 10, 14, 15. */
function processCounters(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { minorFaults: Number(fields[7]), userTicks: Number(fields[11]), systemTicks: Number(fields[12]) };
}

function startServer(command, port) {
  const child = spawn(command[0], command.slice(1), {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DEFLATE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, ready: serverReady(child, 15000, stderrTail(child)) };
}

export async function measurePageFaults(options) {
  const { connections, size, messages } = options;
  const port = await freePort();
  const server = startServer(options.command, port);
  // The server goes with this process, however it ends (SIGTERM from a test's timeout included).
  const stopServer = () => server.child.kill('SIGKILL');
  process.once('exit', stopServer);
  try {
    await server.ready;
    let before = null;
    let after = null;
    await runEchoes(port, options, {
      onWarmedUp: () => (before = processCounters(server.child.pid)),
      onMeasured: () => (after = processCounters(server.child.pid)),
    });
    return {
      connections,
      size,
      messages,
      minorFaults: after.minorFaults - before.minorFaults,
      faultsPerMessage: (after.minorFaults - before.minorFaults) / messages,
      cpuTicksPerMessage: (after.userTicks + after.systemTicks - before.userTicks - before.systemTicks) / messages,
      systemShare: (after.systemTicks - before.systemTicks) / Math.max(1, after.userTicks + after.systemTicks - before.userTicks - before.systemTicks),
    };
  } finally {
    server.child.kill('SIGTERM');
    process.off('exit', stopServer);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runEchoBenchCommand(
    { connections: 200, size: 65536, messages: 6000, warmup: 2000, timeout: 60 },
    measurePageFaults,
    (result) =>
      `${result.minorFaults} minor page faults in the server, ${result.faultsPerMessage.toFixed(2)} per message ` +
      `(system time ${(result.systemShare * 100).toFixed(0)} % of its CPU)`,
  );
}
