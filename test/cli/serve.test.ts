// `switchboard serve`, run as a child process (node bin/switchboard.js over
// the build), with `ws` as the client: each mode, the event log in its three
// formats, subprotocols, TLS, --max-payload, and shutdown on SIGINT.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WsClient from 'ws';
import { onceEvent } from '../helpers/async.js';
import { MessageLog } from '../helpers/messages.js';
import { repoRoot } from '../helpers/env.js';
import { assertBuilt, cliEnv, runCli, startServe, stopAll, until, type Served } from './helpers.js';

const T = { timeout: 30_000 };
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';

async function open(url: string, protocols?: string[], options: WsClient.ClientOptions = {}): Promise<WsClient> {
  const ws = new WsClient(url, protocols, options);
  await onceEvent(ws, 'open');
  return ws;
}

async function closeClient(ws: WsClient, code = 1000, reason = ''): Promise<[number, Buffer]> {
  const closed = onceEvent<[number, Buffer]>(ws, 'close');
  ws.close(code, reason);
  return closed;
}

/** SIGTERM, and the exit must be a clean 0 (not a kill). */
async function stopServer(s: Served): Promise<void> {
  const r = await s.child.stop('SIGTERM', 5000);
  assert.equal(r.killed, false, `serve ignored SIGTERM: ${s.child.describe()}`);
  assert.equal(r.code, 0, s.child.describe());
}

