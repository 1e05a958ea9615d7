// The layering of src/ and playground/ (.dependency-cruiser.cjs), checked by
// dependency-cruiser on every `npm test`: protocol does no Node I/O, each
// layer imports only those below it, the library never imports the CLI or an
// npm package, the browser client and the wire module import no node:
// module, the playground page imports no CLI internals.
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

const repo = cruise(repoRoot, ['src', 'playground']);

test('src/ and playground/ keep their layering', () => {
  assert.deepEqual(violationLines(repo), [], 'new import(s) across the layers: see the rules in .dependency-cruiser.cjs');
});

test('the check sees every layer', () => {
  const sources = repo.modules.map((m) => m.source);
  for (const dir of ['src/protocol/', 'src/node/', 'src/wire/', 'src/hub/', 'src/client/', 'src/cli/', 'playground/src/']) {
    assert.ok(sources.filter((s) => s.startsWith(dir)).length > 0, `no module of ${dir} was checked`);
  }
  assert.ok(repo.summary.totalCruised > 60, `only ${repo.summary.totalCruised} modules checked`);
});

test('each known exception in .dependency-cruiser.cjs is still needed (remove it once the code no longer is)', () => {
  assert.ok(
    repo.modules.some((m) => m.source.startsWith('playground/') && m.dependencies.some((d) => d.resolved === 'src/cli/playground-protocol.ts')),
    'playground/ no longer imports src/cli/playground-protocol.ts: remove the playground-no-cli-internals exception',
  );
});

test('the rules catch new violations (a scratch tree with one of each)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layering-'));
  try {
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src'] }),
      'src/protocol/io.ts': "import { Socket } from 'node:net';\nimport { EventEmitter } from 'node:events';\nimport { setTimeout } from 'node:timers';\nexport { Socket, EventEmitter, setTimeout };\n",
      'src/protocol/os.ts': "import os from 'node:os';\nimport { x } from '../node/x.js';\nexport const y = [os, x];\n",
      'src/node/x.ts': "import { z } from '../hub/z.js';\nexport const x = z;\n",
      'src/hub/z.ts': "import { c } from '../cli/c.js';\nexport const z = c;\n",
      'src/wire/w.ts': "import { createHash } from 'node:crypto';\nimport { x } from '../node/x.js';\nexport const w = [createHash, x];\n",
      'src/client/index.ts': "import { Buffer } from 'node:buffer';\nimport { w } from '../wire/w.js';\nimport { z } from '../hub/z.js';\nexport const b = [Buffer, w, z];\n",
      'src/cli/c.ts': 'export const c = 1;\n',
      'playground/src/page.ts': "import { c } from '../../src/cli/c.js';\nexport const p = c;\n",
    };
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    }
    assert.deepEqual(violationLines(cruise(dir, ['src', 'playground'])), [
      'client-imports-only-client: src/client/index.ts -> src/hub/z.ts',
      'client-no-node: src/client/index.ts -> buffer',
      'hub-imports-only-protocol-and-node: src/hub/z.ts -> src/cli/c.ts',
      'library-never-imports-cli: src/hub/z.ts -> src/cli/c.ts',
      'node-imports-only-protocol: src/node/x.ts -> src/hub/z.ts',
      'playground-no-cli-internals: playground/src/page.ts -> src/cli/c.ts',
      'protocol-imports-nothing-above: src/protocol/os.ts -> src/node/x.ts',
      'protocol-no-node-io: src/protocol/io.ts -> events',
      'protocol-no-node-io: src/protocol/io.ts -> net',
      'protocol-no-node-io: src/protocol/io.ts -> timers',
      'protocol-only-buffer-and-crypto: src/protocol/io.ts -> events',
      'protocol-only-buffer-and-crypto: src/protocol/io.ts -> net',
      'protocol-only-buffer-and-crypto: src/protocol/io.ts -> timers',
      'protocol-only-buffer-and-crypto: src/protocol/os.ts -> os',
      'wire-imports-only-wire: src/wire/w.ts -> src/node/x.ts',
      'wire-no-node: src/wire/w.ts -> crypto',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
