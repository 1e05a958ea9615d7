#!/usr/bin/env node
// Counts what an echo server spends per message in a way the machine's load
// does not change: instructions executed in user space (valgrind's callgrind;
// kernel work is not in it) or system calls (strace -c), over a fixed number
// of messages after a warm-up. Use it to A/B a change on a shared machine,
// where msg/s and CPU time move by ±20 % from one minute to the next.
//
//   node bench/echo-instructions.mjs [--tool callgrind|strace] [--connections 1]
//        [--size 65536] [--inflight 8] [--messages 2000] [--warmup 1000] [--text 1 (text frames)] [--json]
//        [--keep FILE (callgrind: the main thread's profile of the window, for callgrind_annotate)]
//        [--handshakes N (count opening handshakes instead of echoes: --warmup of them, then N
//         measured, --connections at a time; every connection stays open, idle, as in conns-10k)]
//        [-- server command...]
//
// The server command (default: node bench/servers/switchboard.mjs) follows
// ../shared/perf's convention (PORT, HOST, READY on stdout); it is started
// under the tool, so `-- node ../shared/perf/servers/uws.mjs` measures
// uWebSockets.js the same way. Clients are raw TCP connections in this
// process, each keeping --inflight masked binary messages in flight.
// callgrind runs the server about 50 times slower: keep --messages small.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, maskedFrame, openConnection, parseEchoArgs, replyLength, serverReady, stderrTail } from './lib/raw-echo.mjs';

const parseArgs = (argv) =>
  parseEchoArgs(argv, { keep: null, tool: 'callgrind', connections: 1, size: 65536, inflight: 8, messages: 2000, warmup: 1000, handshakes: 0, text: 0 }, ['tool', 'keep']);

