// `switchboard connect` in its non-interactive modes (stdin a pipe, -x,
// --echo), run as a child process against `switchboard serve` and against
// in-process `ws` servers: output, exit codes and error lines.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type ServerOptions, type WebSocket as WsSocket } from 'ws';
import { onceEvent } from '../helpers/async.js';
import { assertBuilt, runCli, startServe, stopAll, until, type Served } from './helpers.js';

const T = { timeout: 30_000 };

interface Peer {
  wss: WebSocketServer;
  url: string;
  /** What each connection received and how it was closed, in order of connection. */
  connections: Array<{ ws: WsSocket; messages: Array<{ data: string; isBinary: boolean }>; closed?: { code: number; reason: string } }>;
}

const servers: WebSocketServer[] = [];

/** An in-process ws server on 127.0.0.1, port 0, recording what its clients do. */
async function peer(options: Omit<ServerOptions, 'port' | 'host'> = {}, onConnection: (ws: WsSocket) => void = () => {}): Promise<Peer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  servers.push(wss);
  await onceEvent(wss, 'listening');
  const p: Peer = { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, connections: [] };
  wss.on('connection', (ws) => {
    const record: Peer['connections'][number] = { ws, messages: [] };
    p.connections.push(record);
    ws.on('message', (data, isBinary) => record.messages.push({ data: Buffer.from(data as Buffer).toString(isBinary ? 'hex' : 'utf8'), isBinary }));
    ws.on('close', (code, reason) => (record.closed = { code, reason: reason.toString() }));
    onConnection(ws);
  });
  return p;
}

