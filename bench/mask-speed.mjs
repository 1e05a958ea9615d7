#!/usr/bin/env node
// Unmasking speed: switchboard's applyMask (pure JavaScript, 32-bit words)
// against bufferutil's native unmask (what ws-native uses), when bufferutil
// is installed here or in ../shared/perf. Pinned to core 1 when run as
// `taskset -c 1 node bench/mask-speed.mjs`. Needs a built dist/.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { applyMask } from 'switchboard/protocol';

const root = fileURLToPath(new URL('..', import.meta.url));
let bufferutil = null;
for (const from of [root, `${root}../shared/perf/`]) {
  try {
    bufferutil = createRequire(from)('bufferutil');
    break;
  } catch {
    // not installed there
  }
}
const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const contenders = [['switchboard applyMask', (buf) => applyMask(buf, key, 0)]];
if (bufferutil) contenders.push(['bufferutil.unmask', (buf) => bufferutil.unmask(buf, key)]);
else console.log('(bufferutil not found: only switchboard is measured)');
for (const size of [125, 1024, 64 * 1024, 1024 * 1024]) {
  // One byte off alignment, as payloads behind a frame header usually are.
  const buf = Buffer.alloc(size + 1).subarray(1);
  const iterations = Math.max(20, Math.floor((256 << 20) / size));
  for (const [name, unmask] of contenders) {
    for (let i = 0; i < 500; i++) unmask(buf);
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) unmask(buf);
    const ns = Number(process.hrtime.bigint() - start);
    console.log(`${name.padEnd(22)} ${String(size).padStart(8)} B: ${((size * iterations) / ns).toFixed(1)} GB/s`);
  }
}