describe('switchboard serve', { timeout: 180_000 }, () => {
  before(assertBuilt);
  after(stopAll);

  test('tutorial mode (the default) prints the classic tutorial lines and sends its reply', T, async () => {
    const s = await startServe([]);
    const ws = await open(s.url);
    const log = new MessageLog(ws);
    ws.send('hi');
    const [reply] = await log.next(1);
    assert.equal(reply!.data.toString(), 'We have recieved a message: hi');
    assert.equal(reply!.isBinary, false);
    await closeClient(ws);
    await until(() => s.child.lines.includes('Client has disconnected!'), 'the disconnect line');
    assert.deepEqual(s.child.lines, [
      `listening on ws://127.0.0.1:${s.port}`,
      'New Client Connected',
      'Client Has send us the data: hi',
      'Client has disconnected!',
    ]);
    await stopServer(s);
  });

  test('tutorial mode with --json prints JSON lines only, and still replies', T, async () => {
    const s = await startServe(['--tutorial', '--json']);
    const ws = await open(s.url);
    const log = new MessageLog(ws);
    ws.send('hi');
    assert.equal((await log.next(1))[0]!.data.toString(), 'We have recieved a message: hi');
    await closeClient(ws, 1000, 'bye');
    await until(() => s.child.lines.length >= 4, 'four log lines');
    const records = s.child.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(records.map((r) => r.event), ['listening', 'connect', 'message', 'close']);
    assert.equal(records[0]!.url, `ws://127.0.0.1:${s.port}`);
    assert.deepEqual({ id: records[2]!.id, type: records[2]!.type, data: records[2]!.data, size: records[2]!.size }, { id: 1, type: 'text', data: 'hi', size: 2 });
    assert.deepEqual({ id: records[3]!.id, code: records[3]!.code, reason: records[3]!.reason }, { id: 1, code: 1000, reason: 'bye' });
    await stopServer(s);
  });

  test('tutorial mode with --quiet prints only the listening line, and still replies', T, async () => {
    const s = await startServe(['--quiet']);
    const ws = await open(s.url);
    const log = new MessageLog(ws);
    ws.send('hi');
    assert.equal((await log.next(1))[0]!.data.toString(), 'We have recieved a message: hi');
    await closeClient(ws);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stopServer(s);
    assert.deepEqual(s.child.lines, [`listening on ws://127.0.0.1:${s.port}`]);
  });

  test('--echo sends text back as text and binary as binary; one human log line per event', T, async () => {
    const s = await startServe(['--echo']);
    const ws = await open(s.url);
    const log = new MessageLog(ws);
    ws.send('hello');
    ws.send(Buffer.from([0, 1, 2, 255]));
    const [text, binary] = await log.next(2);
    assert.deepEqual([text!.data.toString(), text!.isBinary], ['hello', false]);
    assert.deepEqual([binary!.data, binary!.isBinary], [Buffer.from([0, 1, 2, 255]), true]);
    await closeClient(ws, 1000, 'bye');
    await until(() => s.child.lines.length >= 5, 'five log lines');
    const [listening, connect, message1, message2, close] = s.child.lines;
    assert.equal(listening, `listening on ws://127.0.0.1:${s.port}`);
    assert.match(connect!, new RegExp(`^${ISO} #1 connect 127\\.0\\.0\\.1:\\d+ /$`));
    assert.match(message1!, new RegExp(`^${ISO} #1 message text, 5 bytes: "hello"$`));
    assert.match(message2!, new RegExp(`^${ISO} #1 message binary, 4 bytes: 00 01 02 ff$`));
    assert.match(close!, new RegExp(`^${ISO} #1 close 1000 \\(normal closure\\) "bye"$`));
    await stopServer(s);
  });

  test('--broadcast with 3 clients: the others get each message, the sender does not', T, async () => {
    const s = await startServe(['--broadcast']);
    const [a, b, c] = await Promise.all([open(s.url), open(s.url), open(s.url)]);
    const [logA, logB, logC] = [new MessageLog(a!), new MessageLog(b!), new MessageLog(c!)];
    a!.send('from a');
    assert.equal((await logB.next(1))[0]!.data.toString(), 'from a');
    assert.equal((await logC.next(1))[0]!.data.toString(), 'from a');
    // The server relays a's message to b and c before it reads c's; had it
    // sent a's message back to a, a would receive it before c's.
    c!.send(Buffer.from('from c'));
    const [firstForA] = await logA.next(1);
    assert.deepEqual([firstForA!.data.toString(), firstForA!.isBinary], ['from c', true]);
    const [, secondForB] = await logB.next(2);
    assert.equal(secondForB!.data.toString(), 'from c');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(logA.messages.length, 1, 'a received its own message');
    assert.equal(logC.messages.length, 1, 'c received its own message');
    assert.ok(s.child.lines.some((line) => /#1 message text, 6 bytes, relayed to 2 others: "from a"$/.test(line)), s.child.stdout);
    await Promise.all([closeClient(a!), closeClient(b!), closeClient(c!)]);
    await stopServer(s);
  });

  test('--json: every log line is a JSON object with time, event and connection id', T, async () => {
    const s = await startServe(['--echo', '--json', '--max-payload', '8']);
    const ws = await open(s.url);
    const log = new MessageLog(ws);
    ws.send('ok');
    await log.next(1);
    const closed = onceEvent<[number, Buffer]>(ws, 'close');
    ws.send('too long for eight');
    assert.equal((await closed)[0], 1009);
    await until(() => s.child.lines.length >= 5, 'five log lines');
    await stopServer(s);
    const records = s.child.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const r of records) assert.match(String(r.time), new RegExp(`^${ISO}$`));
    assert.deepEqual(records.map((r) => r.event), ['listening', 'connect', 'message', 'error', 'close', 'shutdown']);
    assert.equal(records[1]!.id, 1);
    assert.match(String(records[1]!.remote), /^127\.0\.0\.1:\d+$/);
    assert.equal(records[1]!.path, '/');
    assert.deepEqual({ type: records[2]!.type, data: records[2]!.data }, { type: 'text', data: 'ok' });
    assert.equal(records[3]!.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    assert.equal(records[4]!.code, 1009);
    assert.deepEqual({ signal: records[5]!.signal, connections: records[5]!.connections }, { signal: 'SIGTERM', connections: 0 });
  });

  test('--max-fragments: a message in more frames closes with 1008; the default takes 65,536 (conformance 9.3.1)', T, async () => {
    const s = await startServe(['--echo', '--max-fragments', '3']);
    const ws = await open(s.url);
    const log = new MessageLog(ws);
    for (const [part, fin] of [['a', false], ['b', false], ['c', true]] as const) ws.send(part, { fin });
    assert.equal((await log.next(1))[0]!.data.toString(), 'abc');
    const closed = onceEvent<[number, Buffer]>(ws, 'close');
    for (const [part, fin] of [['a', false], ['b', false], ['c', false], ['d', true]] as const) ws.send(part, { fin });
    assert.equal((await closed)[0], 1008);
    await stopServer(s);

    const d = await startServe(['--echo']);
    const big = await open(d.url);
    const bigLog = new MessageLog(big);
    for (let i = 0; i < 65_536; i++) big.send('x', { fin: i === 65_535 });
    assert.equal((await bigLog.next(1))[0]!.data.length, 65_536);
    await closeClient(big);
    await stopServer(d);
  });

  test('--subprotocol accepts only the listed subprotocols and picks the first one the client offers', T, async () => {
    const s = await startServe(['--echo', '--subprotocol', 'chat.v2', '--subprotocol', 'chat.v1']);
    const ws = await open(s.url, ['other', 'chat.v1', 'chat.v2']);
    assert.equal(ws.protocol, 'chat.v1');
    await closeClient(ws);
    const v2 = await open(s.url, ['chat.v2']);
    assert.equal(v2.protocol, 'chat.v2');
    await closeClient(v2);
    for (const offered of [['other'], undefined]) {
      const refused = new WsClient(s.url, offered);
      refused.on('error', () => {});
      const [, res] = await onceEvent<[unknown, import('node:http').IncomingMessage]>(refused, 'unexpected-response');
      assert.equal(res.statusCode, 400);
      res.resume();
      refused.terminate();
    }
    await until(() => s.child.lines.filter((line) => / refused 127\.0\.0\.1:\d+ 400 /.test(line)).length === 2, 'two refused lines');
    assert.ok(s.child.lines.some((line) => / #1 connect 127\.0\.0\.1:\d+ \/ \(protocol chat\.v1\)$/.test(line)), s.child.stdout);
    await stopServer(s);
  });

  test('--tls-cert/--tls-key serve wss:// (certificate made by openssl)', T, async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-cli-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
        '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      { stdio: 'ignore', timeout: 10_000 },
    );
    const s = await startServe(['--echo', '--tls-cert', cert, '--tls-key', key]);
    assert.equal(s.child.lines[0], `listening on wss://127.0.0.1:${s.port}`);
    const ws = await open(s.url, undefined, { ca: readFileSync(cert) });
    const log = new MessageLog(ws);
    ws.send('over tls');
    assert.equal((await log.next(1))[0]!.data.toString(), 'over tls');
    await closeClient(ws);
    // Without the certificate the client refuses the server.
    const untrusted = new WsClient(s.url);
    const [error] = await onceEvent<[Error & { code?: string }]>(untrusted, 'error');
    assert.match(String(error.code), /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
    await stopServer(s);
  });

  test('--max-payload: a larger message closes the connection with 1009', T, async () => {
    const s = await startServe(['--echo', '--max-payload', '16']);
    const ws = await open(s.url);
    const log = new MessageLog(ws);
    ws.send('x'.repeat(16));
    assert.equal((await log.next(1))[0]!.data.length, 16);
    const closed = onceEvent<[number, Buffer]>(ws, 'close');
    ws.send('x'.repeat(17));
    assert.equal((await closed)[0], 1009);
    await until(() => s.child.lines.some((line) => / #1 close 1009 /.test(line)), 'the close line');
    assert.ok(s.child.lines.some((line) => / #1 error WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: /.test(line)), s.child.stdout);
    await stopServer(s);
  });

  test('SIGINT closes every connection with 1001 and exits 0', T, async () => {
    const s = await startServe(['--broadcast']);
    const clients = await Promise.all([open(s.url), open(s.url)]);
    const closes = clients.map((ws) => onceEvent<[number, Buffer]>(ws, 'close', 5000));
    const exit = await s.child.stop('SIGINT', 5000);
    assert.equal(exit.killed, false, s.child.describe());
    assert.equal(exit.code, 0, s.child.describe());
    for (const [code, reason] of await Promise.all(closes)) {
      assert.equal(code, 1001);
      assert.equal(reason.toString(), 'server shutting down');
    }
    assert.ok(s.child.lines.some((line) => / - shutdown SIGINT: closing 2 connections with 1001 /.test(line)), s.child.stdout);
    assert.equal(s.child.lines.filter((line) => / close 1001 \(going away\) "server shutting down"$/.test(line)).length, 2, s.child.stdout);
  });

  test('usage errors exit 2 with a one-line reason; a port in use exits 1', T, async () => {
    for (const args of [
      ['serve', '--echo', '--broadcast'],
      ['serve', '--port', 'http'],
      ['serve', '--port', '70000'],
      ['serve', '--max-payload', 'lots'],
      ['serve', '--tls-cert', 'cert.pem'],
      ['serve', '--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem'],
      ['serve', '--quiet', '--json'],
      ['serve', '--subprotocol', 'has space'],
      ['serve', 'extra'],
      ['serve', '--bogus'],
      ['bogus'],
      [],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.child.describe()}`);
      assert.match(r.stderr, /^switchboard: |^Usage: switchboard/, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const r = await runCli(['serve', '--port', String(port), '--host', '127.0.0.1']);
      assert.equal(r.code, 1, r.child.describe());
      assert.match(r.stderr, /^switchboard: listen EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });

  test('the human log is coloured only when asked: FORCE_COLOR=1 colours it, NO_COLOR (and a pipe) does not', T, async () => {
    for (const [env, coloured] of [[{ FORCE_COLOR: '1', NO_COLOR: undefined }, true], [{ FORCE_COLOR: undefined, NO_COLOR: '1' }, false], [{ FORCE_COLOR: undefined, NO_COLOR: undefined }, false]] as const) {
      const s = await startServe(['--echo'], 10_000, cliEnv(env));
      const ws = await open(s.url);
      await closeClient(ws);
      await until(() => s.child.lines.length >= 3, 'the connect and close lines');
      await stopServer(s);
      assert.equal(s.child.lines[0], `listening on ws://127.0.0.1:${s.port}`, 'the listening line is never coloured');
      assert.equal(s.child.lines.slice(1).every((line) => line.includes('\x1b[')), coloured, `${JSON.stringify(env)}: ${s.child.stdout}`);
      assert.equal(s.child.lines.slice(1).some((line) => line.includes('\x1b[')), coloured, `${JSON.stringify(env)}: ${s.child.stdout}`);
    }
  });

  test('--version prints the package version; --help shows examples', T, async () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const v = await runCli(['--version']);
    assert.deepEqual([v.code, v.stdout], [0, `${version}\n`]);
    for (const args of [['--help'], ['serve', '--help'], ['connect', '--help'], ['help', 'connect']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /^Usage: switchboard/, args.join(' '));
      assert.match(r.stdout, /Examples:\n {2}\$ switchboard /, args.join(' '));
    }
    // Each mode has an example: the wscat and websocat ones too.
    const connectHelp = (await runCli(['connect', '--help'])).stdout;
    for (const example of ['switchboard -c localhost:8082', '-w -1', '--binary-output raw', '--proxy http://', '--record session.jsonl', '--exec "./bot.sh"', '--tcp-listen 5900', '--reconnect']) {
      assert.ok(connectHelp.includes(example), `connect --help shows ${example}`);
    }
    const serveHelp = (await runCli(['serve', '--help'])).stdout;
    for (const example of ['switchboard -l 9001', '--tcp-connect 127.0.0.1:5900', '--exec "node count-words.js"']) {
      assert.ok(serveHelp.includes(example), `serve --help shows ${example}`);
    }
  });
});
