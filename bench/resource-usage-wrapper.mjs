// Wraps a server script for ../shared/perf: counts the messages it receives
// and appends its resource usage at exit (minor page faults, user and system
// CPU, peak RSS, faults and CPU µs per message) as one JSON line to
// $FAULTS_OUT (default /tmp/switchboard-faults.jsonl). Used for issue #17's counts
// (docs/performance.md). Usage, from ../shared/perf:
//   node run.mjs --scenarios echo-1000c-64k-bin \
//     sb='env TAG=sb FAULTS_OUT=/tmp/faults.jsonl node <repo>/bench/resource-usage-wrapper.mjs <repo>/bench/servers/switchboard.mjs'
// PREBUMP=<bytes> (with node --expose-gc) first allocates and frees one
// buffer of that size: the experiment behind src/node/malloc-reuse.ts.
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
const target = process.argv[2];
let sent = 0;
if (process.env.PREBUMP) {
  // Allocate and free one large (mmapped) buffer: glibc then raises M_MMAP_THRESHOLD to its size and M_TRIM_THRESHOLD to twice that.
  let big = Buffer.allocUnsafeSlow(Number(process.env.PREBUMP)); big[0] = 1; big = null;
  globalThis.gc?.(); await new Promise((r) => setTimeout(r, 50)); globalThis.gc?.();
}
const start = process.resourceUsage();
process.on('exit', () => {
  const u = process.resourceUsage();
  const line = { tag: process.env.TAG || target, sent, minflt: u.minorPageFault - start.minorPageFault,
    user_s: u.userCPUTime / 1e6, sys_s: u.systemCPUTime / 1e6, maxRSS_MB: u.maxRSS / 1024,
    fltPerMsg: sent ? +((u.minorPageFault - start.minorPageFault) / sent).toFixed(2) : null,
    usPerMsg: sent ? +(((u.userCPUTime + u.systemCPUTime)) / sent).toFixed(1) : null };
  appendFileSync(process.env.FAULTS_OUT || '/tmp/switchboard-faults.jsonl', JSON.stringify(line) + '\n');
});
// count messages: every 'connection' gets one more 'message' listener
const req = createRequire(pathToFileURL(target));
for (const name of ['switchboard', 'ws']) {
  try {
    const mod = await import(pathToFileURL(req.resolve(name).replace('/dist/cjs/index.cjs', '/dist/esm/index.js')).href);
    const WSS = mod.WebSocketServer || mod.default?.WebSocketServer || mod.default?.Server;
    if (WSS?.prototype?.emit) { const orig = WSS.prototype.emit; WSS.prototype.emit = function (ev, ws, ...a) { if (ev === 'connection') ws.on('message', () => { sent++; }); return orig.call(this, ev, ws, ...a); }; }
  } catch {}
}
await import(pathToFileURL(target).href);
