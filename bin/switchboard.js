#!/usr/bin/env node
import { main } from '../dist/esm/cli/main.js';

const code = main(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
