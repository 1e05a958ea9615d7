// Builds dist/esm (ES modules) and dist/cjs (CommonJS) from src/ with the
// TypeScript compiler, dist/playground from playground/ with Vite, then adds the CommonJS entry that makes
// `require('switchboard')` return the WebSocket class, as `require('ws')` does.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync(join(root, 'dist'), { recursive: true, force: true });
for (const config of ['tsconfig.json', 'tsconfig.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', join(root, config)], { stdio: 'inherit', cwd: root });
}
// The browser playground (playground/, Preact, bundled by Vite) into
// dist/playground, which `switchboard serve` serves as it is: no build at run time.
const { build: vite } = await import('vite');
await vite({ configFile: join(root, 'playground/vite.config.ts') });
const cjs = join(root, 'dist/cjs');
mkdirSync(cjs, { recursive: true });
writeFileSync(join(cjs, 'package.json'), '{ "type": "commonjs" }\n');
writeFileSync(
  join(cjs, 'index.cjs'),
  `'use strict';
// require('switchboard') is the WebSocket class with everything else attached,
// so code written for require('ws') (new WebSocket.Server(...)) runs unchanged.
const api = require('./index.js');
const { WebSocket } = api;
for (const name of Object.keys(api)) {
  if (name !== 'default' && !(name in WebSocket)) WebSocket[name] = api[name];
}
module.exports = WebSocket;
`,
);
writeFileSync(
  join(cjs, 'index.d.cts'),
  `import * as api from './index.js';
declare const WebSocket: typeof api.WebSocket & Omit<typeof api, 'default'>;
// As with @types/ws, 'const ws: WebSocket' names the class's instances after 'import WebSocket = require(...)'.
type WebSocket = api.WebSocket;
export = WebSocket;
`,
);

// examples/ is its own CommonJS scope (the tutorial is a CommonJS script), so
// `require("switchboard")` there resolves through node_modules, as it would
// in a user's project: link the package into its own node_modules.
const selfLink = join(root, 'node_modules', 'switchboard');
let linked = false;
try {
  linked = lstatSync(selfLink).isSymbolicLink();
} catch {}
if (!linked && !existsSync(selfLink)) {
  mkdirSync(join(root, 'node_modules'), { recursive: true });
  symlinkSync('..', selfLink, 'dir');
}
