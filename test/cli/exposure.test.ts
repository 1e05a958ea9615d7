// The CLI as an attacker meets it: `serve` and `playground` must not be
// reachable from the network unless asked (--host), and a peer's bytes must
// never reach the operator's terminal raw (escape sequences that set the
// title, clear the screen, write the clipboard with OSC 52, C1 controls,
// bidi overrides, line breaks that forge log lines). Real child processes
// (bin/switchboard.js over dist/) and real servers on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import WsClient, { WebSocketServer } from 'ws';
import { onceEvent } from '../helpers/async.js';
import { MessageLog } from '../helpers/messages.js';
import { assertBuilt, runCli, spawnCli, startServe, stopAll, until } from './helpers.js';

const T = { timeout: 30_000 };

/** Title, clear screen, OSC 52 clipboard write, a C1 CSI, a forged log line, a bidi override. */
const EVIL = '\x1b]0;pwned\x07\x1b[2J\x1b]52;c;cHduZWQ=\x07\u009b31m\r\nNew Client Connected\u202e!';
const EVIL_SHOWN = '\\x1b]0;pwned\\x07\\x1b[2J\\x1b]52;c;cHduZWQ=\\x07\\x9b31m\\r\\nNew Client Connected\\u202e!';
/** What must never be in terminal output: C0 controls but tab and newline, DEL, C1, bidi overrides. */
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

