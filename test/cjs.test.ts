// The package as users load it: require('switchboard') through the built
// CommonJS entry (dist/cjs/index.cjs) and import 'switchboard' through the
// ESM build, both by package self-reference (package.json "name" + "exports").
// Needs `npm run build` (npm test runs it in pretest).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { IMPL_NAME, repoRoot } from './helpers/env.js';
import { onceEvent } from './helpers/async.js';
import { HOST } from './helpers/net.js';

// With SWITCHBOARD_TEST_AGAINST=ws the same checks run against `ws` (validates the test).
const NAME = IMPL_NAME === 'ws' ? 'ws' : 'switchboard';
const requireFromRoot = createRequire(path.join(repoRoot, 'package.json'));
const toClose: Array<() => void> = [];

function loadCjs(): any {
  if (NAME === 'switchboard') {
    const entry = path.join(repoRoot, 'packages/switchboard/dist/cjs/index.cjs');
    assert.ok(existsSync(entry), `${entry} does not exist: run \`npm run build\` first (\`npm test\` does it in pretest)`);
    assert.equal(requireFromRoot.resolve('switchboard'), entry, "require.resolve('switchboard') should give the CJS entry");
  }
  return requireFromRoot(NAME);
}

/** One echo round trip with a server and a client from the same module. */
async function roundTrip(mod: { WebSocketServer: any; WebSocket: any }): Promise<void> {
  const wss = new mod.WebSocketServer({ port: 0, host: HOST });
  toClose.push(() => wss.close());
  await onceEvent(wss, 'listening');
  wss.on('connection', (ws: any) => ws.on('message', (d: Buffer, b: boolean) => ws.send(d, { binary: b })));
  const c = new mod.WebSocket(`ws://${HOST}:${(wss.address() as AddressInfo).port}/`);
  toClose.push(() => c.terminate());
  await onceEvent(c, 'open');
  assert.equal(c.readyState, 1);
  assert.equal(c.OPEN, 1, 'readyState constants on instances');
  c.send('ping?');
  const [data, isBinary] = await onceEvent<[Buffer, boolean]>(c, 'message');
  assert.equal(String(data), 'ping?');
  assert.equal(isBinary, false);
  c.close(1000);
  await onceEvent(c, 'close');
  await new Promise((r) => wss.close(r));
}

describe(`package entry points (${NAME})`, { timeout: 30_000 }, () => {
  after(() => {
    for (const f of toClose) {
      try {
        f();
      } catch {
        /* already closed */
      }
    }
  });

  test("require('switchboard') is the WebSocket class with the rest attached, like require('ws')", () => {
    const WebSocket = loadCjs();
    assert.equal(typeof WebSocket, 'function');
    assert.equal(WebSocket.name, 'WebSocket');
    assert.equal(WebSocket.WebSocket, WebSocket, '.WebSocket is the class itself');
    assert.equal(typeof WebSocket.Server, 'function', '.Server');
    assert.equal(typeof WebSocket.WebSocketServer, 'function', '.WebSocketServer');
    assert.equal(WebSocket.Server, WebSocket.WebSocketServer, '.Server and .WebSocketServer are the same class');
    assert.equal(typeof WebSocket.createWebSocketStream, 'function', '.createWebSocketStream');
    assert.deepEqual(
      [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED],
      [0, 1, 2, 3],
      'readyState constants on the class',
    );
  });

  test('readyState constants are also on WebSocket.prototype (as in ws and browsers), not own instance fields', () => {
    const WebSocket = loadCjs();
    const p = WebSocket.prototype;
    assert.deepEqual([p.CONNECTING, p.OPEN, p.CLOSING, p.CLOSED], [0, 1, 2, 3], 'readyState constants on WebSocket.prototype');
  });

  test("require('switchboard'): new WebSocket.Server + new WebSocket round trip (CJS)", async () => {
    const WebSocket = loadCjs();
    await roundTrip({ WebSocketServer: WebSocket.Server, WebSocket });
  });

  test("import WebSocket, { WebSocketServer } from 'switchboard' (ESM self-reference)", async () => {
    // A variable specifier keeps the type checker away from dist/ (built later).
    const spec: string = NAME;
    if (NAME === 'switchboard') {
      const esmEntry = path.join(repoRoot, 'packages/switchboard/dist/esm/index.js');
      assert.ok(existsSync(esmEntry), `${esmEntry} does not exist: run \`npm run build\` first`);
      assert.equal(import.meta.resolve?.(spec), new URL(`file://${esmEntry}`).href);
    }
    const mod = await import(spec);
    const WebSocket = mod.default;
    const { WebSocketServer, createWebSocketStream } = mod;
    assert.equal(typeof WebSocket, 'function', 'default export is the WebSocket class');
    assert.equal(WebSocket, mod.WebSocket, 'default export === named WebSocket');
    assert.equal(typeof WebSocketServer, 'function');
    assert.equal(typeof createWebSocketStream, 'function');
    assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
    await roundTrip({ WebSocketServer, WebSocket });
  });
});
