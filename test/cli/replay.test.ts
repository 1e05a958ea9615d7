// connect --record and switchboard replay: a session recorded against the
// tutorial server replays green, fails with a diff (exit 1) when the replies
// change, and --ignore lets volatile JSON fields differ.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { onceEvent } from '../helpers/async.js';
import { assertBuilt, runCli, startServe, stopAll, type Served } from './helpers.js';

const T = { timeout: 30_000 };

describe('switchboard connect --record and switchboard replay', { timeout: 120_000 }, () => {
  let dir: string;
  let tutorial: Served;
  let echo: Served;
  const servers: WebSocketServer[] = [];
  before(async () => {
    assertBuilt();
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-replay-'));
    tutorial = await startServe(['--quiet']);
    echo = await startServe(['--echo', '--quiet']);
  });
  after(async () => {
    for (const wss of servers) {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    }
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a session recorded against the tutorial server replays green, and fails with a diff against another server', T, async () => {
    const file = path.join(dir, 'tutorial.jsonl');
    const recorded = await runCli(['connect', tutorial.url, '--record', file, '-x', 'hello', '-x', 'world', '--wait', '0.3', '-H', 'X-Test: 1']);
    assert.equal(recorded.code, 0, recorded.child.describe());
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual({ ...lines[0], recorded: 'T' }, { format: 'switchboard-session', version: 1, url: tutorial.url, recorded: 'T' });
    assert.deepEqual(lines.slice(1).map((e) => [e.event, e.direction ?? null, e.opcode ?? e.code ?? null, e.data ?? null]), [
      ['handshake', null, null, null],
      ['message', 'out', 'text', 'hello'],
      ['message', 'out', 'text', 'world'],
      ['message', 'in', 'text', 'We have recieved a message: hello'],
      ['message', 'in', 'text', 'We have recieved a message: world'],
      ['close', 'out', 1000, null],
      ['close', 'in', 1000, null],
    ]);
    const handshake = lines[1] as { request: { headers: Record<string, string> }; response: { status: number; headers: Record<string, string> } };
    assert.equal(handshake.request.headers['x-test'], '1');
    assert.equal(handshake.response.status, 101);
    assert.equal(handshake.response.headers.upgrade, 'websocket');
    assert.ok(lines.slice(1).every((e) => typeof e.time === 'number'));

    const green = await runCli(['replay', file]);
    assert.equal(green.code, 0, green.child.describe());
    assert.equal(green.stdout, 'replay: ok, 2 messages sent, 2 replies matched\n');

    const red = await runCli(['replay', file, echo.url, '--fast']);
    assert.equal(red.code, 1, red.child.describe());
    assert.equal(
      red.stdout,
      `replay: mismatch at ${file}:5 (after 2 sent, 0 matched)\n` +
        '  expected: "We have recieved a message: hello"\n' +
        '  received: "hello"\n' +
        '  the data differs\n',
    );
  });

  test('--ignore drops volatile JSON fields (a name anywhere, or a path); the diff names each differing field', T, async () => {
    let n = 0;
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    servers.push(wss);
    await onceEvent(wss, 'listening');
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(JSON.stringify({ id: ++n, echo: String(data), meta: { time: Date.now() + n, server: 'a' } }))));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    const file = path.join(dir, 'json.jsonl');
    const recorded = await runCli(['connect', url, '--record', file, '-x', 'ping', '--wait', '0.3']);
    assert.equal(recorded.code, 0, recorded.child.describe());

    const strict = await runCli(['replay', file, '--fast']);
    assert.equal(strict.code, 1, strict.child.describe());
    assert.match(strict.stdout, /^ {2}\$\.id: expected 1, received 2$/m);
    assert.match(strict.stdout, /^ {2}\$\.meta\.time: expected \d+, received \d+$/m);

    const ignoring = await runCli(['replay', file, '--fast', '--ignore', 'id', '--ignore', 'meta.time']);
    assert.equal(ignoring.code, 0, ignoring.child.describe());
    assert.equal(ignoring.stdout, 'replay: ok, 1 message sent, 1 reply matched (ignoring id, meta.time)\n');
  });

  test('--fast does not wait for the recorded timing; binary messages are compared as base64', T, async () => {
    const file = path.join(dir, 'slow.jsonl');
    const events = [
      { format: 'switchboard-session', version: 1, url: echo.url, recorded: '2026-01-01T00:00:00.000Z' },
      { time: 60_000, event: 'message', direction: 'out', opcode: 'binary', data: Buffer.from([0, 0xff]).toString('base64') },
      { time: 60_001, event: 'message', direction: 'in', opcode: 'binary', data: Buffer.from([0, 0xff]).toString('base64') },
    ];
    writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n'));
    const r = await runCli(['replay', file, '--fast'], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.child.describe());
    assert.equal(r.stdout, 'replay: ok, 1 message sent, 1 reply matched\n');

    writeFileSync(path.join(dir, 'not.jsonl'), '{"hello":1}\n');
    const bad = await runCli(['replay', path.join(dir, 'not.jsonl')]);
    assert.equal(bad.code, 2, bad.child.describe());
    assert.match(bad.stderr, /^switchboard: .*not a switchboard session recording/);
  });

  test('a recorded Authorization header is sent again by replay: a server that requires it answers the replay as it did the recording', T, async () => {
    const seen: Array<string | undefined> = [];
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      verifyClient: (info, done) => {
        seen.push(info.req.headers.authorization);
        if (info.req.headers.authorization === 'Bearer t0k3n') done(true);
        else done(false, 401, 'Unauthorized');
      },
    });
    servers.push(wss);
    await onceEvent(wss, 'listening');
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`secret for ${data}`)));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    const file = path.join(dir, 'auth.jsonl');
    const recorded = await runCli(['connect', url, '--record', file, '-H', 'Authorization: Bearer t0k3n', '-x', 'me', '--wait', '0.3']);
    assert.equal(recorded.code, 0, recorded.child.describe());
    assert.equal(recorded.stdout, 'secret for me\n');

    const replayed = await runCli(['replay', file, '--fast']);
    assert.equal(replayed.code, 0, replayed.child.describe());
    assert.equal(replayed.stdout, 'replay: ok, 1 message sent, 1 reply matched\n');
    assert.deepEqual(seen, ['Bearer t0k3n', 'Bearer t0k3n'], 'the replay sent the recorded header');

    // -H on the command line overrides the recorded value: the server refuses it, and replay says so.
    const overridden = await runCli(['replay', file, '--fast', '-H', 'Authorization: Bearer wrong']);
    assert.equal(overridden.code, 1, overridden.child.describe());
    assert.match(overridden.stderr, /handshake refused: HTTP 401 Unauthorized/);
  });
});
