// `switchboard serve --interactive` (wscat -l PORT) on a real terminal made
// by tmux (a private tmux server per run), with ws clients in this process;
// and wscat's `-l PORT` / `-c URL` spellings.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { onceEvent } from '../helpers/async.js';
import { assertBuilt, CLI, runCli, spawnCli, stopAll, until } from './helpers.js';

const TMUX = '/usr/bin/tmux';
const SOCKET = `switchboard-serve-tty-${process.pid}`;
const T = { timeout: 30_000 };

function tmux(...args: string[]): string {
  return execFileSync(TMUX, ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 5000 });
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

class Terminal {
  readonly rcFile: string;
  constructor(
    readonly name: string,
    dir: string,
    args: string[],
  ) {
    this.rcFile = path.join(dir, `${name}.rc`);
    const command = `unset FORCE_COLOR; NO_COLOR=1 ${quote(process.execPath)} ${quote(CLI)} ${args.map(quote).join(' ')}; echo $? > ${quote(this.rcFile)}`;
    tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', command, ';', 'set-option', '-t', name, 'remain-on-exit', 'on');
  }
  screen(): string {
    return tmux('capture-pane', '-p', '-t', this.name);
  }
  lines(): string[] {
    return this.screen().split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  }
  type(text: string): void {
    tmux('send-keys', '-t', this.name, '-l', text);
    tmux('send-keys', '-t', this.name, 'Enter');
  }
  keys(...keys: string[]): void {
    tmux('send-keys', '-t', this.name, ...keys);
  }
  async waitFor(re: RegExp, what: string): Promise<RegExpExecArray> {
    let m: RegExpExecArray | null = null;
    await until(() => (m = re.exec(this.screen())) !== null, `${what} (${re}) on screen`).catch((error: Error) => {
      throw new Error(`${error.message}\n--- screen ---\n${this.screen()}`);
    });
    return m!;
  }
  async exitCode(): Promise<number> {
    await until(() => existsSync(this.rcFile) && readFileSync(this.rcFile, 'utf8').endsWith('\n'), 'the command to exit').catch((error: Error) => {
      throw new Error(`${error.message}\n--- screen ---\n${this.screen()}`);
    });
    return Number(readFileSync(this.rcFile, 'utf8').trim());
  }
}

interface TestClient {
  ws: WebSocket;
  messages: string[];
  closed: Promise<{ code: number; reason: string }>;
}

async function client(url: string): Promise<TestClient> {
  const ws = new WebSocket(url);
  const messages: string[] = [];
  ws.on('message', (data) => messages.push(String(data)));
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await onceEvent(ws, 'open');
  return { ws, messages, closed };
}

describe('serve --interactive (wscat -l) on a terminal, and wscat\'s -l / -c', { timeout: 120_000 }, () => {
  let dir: string;
  before(() => {
    assertBuilt();
    assert.ok(existsSync(TMUX), `${TMUX} is needed for the interactive tests`);
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-serve-tty-'));
  });
  after(async () => {
    try {
      tmux('kill-server');
    } catch {
      // no session left
    }
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('typed lines go to every client, /to N to one; clients\' messages show with their id; /close N; Ctrl+D closes the rest with 1001 and exits 0', T, async () => {
    const term = new Terminal('listen', dir, ['-l', '0', '--host', '127.0.0.1']);
    const listening = await term.waitFor(/^listening on (ws:\/\/127\.0\.0\.1:\d+)$/m, 'the listening line');
    await term.waitFor(/^\* waiting for clients/m, 'the console');
    const url = `${listening[1]}/`;

    term.type('nobody here');
    await term.waitFor(/^! no client is connected; not sent$/m, 'the refusal to send to nobody');

    const a = await client(url);
    await term.waitFor(/^\* #1 connected from 127\.0\.0\.1:\d+ \(1 client connected\)$/m, 'client #1');
    const b = await client(url);
    await term.waitFor(/^\* #2 connected from 127\.0\.0\.1:\d+ \(2 clients connected\)$/m, 'client #2');

    term.type('hello all');
    await until(() => a.messages.length === 1 && b.messages.length === 1, 'both clients to get the line');
    assert.deepEqual([a.messages, b.messages], [['hello all'], ['hello all']]);

    term.type('/to 2 just you');
    term.type('//slash');
    await until(() => b.messages.length === 3, 'client #2 to get /to and //');
    assert.deepEqual(b.messages, ['hello all', 'just you', '/slash']);
    assert.deepEqual(a.messages, ['hello all', '/slash'], '/to 2 did not reach #1');

    a.ws.send('from a');
    b.ws.send('\x1b]0;pwned\x07');
    await term.waitFor(/^< #1 from a$/m, 'client #1\'s message');
    await term.waitFor(/^< #2 \\x1b\]0;pwned\\x07$/m, 'client #2\'s message, escaped');

    term.type('/ping 1');
    await term.waitFor(/^< #1 pong \(\d+(\.\d+)? ms\)$/m, 'the pong of #1');

    term.type('/close 1 4000 bye');
    assert.deepEqual(await a.closed, { code: 4000, reason: 'bye' });
    await term.waitFor(/^\* #1 disconnected: 4000 "bye" \(1 client connected\)$/m, 'the disconnect line');

    term.type('/to 1 gone');
    await term.waitFor(/^! no client #1; \/clients lists them$/m, 'no client #1');

    term.keys('C-d');
    assert.deepEqual(await b.closed, { code: 1001, reason: 'server shutting down' });
    assert.equal(await term.exitCode(), 0, term.screen());
  });

  test('-l with stdin a pipe: each line goes to the clients, their messages on stdout; -c URL is connect URL', T, async () => {
    const child = spawnCli(['-l', '0', '--host', '127.0.0.1'], { stdin: true });
    const first = await child.waitFor(() => child.lines[0], 'the listening line');
    const url = `${/^listening on (ws:\/\/\S+)$/.exec(first)![1]}/`;
    const a = await client(url);
    await child.waitFor(() => (child.stderr.includes('#1 connected') ? true : undefined), 'the connect status on stderr');
    child.proc.stdin!.write('piped line\n');
    await until(() => a.messages.length === 1, 'the piped line');
    assert.deepEqual(a.messages, ['piped line']);
    a.ws.send('to stdout');
    await child.waitFor(() => (child.lines.includes('to stdout') ? true : undefined), 'the message on stdout');
    child.proc.stdin!.end();
    assert.deepEqual(await a.closed, { code: 1001, reason: 'server shutting down' });
    assert.equal((await child.exited).code, 0);

    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await onceEvent(wss, 'listening');
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo: ${data}`)));
    try {
      const port = (wss.address() as { port: number }).port;
      const run = await runCli(['-c', `127.0.0.1:${port}`, '-x', 'hi', '-w', '0.3', '--slash']);
      assert.equal(run.code, 0, run.child.describe());
      assert.equal(run.stdout, 'echo: hi\n');
      const both = await runCli(['-l', '0', '-c', 'ws://127.0.0.1:1']);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /use either -l \(listen\) or -c \(connect\)/);
    } finally {
      wss.close();
    }
  });
});
