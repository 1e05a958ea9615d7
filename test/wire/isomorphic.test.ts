// switchboard/wire runs in a browser: it imports no Node module, and it
// compiles with the ES and DOM libraries only, so a Buffer does not compile.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function compile(project: string): { ok: boolean; output: string } {
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output: '' };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('switchboard/wire is isomorphic', { timeout: 120_000 }, () => {
  test('no source file of src/wire or src/client imports a node: module or names Buffer', () => {
    for (const dir of ['packages/switchboard/src/wire', 'packages/switchboard/src/client']) {
      for (const name of readdirSync(join(root, dir))) {
        const text = readFileSync(join(root, dir, name), 'utf8');
        assert.ok(!/from ['"]node:|require\(['"]node:|import\(['"]node:/.test(text), `${dir}/${name} imports a node: module`);
        assert.ok(!/\bBuffer\b/.test(text.replace(/\/\/.*|\/\*[\s\S]*?\*\//g, '')), `${dir}/${name} uses Buffer`);
      }
    }
  });

  test('src/wire and src/client compile with lib ES2022 + DOM and no @types (tsconfig.wire.json)', () => {
    const result = compile('packages/switchboard/tsconfig.wire.json');
    assert.ok(result.ok, result.output);
  });

  test('that configuration refuses a Buffer (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wire-check-'));
    try {
      writeFileSync(join(dir, 'uses-buffer.ts'), "export const bytes = Buffer.from('x');\n");
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: join(root, 'packages/switchboard/tsconfig.wire.json'), compilerOptions: { rootDir: dir }, include: [join(dir, '*.ts')] }));
      const result = compile(join(dir, 'tsconfig.json'));
      assert.equal(result.ok, false);
      assert.match(result.output, /Cannot find name 'Buffer'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
