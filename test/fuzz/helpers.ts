// Shared by the bounded fuzz tests (not a test file): runs a target for a
// small budget with a fresh seed (or FUZZ_SEED) and fails with what to replay.
import assert from 'node:assert/strict';
import { runTarget, type FuzzTarget } from './engine.js';

export const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;

/** Runs `target` for at most `inputs` inputs or `seconds` seconds and asserts nothing failed. */
export async function fuzzBriefly(target: FuzzTarget<any, any>, inputs: number, seconds: number): Promise<number> {
  const result = await runTarget(target, { seed: SEED, inputs, seconds, maxFailures: 1 });
  const failure = result.failures[0];
  if (failure !== undefined) {
    const where = failure.index >= 0 ? `at input ${failure.index}` : 'in its setup or final checks';
    const replay = `npm run fuzz -- --target ${target.name} --seed ${SEED}${failure.index >= 0 ? ` --index ${failure.index}` : ''}`;
    assert.fail(
      `${target.name} failed ${where}, seed ${SEED} (replay: ${replay}):\n${failure.error}\n` +
        `input: ${JSON.stringify(failure.input)?.slice(0, 4000)}`,
    );
  }
  assert.ok(result.inputs > 0, 'no input ran');
  return result.inputs;
}
