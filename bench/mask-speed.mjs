#!/usr/bin/env node
// Unmasking speed: switchboard's applyMask, in JavaScript (32-bit words) on an
// ordinary buffer and with WebAssembly SIMD in the buffer that connections of
// WebSocketServer({ port }) read into (simdMaskBuffer(), 64 KiB at most),
// against bufferutil's native unmask (what ws-native uses), when bufferutil
// is installed here or in ../shared/perf. Pinned to core 1 when run as
// `taskset -c 1 node bench/mask-speed.mjs`. Needs a built dist/.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { applyMask, simdMaskBuffer } from 'switchboard/protocol';

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
const simd = simdMaskBuffer();
const contenders = [['applyMask (JavaScript)', (buf) => applyMask(buf, key, 0)]];
if (simd) contenders.push(['applyMask (SIMD buffer)', (buf, size) => applyMask(simd.subarray(1, 1 + size), key, 0)]);
if (bufferutil) contenders.push(['bufferutil.unmask', (buf) => bufferutil.unmask(buf, key)]);
else console.log('(bufferutil not found: only switchboard is measured)');
for (const size of [125, 1024, 64 * 1024 - 1, 1024 * 1024]) {
  // One byte off alignment, as payloads behind a frame header usually are.
  const buf = Buffer.alloc(size + 1).subarray(1);
  const iterations = Math.max(20, Math.floor((256 << 20) / size));
  for (const [name, unmask] of contenders) {
    // The SIMD buffer holds 64 KiB: a 1 MiB payload arrives there 64 KiB at a time.
    const piece = name.includes('SIMD') ? Math.min(size, 64 * 1024 - 1) : size;
    const pieces = Math.ceil(size / piece);
    const run = () => {
      for (let p = 0; p < pieces; p++) unmask(buf, piece);
    };
    for (let i = 0; i < 500; i++) run();
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) run();
    const ns = Number(process.hrtime.bigint() - start);
    console.log(`${name.padEnd(24)} ${String(size).padStart(8)} B: ${((piece * pieces * iterations) / ns).toFixed(1)} GB/s`);
  }
}
