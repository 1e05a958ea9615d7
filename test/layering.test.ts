// The layering of the workspace packages (.dependency-cruiser.cjs), checked by
// dependency-cruiser on every `npm test`: protocol does no Node I/O, each
// layer imports only those below it, the library never imports the CLI or an
// npm package, the browser client and the wire module import no node:
// module, the CLI uses only the library's entry points, the playground page
// imports no CLI internals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers/env.js';

interface Dependency {
  resolved: string;
  dependencyTypes: string[];
}
interface Cruise {
  modules: { source: string; dependencies: Dependency[] }[];
  summary: { totalCruised: number; violations: { from: string; to: string; rule: { name: string } }[] };
}

const config = path.join(repoRoot, '.dependency-cruiser.cjs');
// Its package.json "exports" hide the CLI script, so by its path in node_modules.
const depcruise = path.join(repoRoot, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

/** dependency-cruiser's JSON result for `paths`, run in `cwd` with the repository's rules. */
function cruise(cwd: string, paths: string[]): Cruise {
  const r = spawnSync(process.execPath, [depcruise, '--config', config, '--output-type', 'json', ...paths], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  assert.ok(r.stdout.trim().startsWith('{'), `dependency-cruiser gave no result (exit ${r.status}): ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout) as Cruise;
}

const violationLines = (result: Cruise): string[] => result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();

const LIB = 'packages/switchboard/src/';
const CHECKED = ['packages/switchboard/src', 'packages/cli/src', 'packages/cli/shared', 'packages/cli/playground/src', 'packages/redis/src', 'packages/metrics/src'];
const repo = cruise(repoRoot, CHECKED);

test('the packages keep their layering', () => {
  assert.deepEqual(violationLines(repo), [], 'new import(s) across the layers: see the rules in .dependency-cruiser.cjs');
});

test('the check sees every layer', () => {
  const sources = repo.modules.map((m) => m.source);
  for (const dir of [...['protocol/', 'node/', 'wire/', 'hub/', 'client/'].map((d) => LIB + d), 'packages/cli/src/', 'packages/cli/shared/', 'packages/cli/playground/src/', 'packages/redis/src/', 'packages/metrics/src/']) {
    assert.ok(sources.filter((s) => s.startsWith(dir)).length > 0, `no module of ${dir} was checked`);
  }
  assert.ok(repo.summary.totalCruised > 60, `only ${repo.summary.totalCruised} modules checked`);
});

test('the CLI reaches the library through its entry points, and the check follows them', () => {
  const cli = repo.modules.filter((m) => m.source.startsWith('packages/cli/src/'));
  assert.ok(
    cli.some((m) => m.dependencies.some((d) => d.resolved === `${LIB}index.ts`)),
    "no CLI module imports 'switchboard' as the checker sees it (tsconfig.layers.json paths)",
  );
});

test('the Redis adapter reaches the library through its entry points, and the check follows them', () => {
  const redis = repo.modules.filter((m) => m.source.startsWith('packages/redis/src/'));
  assert.ok(
    redis.some((m) => m.dependencies.some((d) => d.resolved === `${LIB}hub/index.ts`)),
    "no Redis adapter module imports 'switchboard/hub' as the checker sees it (tsconfig.layers.json paths)",
  );
});

test('the metrics package reaches the library through its entry points, and the check follows them', () => {
  const metrics = repo.modules.filter((m) => m.source.startsWith('packages/metrics/src/'));
  assert.ok(
    metrics.some((m) => m.dependencies.some((d) => d.resolved === `${LIB}index.ts`)),
    "no metrics module imports 'switchboard' as the checker sees it (tsconfig.layers.json paths)",
  );
});

test('the rules catch new violations (a scratch tree with one of each)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layering-'));
  try {
    const files: Record<string, string> = {
      'tsconfig.layers.json': JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, paths: { switchboard: [`./${LIB}index.ts`] } },
        include: ['packages'],
      }),
      [`${LIB}protocol/io.ts`]: "import { Socket } from 'node:net';\nimport { EventEmitter } from 'node:events';\nimport { setTimeout } from 'node:timers';\nexport { Socket, EventEmitter, setTimeout };\n",
      [`${LIB}protocol/os.ts`]: "import os from 'node:os';\nimport { x } from '../node/x.js';\nexport const y = [os, x];\n",
      [`${LIB}node/x.ts`]: "import { z } from '../hub/z.js';\nexport const x = z;\n",
      [`${LIB}hub/z.ts`]: "import { c } from '../../../cli/src/c.js';\nexport const z = c;\n",
      [`${LIB}wire/w.ts`]: "import { createHash } from 'node:crypto';\nimport { x } from '../node/x.js';\nexport const w = [createHash, x];\n",
      [`${LIB}client/index.ts`]: "import { Buffer } from 'node:buffer';\nimport { w } from '../wire/w.js';\nimport { z } from '../hub/z.js';\nexport const b = [Buffer, w, z];\n",
      [`${LIB}index.ts`]: 'export const api = 1;\n',
      'packages/cli/src/c.ts': "import { api } from 'switchboard';\nimport { x } from '../../switchboard/src/node/x.js';\nexport const c = [api, x];\n",
      'packages/cli/shared/contract.ts': "import { c } from '../src/c.js';\nexport const k = c;\n",
      'packages/redis/src/r.ts': "import { api } from 'switchboard';\nimport { x } from '../../switchboard/src/node/x.js';\nexport const r = [api, x];\n",
      [`${LIB}hub/adapter.ts`]: "import { r } from '../../../redis/src/r.js';\nexport const a = r;\n",
      'packages/metrics/src/m.ts': "import { api } from 'switchboard';\nimport { x } from '../../switchboard/src/node/x.js';\nexport const m = [api, x];\n",
      [`${LIB}node/diagnostics.ts`]: "import { m } from '../../../metrics/src/m.js';\nexport const d = m;\n",
      'packages/cli/playground/src/page.ts': "import { c } from '../../src/c.js';\nimport { k } from '../../shared/contract.js';\nimport { x } from '../../../switchboard/src/node/x.js';\nexport const p = [c, k, x];\n",
    };
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    }
    assert.deepEqual(violationLines(cruise(dir, CHECKED)), [
      'cli-uses-the-public-api: packages/cli/playground/src/page.ts -> packages/switchboard/src/node/x.ts',
      'cli-uses-the-public-api: packages/cli/src/c.ts -> packages/switchboard/src/node/x.ts',
      'client-imports-only-client: packages/switchboard/src/client/index.ts -> packages/switchboard/src/hub/z.ts',
      'client-no-node: packages/switchboard/src/client/index.ts -> buffer',
      'contract-stands-alone: packages/cli/shared/contract.ts -> packages/cli/src/c.ts',
      'library-never-imports-cli: packages/switchboard/src/hub/z.ts -> packages/cli/src/c.ts',
      'library-never-imports-metrics: packages/switchboard/src/node/diagnostics.ts -> packages/metrics/src/m.ts',
      'library-never-imports-redis: packages/switchboard/src/hub/adapter.ts -> packages/redis/src/r.ts',
      'metrics-uses-the-public-api: packages/metrics/src/m.ts -> packages/switchboard/src/node/x.ts',
      'node-imports-only-protocol: packages/switchboard/src/node/x.ts -> packages/switchboard/src/hub/z.ts',
      'playground-no-cli-internals: packages/cli/playground/src/page.ts -> packages/cli/src/c.ts',
      'playground-no-node-layers: packages/cli/playground/src/page.ts -> packages/switchboard/src/node/x.ts',
      'protocol-imports-nothing-above: packages/switchboard/src/protocol/os.ts -> packages/switchboard/src/node/x.ts',
      'protocol-no-node-io: packages/switchboard/src/protocol/io.ts -> events',
      'protocol-no-node-io: packages/switchboard/src/protocol/io.ts -> net',
      'protocol-no-node-io: packages/switchboard/src/protocol/io.ts -> timers',
      'protocol-only-buffer-and-crypto: packages/switchboard/src/protocol/io.ts -> events',
      'protocol-only-buffer-and-crypto: packages/switchboard/src/protocol/io.ts -> net',
      'protocol-only-buffer-and-crypto: packages/switchboard/src/protocol/io.ts -> timers',
      'protocol-only-buffer-and-crypto: packages/switchboard/src/protocol/os.ts -> os',
      'redis-uses-the-public-api: packages/redis/src/r.ts -> packages/switchboard/src/node/x.ts',
      'wire-imports-only-wire: packages/switchboard/src/wire/w.ts -> packages/switchboard/src/node/x.ts',
      'wire-no-node: packages/switchboard/src/wire/w.ts -> crypto',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
