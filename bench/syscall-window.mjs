// Wraps a server command for ../shared/perf and counts, over a fixed window
// of the real scenario, what does not depend on the machine's load: system
// calls by kind (perf's syscall tracepoints on the server process), TCP
// segments and bytes on the server's sockets (`ss -ti`: segs_in, segs_out,
// bytes_received, bytes_acked), and the server's user and system CPU time.
// One JSON line per run goes to $SYSCALLS_OUT (default /tmp/syscall-window.jsonl).
// Used for issue 17's 1 KiB gap (docs/performance.md). From ../shared/perf:
//   node run.mjs --scenarios echo-1c-1k-bin sb='env TAG=sb node <repo>/bench/syscall-window.mjs node <repo>/bench/servers/switchboard.mjs' \
//     uws='env TAG=uws node <repo>/bench/syscall-window.mjs node servers/uws.mjs'
// WINDOW_START (s after READY, default 2) and WINDOW (s, default 2.5) place the window inside the scenario's.
// `node syscall-window.mjs --summary FILE CLIENT_FRAME_BYTES` prints messages per read, write and
// epoll_wait, TCP segments and CPU per message (the CPU share depends on the load; the counts hardly do).
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync } from 'node:fs';

if (process.argv[2] === '--summary') {
  summarize(process.argv[3], Number(process.argv[4]));
  process.exit(0);
}

/** Per message, from the JSON lines: messages = bytes the server received ÷ the client's frame size (1,032 for 1 KiB, 22 for 16 B). */
function summarize(file, frameBytes) {
  if (!file || !frameBytes) throw new Error('usage: node syscall-window.mjs --summary FILE CLIENT_FRAME_BYTES');
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const run = JSON.parse(line);
    const calls = run.calls;
    const messages = run.sockets.bytes_received / frameBytes;
    const sum = (...names) => names.reduce((total, name) => total + (calls[name] ?? 0), 0);
    const per = (count, digits = 3) => (count / messages).toFixed(digits);
    console.log(
      [
        run.tag.padEnd(10),
        `msg/read ${(messages / sum('read', 'readv', 'recvfrom', 'recvmsg')).toFixed(1)}`,
        `msg/write ${(messages / sum('write', 'writev', 'sendto', 'sendmsg')).toFixed(1)}`,
        `msg/epoll_wait ${(messages / sum('epoll_wait', 'epoll_pwait')).toFixed(1)}`,
        `segs in/out per msg ${per(run.sockets.segs_in)}/${per(run.sockets.segs_out)}`,
        `user/sys µs per msg ${per(run.user_s * 1e6, 2)}/${per(run.system_s * 1e6, 2)}`,
      ].join('  '),
    );
  }
}

const [command, ...args] = process.argv.slice(2);
if (!command) throw new Error('usage: node syscall-window.mjs <server command> [args...] | --summary FILE CLIENT_FRAME_BYTES');
const port = process.env.PORT;
const windowStart = Number(process.env.WINDOW_START ?? 2);
const windowLength = Number(process.env.WINDOW ?? 2.5);
const SYSCALLS = ['read', 'readv', 'recvfrom', 'recvmsg', 'write', 'writev', 'sendto', 'sendmsg', 'epoll_wait', 'epoll_pwait', 'futex', 'brk', 'mmap', 'munmap', 'madvise'];

const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
const stop = () => child.kill('SIGTERM');
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
child.on('exit', (code) => process.exit(code ?? 0));
let ready = false;
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!ready && String(chunk).includes('READY')) {
    ready = true;
    setTimeout(measure, windowStart * 1000);
  }
});

/** Sums the TCP counters of the server's connections (those whose local port is the server's). */
function socketTotals(text) {
  const totals = { connections: 0, segs_in: 0, segs_out: 0, data_segs_in: 0, data_segs_out: 0, bytes_received: 0, bytes_acked: 0 };
  for (const key of Object.keys(totals)) {
    if (key === 'connections') continue;
    for (const match of text.matchAll(new RegExp(`\\b${key}:(\\d+)`, 'g'))) totals[key] += Number(match[1]);
  }
  totals.connections = (text.match(/\bbytes_received:/g) ?? []).length;
  return totals;
}

/** User and system CPU seconds of the server process (all its threads). */
function cpuTimes(stat) {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 100;
  return { user: Number(fields[11]) / tick, system: Number(fields[12]) / tick };
}

function measure() {
  const perfOut = `/tmp/syscall-window-${process.pid}.txt`;
  const snapshots = `/tmp/syscall-window-${process.pid}`;
  const events = SYSCALLS.map((name) => `syscalls:sys_enter_${name}`).join(',');
  // perf counts the server's calls while its command runs; the command takes the socket and CPU snapshots at its
  // start and end, so all three cover the same interval.
  const snap = (n) => `ss -tinH state established '( sport = :${port} )' > ${snapshots}.ss${n}; cat /proc/${child.pid}/stat > ${snapshots}.stat${n}`;
  const script = `${snap(0)}; sleep ${windowLength}; ${snap(1)}`;
  const perf = spawn('perf', ['stat', '-x', ',', '-o', perfOut, '-e', events, '-p', String(child.pid), '--', 'sh', '-c', script], { stdio: 'ignore' });
  perf.on('exit', () => {
    const before = socketTotals(readFileSync(`${snapshots}.ss0`, 'utf8'));
    const after = socketTotals(readFileSync(`${snapshots}.ss1`, 'utf8'));
    const cpuBefore = cpuTimes(readFileSync(`${snapshots}.stat0`, 'utf8'));
    const cpuAfter = cpuTimes(readFileSync(`${snapshots}.stat1`, 'utf8'));
    const calls = {};
    for (const line of readFileSync(perfOut, 'utf8').split('\n')) {
      const [count, , event] = line.split(',');
      if (event?.startsWith('syscalls:sys_enter_') && Number(count) > 0) calls[event.slice('syscalls:sys_enter_'.length)] = Number(count);
    }
    for (const file of [perfOut, `${snapshots}.ss0`, `${snapshots}.ss1`, `${snapshots}.stat0`, `${snapshots}.stat1`]) rmSync(file, { force: true });
    const sockets = {};
    for (const key of Object.keys(after)) sockets[key] = key === 'connections' ? after[key] : after[key] - before[key];
    appendFileSync(
      process.env.SYSCALLS_OUT || '/tmp/syscall-window.jsonl',
      JSON.stringify({ tag: process.env.TAG || args.join(' '), window_s: windowLength, calls, sockets, user_s: +(cpuAfter.user - cpuBefore.user).toFixed(2), system_s: +(cpuAfter.system - cpuBefore.system).toFixed(2) }) + '\n',
    );
  });
}
