#!/usr/bin/env node
// The `switchboard` command: see `switchboard --help` and the README's CLI section.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from '../dist/src/main.js';

// A reader that goes away (switchboard ... | head) ends the command quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

const playgroundDir = fileURLToPath(new URL('../dist/playground/', import.meta.url));
const code = await main(process.argv.slice(2), { version, playgroundDir });
process.exitCode = code;
// Everything is closed by now; do not let a stray handle keep the process alive.
setTimeout(() => process.exit(code), 1000).unref();
