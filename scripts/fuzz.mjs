// The fuzz campaign: every target of test/fuzz/targets for 10^6 inputs in all
// (npm run fuzz). Run through tsx: `node --import tsx scripts/fuzz.mjs`.
//
//   --inputs N     total inputs, shared between the targets (default 1000000)
//   --seed S       seed (default: from the clock; printed, so a run can be repeated)
//   --target a,b   only these targets
//   --seconds T    at most T seconds per target
//   --index I      replay input I only (with the --seed and --target of a failure)
//   --hub-depth D  deepest nesting of hub message data generated (default 1000)
//
// Failures are saved to fuzz/findings/<target>-<seed>-<index>.json; the exit
// status is 1 when there is one.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runTarget } from '../test/fuzz/engine.ts';
import { DEFAULT_HUB_DEPTH, TARGETS } from '../test/fuzz/targets/index.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    target: { type: 'string' },
    seconds: { type: 'string' },
    index: { type: 'string' },
    'hub-depth': { type: 'string', default: String(DEFAULT_HUB_DEPTH) },
  },
});

const total = Number(values.inputs);
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Date.now() ^ process.pid) >>> 0;
const wanted = values.target?.split(',');
const unknown = wanted?.filter((name) => !TARGETS.some((t) => t.name === name)) ?? [];
if (unknown.length > 0 || !Number.isFinite(total) || total < 1) {
  console.error(`usage: npm run fuzz -- [--inputs N] [--seed S] [--target ${TARGETS.map((t) => t.name).join(',')}] [--seconds T] [--index I]`);
  process.exit(2);
}
const selected = TARGETS.filter((t) => !wanted || wanted.includes(t.name));
const shares = selected.reduce((sum, t) => sum + t.share, 0);

console.log(`fuzz: seed ${seed}, ${total} inputs, ${new Date().toISOString()}, node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${os.platform()} ${os.release()}`);
const rows = [];
let failed = 0;
for (const entry of selected) {
  const inputs = Math.max(1, Math.round((total * entry.share) / shares));
  const result = await runTarget(entry.make({ hubDepth: Number(values['hub-depth']) }), {
    seed,
    inputs,
    seconds: values.seconds !== undefined ? Number(values.seconds) : undefined,
    index: values.index !== undefined ? Number(values.index) : undefined,
  });
  const rate = result.inputs / result.seconds;
  rows.push({ target: entry.name, inputs: result.inputs, seconds: result.seconds.toFixed(1), 'inputs/s': Math.round(rate), failures: result.failures.length });
  console.log(`${entry.name.padEnd(13)} ${String(result.inputs).padStart(8)} inputs  ${result.seconds.toFixed(1).padStart(6)} s  ${String(Math.round(rate)).padStart(7)}/s  ${result.failures.length} failures`);
  if (result.note) console.log(`${' '.repeat(14)}${result.note}`);
  for (const failure of result.failures) {
    failed++;
    const dir = path.join(root, 'fuzz', 'findings');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${failure.target}-${failure.seed}-${failure.index}.json`);
    writeFileSync(file, `${JSON.stringify(failure, null, 2)}\n`);
    console.log(`  FAIL input ${failure.index}: ${failure.error.split('\n')[0]}`);
    console.log(`       saved to ${path.relative(root, file)}; replay: npm run fuzz -- --target ${failure.target} --seed ${failure.seed}${failure.index >= 0 ? ` --index ${failure.index}` : ''}`);
  }
}
const sum = rows.reduce((s, r) => s + r.inputs, 0);
console.log(`total: ${sum} inputs, ${failed} failures (crashes, broken invariants, unhandled rejections), seed ${seed}`);
process.exit(failed > 0 ? 1 : 0);
