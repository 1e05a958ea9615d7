// The shipped type declarations, as a user's project sees them: small ESM and
// CommonJS consumers are compiled with tsc (strict, skipLibCheck off) against
// dist/ through node_modules/switchboard. `@internal` members are stripped
// (stripInternal), so a consumer reaching for one does not compile.
// Needs `npm run build` (npm test runs it in pretest).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from './helpers/env.js';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const ESM_CONSUMER = `
import WebSocket, { WebSocketServer, SwitchboardError, ProtocolError, WebSocketError, type WebSocketErrorCode } from 'switchboard';
import { FrameParser, encodeFrame, Opcode, HandshakeError } from 'switchboard/protocol';
import { Hub, HubError } from 'switchboard/hub';
import { HubClient } from 'switchboard/client';
import { SUBPROTOCOL, parseServerMessage, WireError } from 'switchboard/wire';

const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
wss.on('connection', (ws: WebSocket) => {
  ws.on('error', (error: Error) => {
    if (error instanceof SwitchboardError) console.log(error.code.toUpperCase());
    if (error instanceof ProtocolError) console.log(error.closeCode + 1);
  });
  ws.send('hello', (error) => {
    if (error instanceof WebSocketError) {
      const code: WebSocketErrorCode = error.code;
      console.log(code);
    }
  });
});
const parser = new FrameParser({ onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onError(e) { console.log(e.code); } }, { role: 'client' });
parser.push(encodeFrame(Buffer.from('x'), { opcode: Opcode.Text }));
const hub = new Hub();
hub.on('connection', (client) => client.on('hello', () => 'hi'));
const client = new HubClient('ws://127.0.0.1:1/hub', { WebSocket, reconnect: false });
client.on('error', (error: HubError) => console.log(error.code));
console.log(SUBPROTOCOL, parseServerMessage, WireError, HandshakeError);
`;

const CJS_CONSUMER = `
import WebSocket = require('switchboard');
const wss = new WebSocket.Server({ noServer: true });
const ws: WebSocket = new WebSocket('ws://127.0.0.1:1/');
ws.on('error', (error: Error) => console.log(error instanceof WebSocket.SwitchboardError ? error.code : error.message));
wss.close();
`;

/** A consumer that reaches for `@internal` members: it must not compile. */
const INTERNAL_CONSUMER = `
import { WebSocket, WebSocketServer } from 'switchboard';
declare const ws: WebSocket;
declare const wss: WebSocketServer;
console.log(ws._socket, ws._isServer, wss._forget);
`;

let dir = '';

function compile(files: Record<string, string>): { ok: boolean; output: string } {
  for (const name of readdirSync(dir)) if (name.endsWith('ts')) rmSync(join(dir, name));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  try {
    execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output: '' };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('the shipped .d.ts files', { timeout: 120_000 }, () => {
  before(() => {
    assert.ok(existsSync(join(repoRoot, 'packages/switchboard/dist/esm/index.d.ts')), 'dist/ is missing: run `npm run build` first (`npm test` does it in pretest)');
    dir = mkdtempSync(join(tmpdir(), 'switchboard-consumer-'));
    mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
    symlinkSync(join(repoRoot, 'packages/switchboard'), join(dir, 'node_modules/switchboard'), 'dir');
    symlinkSync(join(repoRoot, 'node_modules/@types/node'), join(dir, 'node_modules/@types/node'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
        include: ['*.ts', '*.cts'],
      }),
    );
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('an ESM consumer of every entry point compiles (strict, skipLibCheck off)', () => {
    const result = compile({ 'consumer.ts': ESM_CONSUMER });
    assert.ok(result.ok, result.output);
  });

  test("a CommonJS consumer of require('switchboard') compiles", () => {
    const result = compile({ 'consumer.cts': CJS_CONSUMER });
    assert.ok(result.ok, result.output);
  });

  test('@internal members are not in the declarations', () => {
    const result = compile({ 'internal.ts': INTERNAL_CONSUMER });
    assert.equal(result.ok, false);
    for (const name of ['_socket', '_isServer', '_forget']) assert.match(result.output, new RegExp(`Property '${name}' does not exist`));
    const declarations = readFileSync(join(repoRoot, 'packages/switchboard/dist/esm/node/websocket.d.ts'), 'utf8');
    assert.ok(!declarations.includes('@internal'), 'dist/esm/node/websocket.d.ts still has @internal members');
  });
});
