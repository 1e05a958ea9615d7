// `switchboard serve --workers N`: N processes (node:cluster) answer on one
// port; the primary prints one listening line, restarts a worker that dies
// (within a bound), and stops them all on SIGTERM. Real processes, real
// sockets on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WsClient from 'ws';
import { onceEvent } from '../helpers/async.js';
import { assertBuilt, runCli, startServe, stopAll, until } from './helpers.js';

/** Sends `text` and resolves with the echo. */
async function echoOnce(ws: WsClient, text: string): Promise<string> {
  const reply = onceEvent<[Buffer]>(ws, 'message');
  ws.send(text);
  return (await reply)[0].toString();
}

async function open(url: string): Promise<WsClient> {
  const ws = new WsClient(url);
  ws.on('error', () => {});
  await onceEvent(ws, 'open');
  return ws;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('switchboard serve --workers', { timeout: 120_000 }, () => {
  before(assertBuilt);
  after(stopAll);

  test('two workers answer on one port; one killed is replaced; SIGTERM stops them all', async () => {
    const s = await startServe(['--echo', '--workers', '2']);
    const started = async (slot: number): Promise<number> => Number((await s.child.waitForLine(new RegExp(`worker-started worker ${slot} started \\(pid (\\d+)\\)`)))[1]);
    const pids = [await started(1), await started(2)];
    assert.equal(s.child.lines.filter((l) => l.startsWith('listening on')).length, 1, s.child.describe());
    assert.notEqual(pids[0], pids[1]);

    // The cluster hands connections out round-robin: hold several open, each answered.
    const clients: WsClient[] = [];
    for (let i = 0; i < 6; i++) {
      const ws = await open(s.url);
      clients.push(ws);
      assert.equal(await echoOnce(ws, `hello ${i}`), `hello ${i}`);
    }
    // Each worker logged connections of its own (w1#N, w2#N).
    await until(() => s.child.lines.filter((l) => / connect 127\.0\.0\.1:/.test(l)).length === 6, 'six connect lines');
    const tags = new Set(s.child.lines.filter((l) => / connect /.test(l)).map((l) => / (w\d)#\d+ connect /.exec(l)?.[1]));
    assert.deepEqual([...tags].sort(), ['w1', 'w2'], s.child.describe());
    for (const ws of clients) ws.terminate();

    // kill -9 worker 1: the primary says so and starts another in its place.
    process.kill(pids[0]!, 'SIGKILL');
    await s.child.waitForLine(new RegExp(`worker-exited worker 1 \\(pid ${pids[0]}\\) exited \\(SIGKILL\\); restarting`));
    const replacement = Number((await s.child.waitForLine(new RegExp(`worker-started worker 1 started \\(pid (?!${pids[0]}\\))(\\d+)\\)`)))[1]);
    assert.notEqual(replacement, pids[0]);
    assert.ok(alive(replacement));
    // The port still answers, on either worker, as many times as asked.
    for (let i = 0; i < 4; i++) {
      const ws = await open(s.url);
      assert.equal(await echoOnce(ws, `again ${i}`), `again ${i}`);
      ws.terminate();
    }

    const exit = await s.child.stop('SIGTERM', 10_000);
    assert.deepEqual([exit.code, exit.killed], [0, false], s.child.describe());
    await until(() => !alive(pids[1]!) && !alive(replacement), 'the workers to be gone', 5000);
  });

  test('workers whose server cannot start are restarted only so often: the primary gives up and exits 1', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await runCli(['serve', '--echo', '--workers', '2', '--port', String(port), '--host', '127.0.0.1'], { timeoutMs: 60_000 });
      assert.equal(r.code, 1, r.child.describe());
      assert.match(r.stderr, /10 restarts in the last minute: giving up/);
    } finally {
      busy.close();
    }
  });

  test('--workers above 1 with --hub needs --redis (rooms would not be shared); bad counts are usage errors', async () => {
    const hub = await runCli(['serve', '--hub', '--workers', '2', '--port', '0']);
    assert.equal(hub.code, 2);
    assert.match(hub.stderr, /--workers 2 with --hub needs --redis URL: without it each worker would have rooms of its own/);
    for (const value of ['0', 'two', '-1']) {
      const bad = await runCli(['serve', '--echo', '--workers', value, '--port', '0']);
      assert.equal(bad.code, 2, value);
      assert.match(bad.stderr, /--workers/);
    }
  });
});
