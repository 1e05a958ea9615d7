// Runs every test file under test/ with Node's test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [substring...]  (only files whose path contains one of them)
// First it makes sure the Debian packages the selected files need are there
// (scripts/system-deps.mjs: installs what is missing, or fails saying how).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSystemPackages, packagesFor } from './system-deps.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);

function collect(dir) {
  const files = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...collect(path));
    else if (/\.test\.(ts|mjs|cjs|js)$/.test(name)) files.push(relative(root, path));
  }
  return files;
}

const files = collect(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// A whole run needs every package (.ci/run's set); a filtered one only what its files need.
if (!ensureSystemPackages(packagesFor(files, filters.length === 0))) process.exit(1);
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
