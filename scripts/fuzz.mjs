// The fuzz campaign: every target of test/fuzz/targets for 10^6 inputs in all
// (npm run fuzz). Run through tsx: `node --import tsx scripts/fuzz.mjs`.
//
//   --inputs N     total inputs, shared between the targets (default 1000000)
//   --seed S       seed (default: from the clock; printed, so a run can be repeated)
//   --target a,b   only these targets
//   --seconds T    at most T seconds per target
//   --index I      replay input I only (with the --seed and --target of a failure)
//   --hub-depth D  deepest nesting of hub message data generated (default 1000)
//   --hang-seconds H  a target silent this long hangs (default 60)
//
// Each target runs in a worker thread watched from here: one that makes no
// progress for --hang-seconds (an input that never returns) is stopped and counted
// as a failure. Failures are saved to fuzz/findings/<target>-<seed>-<index>.json;
// the exit status is 1 when there is one.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

// The TypeScript modules are imported once tsx is registered: by --import in
// the main thread, by its API in the workers (loader hooks do not reach them).
if (!isMainThread) (await import('tsx/esm/api')).register();
const { runTarget } = await import('../test/fuzz/engine.ts');
const { DEFAULT_HUB_DEPTH, TARGETS } = await import('../test/fuzz/targets/index.ts');

/** No input, setup or final check takes this long unless something hangs (socket inputs end within seconds). */
const DEFAULT_HANG_SECONDS = 60;

if (!isMainThread) {
  const { name, options, hubDepth, progress } = workerData;
  const entry = TARGETS.find((t) => t.name === name);
  // Shared memory, not messages: a hung thread sends nothing, but what it wrote before is there to read.
  const current = new Int32Array(progress);
  const result = await runTarget(entry.make({ hubDepth }), {
    ...options,
    onInput: (index) => {
      current[0] = index;
      current[1]++;
    },
  });
  parentPort.postMessage({ result });
} else {
  await main();
}

/** Runs one target in a worker; resolves with its result, or a hang failure if it stops making progress. */
function runWatched(name, options, hubDepth, hangMs) {
  return new Promise((resolve) => {
    const started = performance.now();
    // [index of the input running now, inputs started so far]
    const progress = new SharedArrayBuffer(8);
    const current = new Int32Array(progress);
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { name, options, hubDepth, progress } });
    let lastCount = -1;
    let lastProgress = performance.now();
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      clearInterval(watchdog);
      resolve(result);
    };
    const hang = (error) => ({
      target: name,
      seed: options.seed,
      inputs: Atomics.load(current, 1),
      seconds: (performance.now() - started) / 1000,
      failures: [{ target: name, seed: options.seed, index: Atomics.load(current, 0), error }],
    });
    const watchdog = setInterval(() => {
      const count = Atomics.load(current, 1);
      if (count !== lastCount) {
        lastCount = count;
        lastProgress = performance.now();
        return;
      }
      if (performance.now() - lastProgress < hangMs) return;
      void worker.terminate();
      const what = name.startsWith('socket') ? `input ${Atomics.load(current, 0)} or one running beside it` : `input ${Atomics.load(current, 0)}`;
      finish(hang(`no progress for ${hangMs / 1000} s: ${what} hangs (or the final checks do)`));
    }, 1000);
    worker.on('message', (message) => {
      if (message.result) finish(message.result);
    });
    worker.on('error', (error) => finish(hang(`the worker failed: ${error.stack ?? error}`)));
    worker.on('exit', (code) => finish(hang(`the worker exited (${code}) without a result`)));
  });
}

async function main() {
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const { values } = parseArgs({
    options: {
      inputs: { type: 'string', default: '1000000' },
      seed: { type: 'string' },
      target: { type: 'string' },
      seconds: { type: 'string' },
      index: { type: 'string' },
      'hub-depth': { type: 'string', default: String(DEFAULT_HUB_DEPTH) },
      'hang-seconds': { type: 'string', default: String(DEFAULT_HANG_SECONDS) },
    },
  });

  const total = Number(values.inputs);
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Date.now() ^ process.pid) >>> 0;
  const wanted = values.target?.split(',');
  const unknown = wanted?.filter((name) => !TARGETS.some((t) => t.name === name)) ?? [];
  if (unknown.length > 0 || !Number.isFinite(total) || total < 1) {
    console.error(`usage: npm run fuzz -- [--inputs N] [--seed S] [--target ${TARGETS.map((t) => t.name).join(',')}] [--seconds T] [--index I] [--hub-depth D] [--hang-seconds H]`);
    process.exit(2);
  }
  const selected = TARGETS.filter((t) => !wanted || wanted.includes(t.name));
  const shares = selected.reduce((sum, t) => sum + t.share, 0);

  const cpus = os.cpus();
  console.log(`fuzz: seed ${seed}, ${total} inputs, ${new Date().toISOString()}, node ${process.version}, ${cpus[0]?.model ?? 'cpu'} x${cpus.length}, ${os.platform()} ${os.release()}`);
  let ran = 0;
  let failed = 0;
  for (const entry of selected) {
    const inputs = Math.max(1, Math.round((total * entry.share) / shares));
    const options = {
      seed,
      inputs,
      seconds: values.seconds !== undefined ? Number(values.seconds) : undefined,
      index: values.index !== undefined ? Number(values.index) : undefined,
    };
    const result = await runWatched(entry.name, options, Number(values['hub-depth']), Number(values['hang-seconds']) * 1000);
    ran += result.inputs;
    const rate = result.inputs / result.seconds;
    console.log(
      `${entry.name.padEnd(13)} ${String(result.inputs).padStart(8)} inputs  ${result.seconds.toFixed(1).padStart(6)} s  ${String(Math.round(rate)).padStart(7)}/s  ${result.failures.length} failures`,
    );
    if (result.note) console.log(`${' '.repeat(14)}${result.note}`);
    for (const failure of result.failures) {
      failed++;
      const dir = path.join(root, 'fuzz', 'findings');
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${failure.target}-${failure.seed}-${failure.index}.json`);
      writeFileSync(file, `${JSON.stringify(failure, null, 2)}\n`);
      console.log(`  FAIL input ${failure.index}: ${failure.error.split('\n')[0]}`);
      console.log(
        `       saved to ${path.relative(root, file)}; replay: npm run fuzz -- --target ${failure.target} --seed ${failure.seed}${failure.index >= 0 ? ` --index ${failure.index}` : ''}`,
      );
    }
  }
  console.log(`total: ${ran} inputs, ${failed} failures (crashes, hangs, broken invariants, unhandled rejections), seed ${seed}`);
  process.exit(failed > 0 ? 1 : 0);
}