describe('switchboard connect (pipe, -x, --echo)', { timeout: 180_000 }, () => {
  let echo: Served;
  before(async () => {
    assertBuilt();
    echo = await startServe(['--echo', '--quiet']);
  });
  after(async () => {
    for (const wss of servers) {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    }
    await stopAll();
  });

  test('stdin a pipe: each line is a message, each reply a line on stdout, exit 0', T, async () => {
    const r = await runCli(['connect', echo.url], { stdin: 'one\ntwo words\n\nthree\n' });
    assert.equal(r.code, 0, r.child.describe());
    assert.equal(r.stdout, 'one\ntwo words\n\nthree\n');
    assert.equal(r.stderr, '');
  });

  test('--binary sends lines as binary frames; binary replies are printed as hex', T, async () => {
    const r = await runCli(['connect', echo.url, '--binary'], { stdin: 'hi\nAB\n' });
    assert.equal(r.code, 0, r.child.describe());
    assert.equal(r.stdout, '6869\n4142\n');
  });

  test('stdin a pipe: the server sees the messages in order, then a clean close with 1000', T, async () => {
    const p = await peer({}, (ws) => ws.on('message', (data) => ws.send(`got ${data}`)));
    const r = await runCli(['connect', p.url], { stdin: 'a\nb\n' });
    assert.equal(r.code, 0, r.child.describe());
    assert.equal(r.stdout, 'got a\ngot b\n');
    await until(() => p.connections[0]?.closed !== undefined, 'the server to see the close');
    assert.deepEqual(p.connections[0]!.messages.map((m) => m.data), ['a', 'b']);
    assert.deepEqual(p.connections[0]!.closed, { code: 1000, reason: '' });
  });

  test('a refused handshake exits 1 with the HTTP status on stderr', T, async () => {
    const unauthorized = await peer({ verifyClient: () => false });
    const r401 = await runCli(['connect', unauthorized.url], { stdin: 'hi\n' });
    assert.equal(r401.code, 1, r401.child.describe());
    assert.equal(r401.stdout, '');
    assert.equal(r401.stderr, 'switchboard: handshake refused: HTTP 401 Unauthorized\n');

    const forbidden = await peer({ verifyClient: (_info, done) => done(false, 403) });
    const r403 = await runCli(['connect', forbidden.url, '-x', 'hi']);
    assert.equal(r403.code, 1, r403.child.describe());
    assert.equal(r403.stderr, 'switchboard: handshake refused: HTTP 403 Forbidden\n');

    // Switchboard's own server explains a wrong path in the body, which is shown.
    const withPath = await startServe(['--echo', '--path', '/chat', '--quiet']);
    const r400 = await runCli(['connect', `${withPath.url}elsewhere`, '-x', 'hi']);
    assert.equal(r400.code, 1, r400.child.describe());
    assert.equal(r400.stderr, 'switchboard: handshake refused: HTTP 400 Bad Request: No WebSocket endpoint at /elsewhere\n');
    const ok = await runCli(['connect', `${withPath.url}chat`, '-x', 'hi', '--wait', '0.2']);
    assert.deepEqual([ok.code, ok.stdout], [0, 'hi\n'], ok.child.describe());
  });

  test('nothing listening, a dropped connection, an error close code: exit 1 with one line on stderr', T, async () => {
    const closedPort = await peer();
    const url = closedPort.url;
    await new Promise<void>((resolve) => closedPort.wss.close(() => resolve()));
    const refused = await runCli(['connect', url, '-x', 'hi']);
    assert.equal(refused.code, 1, refused.child.describe());
    assert.match(refused.stderr, /^switchboard: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: connect ECONNREFUSED [\d.:]+\n$/);

    const dropper = await peer({}, (ws) => ws.on('message', () => ws.terminate()));
    const dropped = await runCli(['connect', dropper.url, '-x', 'hi']);
    assert.equal(dropped.code, 1, dropped.child.describe());
    assert.equal(dropped.stderr, 'switchboard: connection lost: closed without a close frame (1006)\n');

    const failing = await peer({}, (ws) => ws.on('message', () => ws.close(1011, 'oops')));
    // --wait: with the default of 0 for stdin, the client's own close 1000 could cross the server's 1011.
    const failed = await runCli(['connect', failing.url, '--wait', '5'], { stdin: 'hi\n' });
    assert.equal(failed.code, 1, failed.child.describe());
    assert.equal(failed.stderr, 'switchboard: closed by the server: 1011 (internal error) "oops"\n');

    // A text frame with invalid UTF-8 (C3 28), written raw: the client fails the connection with 1007.
    const corrupt = await peer({}, (ws) => ws.on('message', () => (ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0x81, 0x02, 0xc3, 0x28]))));
    const invalid = await runCli(['connect', corrupt.url, '-x', 'hi', '--wait', '5']);
    assert.equal(invalid.code, 1, invalid.child.describe());
    assert.equal(invalid.stderr, 'switchboard: protocol error: Invalid WebSocket frame: invalid UTF-8 sequence (WS_ERR_INVALID_UTF8); closed with 1007 (invalid payload data)\n');

    const leaving = await peer({}, (ws) => ws.on('message', () => ws.close(1001, 'restarting')));
    const left = await runCli(['connect', leaving.url, '-x', 'hi', '--wait', '5']);
    assert.equal(left.code, 0, `1001 is a normal end: ${left.child.describe()}`);
    assert.ok(left.ms < 4000, 'the command ends when the server closes, not after --wait');
  });

  test('bad arguments exit 2 with a one-line reason', T, async () => {
    for (const args of [
      ['connect'],
      ['connect', 'not a url'],
      ['connect', 'ftp://127.0.0.1/'],
      ['connect', echo.url, '-H', 'no colon'],
      ['connect', echo.url, '-s', 'two words'],
      ['connect', echo.url, '-s', 'dup', '-s', 'dup'],
      ['connect', echo.url, '--wait', '-2'],
      ['connect', echo.url, '--wait', 'soon'],
      ['connect', echo.url, '--ca', '/nonexistent/ca.pem'],
      ['connect', echo.url, '--bogus'],
      ['connect', echo.url, 'extra'],
    ]) {
      const r = await runCli(args, { stdin: '' });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.child.describe()}`);
      assert.match(r.stderr, /^switchboard: \S/, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
  });

  test('-x sends the messages, waits --wait seconds for replies, then closes with 1000', T, async () => {
    // Replies come 300 ms late: within the wait.
    const p = await peer({}, (ws) => ws.on('message', (data) => setTimeout(() => ws.send(`late ${data}`), 300)));
    const r = await runCli(['connect', p.url, '-x', 'first', '-x', 'second', '--wait', '1.2']);
    assert.equal(r.code, 0, r.child.describe());
    assert.equal(r.stdout, 'late first\nlate second\n');
    assert.ok(r.ms >= 1200, `exited after ${r.ms} ms, before --wait 1.2 s`);
    await until(() => p.connections[0]?.closed !== undefined, 'the server to see the close');
    assert.deepEqual(p.connections[0]!.messages.map((m) => m.data), ['first', 'second']);
    assert.deepEqual(p.connections[0]!.closed, { code: 1000, reason: '' });
  });

  test('--echo sends every received message back with its type, until the server closes', T, async () => {
    const p = await peer({}, (ws) => {
      ws.send('text one');
      ws.send(Buffer.from([1, 2, 3]));
      ws.send('text two');
      let n = 0;
      ws.on('message', () => {
        if (++n === 3) setTimeout(() => ws.close(1000, 'done'), 50);
      });
    });
    const r = await runCli(['connect', p.url, '--echo']);
    assert.equal(r.code, 0, r.child.describe());
    assert.equal(r.stdout, 'text one\n010203\ntext two\n');
    assert.deepEqual(p.connections[0]!.messages, [
      { data: 'text one', isBinary: false },
      { data: '010203', isBinary: true },
      { data: 'text two', isBinary: false },
    ]);
    await until(() => p.connections[0]?.closed !== undefined, 'the close');
    assert.deepEqual(p.connections[0]!.closed, { code: 1000, reason: 'done' });
  });

  test('--json --show-control: JSON lines for open, control frames, messages and the close', T, async () => {
    const p = await peer({ handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false) }, (ws) => {
      ws.ping('hb');
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    const r = await runCli(['connect', p.url, '--json', '--show-control', '-s', 'chat', '-x', 'hi', '--wait', '0.3']);
    assert.equal(r.code, 0, r.child.describe());
    const records = r.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      records.map((e) => [e.event, e.direction ?? null]),
      [['open', null], ['ping', 'in'], ['pong', 'out'], ['message', null], ['close-frame', 'out'], ['close-frame', 'in'], ['close', null]],
    );
    assert.equal(records[0]!.protocol, 'chat');
    assert.equal(records[1]!.data, 'hb');
    assert.deepEqual([records[3]!.type, records[3]!.data], ['text', 'hi']);
    assert.deepEqual([records[6]!.code, records[6]!.clean], [1000, true]);
  });

  test('-H and --origin reach the server; --no-deflate offers no extension', T, async () => {
    const seen: Array<Record<string, string | string[] | undefined>> = [];
    const p = await peer({ verifyClient: (info: { req: { headers: Record<string, string | string[] | undefined> } }) => (seen.push(info.req.headers), true) });
    const withDeflate = await runCli(['connect', p.url, '-H', 'Authorization: Bearer s3cret', '-H', 'X-Multi: a', '-H', 'x-multi: b', '--origin', 'http://example.test', '-x', 'hi', '--wait', '0']);
    assert.equal(withDeflate.code, 0, withDeflate.child.describe());
    const plain = await runCli(['connect', p.url, '--no-deflate', '-x', 'hi', '--wait', '0']);
    assert.equal(plain.code, 0, plain.child.describe());
    assert.equal(seen[0]!.authorization, 'Bearer s3cret');
    assert.equal(seen[0]!['x-multi'], 'a, b');
    assert.equal(seen[0]!.origin, 'http://example.test');
    assert.match(String(seen[0]!['sec-websocket-extensions']), /permessage-deflate/);
    assert.equal(seen[1]!['sec-websocket-extensions'], undefined);
  });
});