function nonLoopbackAddress(): string | undefined {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** Resolves with the error code of a TCP connection attempt, or 'connected'. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

describe('serve and playground bind 127.0.0.1 unless --host says otherwise', { timeout: 90_000 }, () => {
  before(assertBuilt);
  after(stopAll);

  for (const [command, scheme] of [['serve', 'ws'], ['playground', 'http']] as const) {
    test(`${command} without --host listens on 127.0.0.1 only and says so`, T, async () => {
      const child = spawnCli([command, '--port', '0']);
      const first = await child.waitFor(() => child.lines[0], 'the listening line', 10_000);
      const m = new RegExp(`^listening on ${scheme}://127\\.0\\.0\\.1:(\\d+)$`).exec(first);
      assert.ok(m, `listening line: ${JSON.stringify(first)}`);
      const port = Number(m[1]);
      assert.equal(await tryConnect('127.0.0.1', port), 'connected');
      const outside = nonLoopbackAddress();
      // On a machine with a network interface, that address must not reach it.
      if (outside !== undefined) assert.notEqual(await tryConnect(outside, port), 'connected', `reachable on ${outside}:${port}`);
      await child.stop('SIGTERM', 5000);
    });
  }

  test('--host 0.0.0.0 exposes it and the line says "all interfaces" (JSON: allInterfaces)', T, async () => {
    const child = spawnCli(['serve', '--port', '0', '--host', '0.0.0.0']);
    const first = await child.waitFor(() => child.lines[0], 'the listening line', 10_000);
    const m = /^listening on ws:\/\/0\.0\.0\.0:(\d+) \(all interfaces\)$/.exec(first);
    assert.ok(m, `listening line: ${JSON.stringify(first)}`);
    assert.equal(await tryConnect('127.0.0.1', Number(m[1])), 'connected');
    await child.stop('SIGTERM', 5000);

    const json = spawnCli(['playground', '--port', '0', '--host', '0.0.0.0', '--json']);
    const record = JSON.parse(await json.waitFor(() => json.lines[0], 'the listening line', 10_000)) as { url: string; allInterfaces?: boolean };
    assert.match(record.url, /^http:\/\/0\.0\.0\.0:\d+$/);
    assert.equal(record.allInterfaces, true);
    await json.stop('SIGTERM', 5000);
  });
});

describe('serve: peer data is escaped in the log', { timeout: 90_000 }, () => {
  before(assertBuilt);
  after(stopAll);

  test('tutorial mode: escape sequences and line breaks from a client are shown escaped; the reply is unchanged', T, async () => {
    const s = await startServe([]);
    const ws = new WsClient(s.url);
    await onceEvent(ws, 'open');
    const log = new MessageLog(ws);
    ws.send(EVIL);
    const [reply] = await log.next(1);
    assert.equal(reply!.data.toString(), `We have recieved a message: ${EVIL}`);
    await until(() => s.child.lines.some((l) => l.startsWith('Client Has send us the data: ')), 'the data line');
    assert.ok(s.child.lines.includes(`Client Has send us the data: ${EVIL_SHOWN}`), s.child.describe());
    assert.equal(s.child.lines.filter((l) => l === 'New Client Connected').length, 1, 'no forged line');
    assert.doesNotMatch(s.child.stdout, RAW_CONTROL);
    ws.close();
    await s.child.stop('SIGTERM', 5000);
  });

  test('echo mode: message and close reason escaped in the human log; --json keeps the exact data with \\u escapes', T, async () => {
    const human = await startServe(['--echo']);
    const ws = new WsClient(human.url);
    await onceEvent(ws, 'open');
    ws.send(EVIL);
    ws.close(4000, '\u009b2J\x1b]0;bye\x07');
    await until(() => human.child.lines.some((l) => / close 4000/.test(l)), 'the close line');
    // Quoted as JSON strings, with \u escapes for C1 and bidi controls too.
    assert.ok(human.child.lines.some((l) => l.endsWith('message text, 61 bytes: "\\u001b]0;pwned\\u0007\\u001b[2J\\u001b]52;c;cHduZWQ=\\u0007\\u009b31m\\r\\nNew Client Connected\\u202e!"')), human.child.describe());
    assert.ok(human.child.lines.some((l) => l.endsWith('close 4000 "\\u009b2J\\u001b]0;bye\\u0007"')), human.child.describe());
    assert.doesNotMatch(human.child.stdout, RAW_CONTROL);
    await human.child.stop('SIGTERM', 5000);

    const json = await startServe(['--echo', '--json']);
    const ws2 = new WsClient(json.url);
    await onceEvent(ws2, 'open');
    ws2.send(EVIL);
    await until(() => json.child.lines.some((l) => l.includes('"event":"message"')), 'the message record');
    assert.doesNotMatch(json.child.stdout, RAW_CONTROL);
    const record = JSON.parse(json.child.lines.find((l) => l.includes('"event":"message"'))!) as { data: string };
    assert.equal(record.data, EVIL);
    ws2.close();
    await json.child.stop('SIGTERM', 5000);
  });
});

describe('connect: a server\'s bytes are escaped on the terminal and on stderr', { timeout: 90_000 }, () => {
  let wss: WebSocketServer;
  let url = '';
  let refuser: Server;
  let refuserUrl = '';

  before(async () => {
    assertBuilt();
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await onceEvent(wss, 'listening');
    url = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/`;
    wss.on('connection', (ws) => {
      ws.send(EVIL);
      ws.on('message', () => ws.close(1011, '\u009b2J\x1b]0;oops\x07'));
    });
    refuser = createServer((_req, res) => res.writeHead(404).end());
    refuser.on('upgrade', (_req, socket: net.Socket) => {
      const body = 'denied \x1b]0;pwned\x07\u009b2J';
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    refuser.listen(0, '127.0.0.1');
    await onceEvent(refuser, 'listening');
    refuserUrl = `ws://127.0.0.1:${(refuser.address() as net.AddressInfo).port}/`;
  });

  after(async () => {
    await stopAll();
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    refuser.closeAllConnections();
    refuser.close();
  });

  test('a close reason and a refusal body are escaped on stderr', T, async () => {
    const closed = await runCli(['connect', url, '-x', 'hi', '--wait', '2']);
    assert.equal(closed.code, 1);
    assert.match(closed.stderr, /closed by the server: 1011 \(internal error\) "\\u009b2J\\u001b\]0;oops\\u0007"/);
    assert.doesNotMatch(closed.stderr, RAW_CONTROL);

    const refused = await runCli(['connect', refuserUrl, '-x', 'hi']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /handshake refused: HTTP 403 Forbidden: denied \\x1b\]0;pwned\\x07\\x9b2J/);
    assert.doesNotMatch(refused.stderr, RAW_CONTROL);
  });

  test('--json: the exact text, with every control character as a \\u escape', T, async () => {
    const run = await runCli(['connect', url, '-x', 'hi', '--wait', '2', '--json']);
    assert.doesNotMatch(run.stdout, RAW_CONTROL);
    const message = run.lines.map((l) => JSON.parse(l) as { event: string; data?: string }).find((r) => r.event === 'message');
    assert.equal(message?.data, EVIL);
  });

  test('stdout a pipe: text is written as received (documented: for programs; --json or a terminal escape it)', T, async () => {
    const run = await runCli(['connect', url, '-x', 'hi', '--wait', '2']);
    assert.ok(run.stdout.startsWith(`${EVIL}\n`), JSON.stringify(run.stdout));
  });
});
