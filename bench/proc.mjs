// /proc readings for the benchmark (Linux only): a process tree's CPU time and RSS,
// and per-core busy time. Used by the load generator at the edges of each window.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}

function read(path) {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

function childrenOf(pid) {
  const out = [];
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    const c = read(`/proc/${pid}/task/${tid}/children`);
    if (c) for (const s of c.trim().split(/\s+/)) if (s) out.push(Number(s));
  }
  return out;
}

/**
 * CPU seconds (utime + stime, and stime alone; /proc/PID/stat covers all threads of a
 * process) and RSS in KiB (VmRSS), summed over the process and its descendants.
 */
export function procTree(pid, depth = 0) {
  let cpuS = 0;
  let sysS = 0;
  let rssKb = 0;
  const stat = read(`/proc/${pid}/stat`);
  if (stat) {
    // Fields after the ")" that closes the command name start at field 3 (state).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    cpuS += (Number(f[11]) + Number(f[12])) / clkTck; // fields 14 (utime) and 15 (stime)
    sysS += Number(f[12]) / clkTck;
  }
  const status = read(`/proc/${pid}/status`);
  const m = status && /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (m) rssKb += Number(m[1]);
  if (depth < 4) {
    for (const child of childrenOf(pid)) {
      const t = procTree(child, depth + 1);
      cpuS += t.cpuS;
      sysS += t.sysS;
      rssKb += t.rssKb;
    }
  }
  return { cpuS, sysS, rssKb };
}

/** Busy and total jiffies of cores 0..n-1 from /proc/stat (busy excludes idle and iowait). */
export function coreTimes(n = 2) {
  const text = read('/proc/stat') || '';
  const cores = [];
  for (let i = 0; i < n; i++) {
    const m = new RegExp(`^cpu${i} (.*)$`, 'm').exec(text);
    if (!m) {
      cores.push({ busy: 0, total: 0 });
      continue;
    }
    const v = m[1].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest fields are inside user)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    cores.push({ busy: total - v[3] - v[4], total });
  }
  return cores;
}

/** Fraction of each core busy between two coreTimes() readings. */
export function coreBusy(a, b) {
  return a.map((x, i) => {
    const t = b[i].total - x.total;
    return t > 0 ? (b[i].busy - x.busy) / t : 0;
  });
}
