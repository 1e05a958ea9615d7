// What the scripts that make tables from a ../shared/perf result file share
// (shared-perf-issue17.mjs, shared-perf-targets.mjs): reading the file named
// on the command line, and the per-round statistics.
import { readFileSync } from 'node:fs';

/** The result file named by the first argument, parsed; exits 2 with a usage line when there is none. */
export function resultFileFromArgs(script) {
  const file = process.argv[2];
  if (!file || file === '--help' || file === '-h') {
    console.error(`usage: node bench/${script} <../shared/perf result .json>`);
    process.exit(2);
  }
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Whether a round's result can be compared (it ran and was not skipped). */
export const usable = (result) => result && !result.error && !result.skipped;

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
