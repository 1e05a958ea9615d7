// --exec bridges (serve: one program per connection; connect: the client's
// input and output) and serve --heartbeat, against real processes on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { onceEvent } from '../helpers/async.js';
import { assertBuilt, runCli, startServe, stopAll, until } from './helpers.js';

const T = { timeout: 30_000 };

/** A line program: answers "got: LINE"; "bye" exits 0, "fail" exits 3. */
const LINE_PROGRAM = `
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line === 'bye') process.exit(0);
  if (line === 'fail') process.exit(3);
  process.stdout.write('got: ' + line + '\\n');
});
`;

async function client(url: string): Promise<{ ws: WebSocket; messages: string[]; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url);
  const messages: string[] = [];
  ws.on('message', (data) => messages.push(String(data)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  ws.on('error', () => {});
  await onceEvent(ws, 'open');
  return { ws, messages, closed };
}

describe('--exec bridges and serve --heartbeat', { timeout: 120_000 }, () => {
  let dir: string;
  let program: string;
  before(() => {
    assertBuilt();
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-exec-'));
    program = path.join(dir, 'lines.cjs');
    writeFileSync(program, LINE_PROGRAM);
  });
  after(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('serve --exec: a program per connection; its exit closes with 1000 (code 0) or 1011; client data never reaches a shell', T, async () => {
    const served = await startServe(['--exec', `'${process.execPath}' '${program}'`, '--quiet']);
    const a = await client(served.url);
    const attack = `$(touch ${path.join(dir, 'pwned')}); touch ${path.join(dir, 'pwned2')} \`id\``;
    a.ws.send('hello');
    a.ws.send(attack);
    await until(() => a.messages.length === 2, 'two replies');
    assert.deepEqual(a.messages, ['got: hello', `got: ${attack}`]);
    assert.equal(existsSync(path.join(dir, 'pwned')) || existsSync(path.join(dir, 'pwned2')), false, 'nothing ran the client\'s text');
    a.ws.send('bye');
    assert.deepEqual(await a.closed, { code: 1000, reason: '' });

    const b = await client(served.url);
    b.ws.send('fail');
    assert.deepEqual(await b.closed, { code: 1011, reason: 'program exited with code 3' });
  });

  test('serve --exec --max-processes 1: a second connection gets 503 while the first program runs', T, async () => {
    const served = await startServe(['--exec', `'${process.execPath}' '${program}'`, '--max-processes', '1', '--quiet']);
    const first = await client(served.url);
    const refused = await runCli(['connect', served.url, '-x', 'hi']);
    assert.equal(refused.code, 1, refused.child.describe());
    assert.match(refused.stderr, /handshake refused: HTTP 503 Service Unavailable: 1 programs are running/);
    first.ws.close();
    await first.closed;
    // Once the first connection is gone, its slot is free again.
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) {
      const again = await runCli(['connect', served.url, '-x', 'again', '--wait', '0.3']);
      ok = again.code === 0 && again.stdout === 'got: again\n';
      if (!ok) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(ok, 'a new connection is served after the first one closed');
  });

  test('connect --exec: the program\'s stdout lines are sent, replies go to its stdin; its exit 0 closes with 1000', T, async () => {
    const echo = await startServe(['--echo', '--quiet']);
    const out = path.join(dir, 'client-out.txt');
    const script = path.join(dir, 'client.cjs');
    writeFileSync(
      script,
      `const fs = require('node:fs');
       process.stdout.write('one\\ntwo\\n');
       const seen = [];
       require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
         seen.push(l);
         if (seen.length === 2) { fs.writeFileSync(${JSON.stringify(out)}, seen.join(',')); process.exit(0); }
       });`,
    );
    const r = await runCli(['connect', echo.url, '--exec', `'${process.execPath}' '${script}'`]);
    assert.equal(r.code, 0, r.child.describe());
    assert.equal(readFileSync(out, 'utf8'), 'one,two');
    assert.equal(r.stdout, '', 'messages go to the program, not stdout');

    const failing = await runCli(['connect', echo.url, '--exec', `'${process.execPath}' -e 'process.exit(5)'`]);
    assert.equal(failing.code, 1, failing.child.describe());
    assert.equal(failing.stderr, 'switchboard: --exec: program exited with code 5\n');
  });

  test('serve --heartbeat drops a client that does not answer pings and keeps one that does', T, async () => {
    const served = await startServe(['--echo', '--heartbeat', '0.3', '--quiet']);
    const silent = new WebSocket(served.url, { autoPong: false });
    silent.on('error', () => {});
    const healthy = new WebSocket(served.url);
    const silentClosed = new Promise<number>((resolve) => silent.on('close', (code) => resolve(code)));
    await onceEvent(healthy, 'open');
    assert.equal(await silentClosed, 1006, 'terminated without a close frame');
    assert.equal(healthy.readyState, WebSocket.OPEN);
    healthy.close();
  });
});