/** Opens `count` upgraded connections, `parallel` handshakes in progress at a time, into `into`. */
async function openMany(port, count, parallel, into) {
  let opened = 0;
  const worker = async () => {
    while (opened < count) {
      opened++;
      into.push(await openConnection(port));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
}

/** Sends `count` messages over the sockets (each with `inflight` in flight) and resolves when all echoes are back. */
function exchange(sockets, frame, reply, inflight, count) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let echoed = 0;
    for (const socket of sockets) {
      let pending = 0;
      const onData = (chunk) => {
        pending += chunk.length;
        while (pending >= reply) {
          pending -= reply;
          if (++echoed === count) {
            for (const s of sockets) s.removeAllListeners('data');
            resolve();
            return;
          }
          if (sent < count) {
            sent++;
            socket.write(frame);
          }
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
    }
    for (let k = 0; k < inflight; k++) {
      for (const socket of sockets) {
        if (sent < count) {
          sent++;
          socket.write(frame);
        }
      }
    }
  });
}

// vgdb, which callgrind_control talks through, names its pipes after $USER and $HOST: both sides
// must agree, and HOST is the server's listening address by the harness's convention.
const VGDB_ENV = { USER: process.env.USER || 'bench', HOST: '127.0.0.1' };

/** Zeroes (-z) or dumps (-d) the counters of a process running under callgrind; returns once it has done so. */
function callgrindControl(flag, pid) {
  const out = execFileSync('callgrind_control', [flag, String(pid)], { env: { ...process.env, ...VGDB_ENV }, encoding: 'utf8' });
  if (!/OK\./.test(out)) throw new Error(`callgrind_control ${flag} ${pid}: ${out}`);
}

function totalIr(file) {
  const text = readFileSync(file, 'utf8');
  const match = /^summary:\s+(\d+)/m.exec(text) ?? /^totals:\s+(\d+)/m.exec(text);
  if (!match) throw new Error(`no totals in ${file}`);
  return Number(match[1]);
}

export async function measureEcho(options) {
  const { tool, connections, size, inflight, messages, warmup } = options;
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'echo-instructions-'));
  const wrapper =
    tool === 'callgrind'
      ? ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${dir}/cg.%p`, '--dump-instr=no', '--separate-threads=yes']
      : ['strace', '-f', '-c', '-o', `${dir}/strace.txt`];
  const command = [...wrapper, ...options.command];
  const child = spawn(command[0], command.slice(1), {
    env: { ...process.env, ...VGDB_ENV, PORT: String(port), HOST: '127.0.0.1', DEFLATE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stopServer = () => child.kill('SIGKILL');
  process.once('exit', stopServer);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await serverReady(child, 120000, stderrTail(child));
    const sockets = [];
    const handshakes = options.handshakes;
    if (handshakes > 0) {
      await openMany(port, warmup, connections, sockets);
      if (tool === 'callgrind') callgrindControl('-z', child.pid);
      await openMany(port, handshakes, connections, sockets);
      if (tool === 'callgrind') callgrindControl('-d', child.pid);
    } else {
      for (let i = 0; i < connections; i++) sockets.push(await openConnection(port));
      const frame = maskedFrame(size, options.text > 0);
      const reply = replyLength(size);
      await exchange(sockets, frame, reply, inflight, warmup);
      if (tool === 'callgrind') callgrindControl('-z', child.pid);
      await exchange(sockets, frame, reply, inflight, messages);
      if (tool === 'callgrind') callgrindControl('-d', child.pid);
    }
    const unit = handshakes > 0 ? handshakes : messages;
    const what = handshakes > 0 ? 'Handshake' : 'Message';
    for (const socket of sockets) socket.destroy();
    if (tool === 'strace') {
      // strace does not pass SIGTERM on: the traced server gets it, and strace ends with it.
      for (const pid of execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGTERM');
    } else child.kill('SIGTERM');
    await exited;
    process.off('exit', stopServer);
    if (tool === 'callgrind') {
      // The dump after the measured window is part 1, one file per thread (cg.PID.1-01 is the main
      // thread, where the event loop runs; the others are V8's compiler and GC helpers).
      const dumps = readdirSync(dir).filter((name) => /^cg\.\d+\.1-\d+$/.test(name)).sort();
      if (dumps.length === 0) throw new Error(`no callgrind dump of the window: ${readdirSync(dir).join(', ')}`);
      let ir = 0;
      for (const name of dumps) ir += totalIr(path.join(dir, name));
      const mainIr = totalIr(path.join(dir, dumps[0]));
      if (options.keep) copyFileSync(path.join(dir, dumps[0]), options.keep);
      return {
        tool,
        connections,
        ...(handshakes > 0 ? { handshakes } : { size, inflight, messages }),
        instructions: ir,
        [`instructionsPer${what}`]: Math.round(ir / unit),
        [`mainThreadPer${what}`]: Math.round(mainIr / unit),
      };
    }
    // strace counts the whole run (handshakes and warm-up included): per message over all echoed messages.
    const text = readFileSync(`${dir}/strace.txt`, 'utf8');
    const calls = {};
    for (const line of text.split('\n')) {
      const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
      if (m && m[2] !== 'total') calls[m[2]] = Number(m[1]);
    }
    // With --handshakes: per handshake over all of them (warm-up included).
    const total = handshakes > 0 ? handshakes + warmup : messages + warmup;
    const perUnit = {};
    const names = ['read', 'readv', 'recvfrom', 'recvmsg', 'write', 'writev', 'sendto', 'sendmsg', 'epoll_wait', 'epoll_pwait', 'brk', 'mmap', 'munmap'];
    if (handshakes > 0) names.push('accept4', 'epoll_ctl', 'setsockopt', 'fcntl', 'ioctl', 'close');
    for (const name of names) {
      if (calls[name]) perUnit[name] = Number((calls[name] / total).toFixed(3));
    }
    return handshakes > 0
      ? { tool, connections, handshakes: total, syscallsPerHandshake: perUnit }
      : { tool, connections, size, inflight, messages: total, syscallsPerMessage: perUnit };
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const options = parseArgs(process.argv.slice(2));
  process.once('SIGTERM', () => process.exit(143));
  const result = await measureEcho(options);
  console.log(options.json ? JSON.stringify(result) : result);
  process.exit(0);
}
