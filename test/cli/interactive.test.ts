// `switchboard connect` on a terminal: driven through a pseudo-terminal made
// by tmux (a private tmux server per run), against an in-process ws server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { onceEvent } from '../helpers/async.js';
import { assertBuilt, CLI, until } from './helpers.js';

const TMUX = '/usr/bin/tmux';
const SOCKET = `switchboard-cli-test-${process.pid}`;
const T = { timeout: 30_000 };

function tmux(...args: string[]): string {
  return execFileSync(TMUX, ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 5000 });
}

/** A server's attempt at the terminal: set the title, clear the screen, write the clipboard (OSC 52), a C1 CSI, a carriage return, a bidi override. */
const EVIL = '\x1b]0;pwned\x07\x1b[2J\x1b]52;c;cHduZWQ=\x07\u009b7m\rforged\u202e!';
const EVIL_SHOWN = '\\x1b]0;pwned\\x07\\x1b[2J\\x1b]52;c;cHduZWQ=\\x07\\x9b7m\\rforged\\u202e!';

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A terminal (200x50) running `switchboard connect ...args`; the exit code lands in a file. */
class Terminal {
  readonly rcFile: string;

  constructor(
    readonly name: string,
    dir: string,
    args: string[],
    env: Record<string, string> = {},
    /** Redirect the command's stdout to this file (the terminal keeps stdin and stderr). */
    stdoutFile?: string,
  ) {
    this.rcFile = path.join(dir, `${name}.rc`);
    // FORCE_COLOR from the test runner's environment would override the terminal check.
    const vars = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`).join(' ');
    const redirect = stdoutFile === undefined ? '' : ` > ${quote(stdoutFile)}`;
    const command = `unset FORCE_COLOR NO_COLOR; ${vars} ${quote(process.execPath)} ${quote(CLI)} connect ${args.map(quote).join(' ')}${redirect}; echo $? > ${quote(this.rcFile)}`;
    // remain-on-exit keeps the last screen readable after the command ends.
    tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', command, ';', 'set-option', '-t', name, 'remain-on-exit', 'on');
  }

  screen(): string {
    return tmux('capture-pane', '-p', '-t', this.name);
  }

  /** The screen with its colours (SGR escape sequences). */
  coloured(): string {
    return tmux('capture-pane', '-p', '-e', '-t', this.name);
  }

  lines(): string[] {
    return this.screen().split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  }

  type(text: string): void {
    tmux('send-keys', '-t', this.name, '-l', text);
  }

  keys(...keys: string[]): void {
    tmux('send-keys', '-t', this.name, ...keys);
  }

  async waitFor(re: RegExp, what: string, timeoutMs = 5000): Promise<void> {
    await until(() => re.test(this.screen()), `${what} (${re}) on screen`, timeoutMs).catch((error: Error) => {
      throw new Error(`${error.message}\n--- screen ---\n${this.screen()}`);
    });
  }

  async exitCode(timeoutMs = 5000): Promise<number> {
    await until(() => existsSync(this.rcFile) && readFileSync(this.rcFile, 'utf8').endsWith('\n'), 'the command to exit', timeoutMs).catch((error: Error) => {
      throw new Error(`${error.message}\n--- screen ---\n${this.screen()}`);
    });
    return Number(readFileSync(this.rcFile, 'utf8').trim());
  }
}

describe('switchboard connect on a terminal (tmux)', { timeout: 120_000 }, () => {
  let dir: string;
  let wss: WebSocketServer;
  let url: string;
  const closes: Array<{ code: number; reason: string }> = [];
  const pongs: string[] = [];

  before(async () => {
    assertBuilt();
    assert.ok(existsSync(TMUX), `${TMUX} is needed for the interactive tests`);
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-cli-tty-'));
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await onceEvent(wss, 'listening');
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    wss.on('connection', (ws: WsSocket) => {
      ws.on('message', (data, isBinary) => {
        const text = data.toString();
        if (text === 'later') setTimeout(() => ws.send('news'), 500);
        else if (text === 'evil') ws.send(EVIL);
        else if (text === 'bin') ws.send(Buffer.from([1, 2, 0xff]));
        else ws.send(`echo: ${text}`, { binary: isBinary });
      });
      ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
      ws.on('pong', (data) => pongs.push(data.toString()));
    });
  });

  after(() => {
    try {
      tmux('kill-server');
    } catch {
      // no session left
    }
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('/pong sends a pong; with stdout redirected, only the data goes there and the prompt and status lines to the terminal', T, async () => {
    const out = path.join(dir, 'data.txt');
    const term = new Terminal('piped', dir, [url], {}, out);
    await term.waitFor(/\* connected to ws:\/\/127\.0\.0\.1:\d+\//, 'the connected line on the terminal (stderr)');
    term.type('/pong hb');
    term.keys('Enter');
    await until(() => pongs.includes('hb'), 'the server to receive the pong');
    term.type('hello');
    term.keys('Enter');
    await until(() => readFileSync(out, 'utf8') === 'echo: hello\n', 'the reply in the file').catch((e: Error) => {
      throw new Error(`${e.message}\nfile: ${JSON.stringify(readFileSync(out, 'utf8'))}\n${term.screen()}`);
    });
    term.keys('C-d');
    assert.equal(await term.exitCode(), 0);
    assert.equal(readFileSync(out, 'utf8'), 'echo: hello\n', 'no status line, prompt or marker in the data');
  });

  test('send, receive, history, binary, /ping, then /close 1000 bye exits 0', T, async () => {
    const closesBefore = closes.length;
    const term = new Terminal('session1', dir, [url]);
    await term.waitFor(/\* connected to ws:\/\/127\.0\.0\.1:\d+\/; \/help lists the commands/, 'the connected line');

    term.type('hello');
    term.keys('Enter');
    await term.waitFor(/^< echo: hello$/m, 'the reply');
    assert.ok(term.lines().includes('> hello'), term.screen());
    // On a terminal, incoming is cyan and outgoing green.
    assert.match(term.coloured(), /\x1b\[36m<\x1b\[39m echo: hello/);
    assert.match(term.coloured(), /\x1b\[32m(?:\x1b\[\d+m)*> hello/);

    // History: Up recalls the last line.
    term.keys('Up', 'Enter');
    await until(() => term.lines().filter((l) => l === '< echo: hello').length === 2, 'the second reply').catch((e: Error) => {
      throw new Error(`${e.message}\n${term.screen()}`);
    });

    term.type('bin');
    term.keys('Enter');
    await term.waitFor(/^< \[binary, 3 bytes\] 01 02 ff$/m, 'binary as hex');

    term.type('/ping abc');
    term.keys('Enter');
    await term.waitFor(/^< pong "abc" \(\d+(\.\d+)? ms\)$/m, 'the pong');

    // A message that arrives while a line is being typed goes above the prompt; the draft stays.
    term.type('later');
    term.keys('Enter');
    term.type('draft');
    await term.waitFor(/^< news$/m, 'the late message');
    const lines = term.lines();
    assert.equal(lines.at(-1), '> draft', term.screen());
    term.keys('C-u');

    term.type('/close 1000 bye');
    term.keys('Enter');
    assert.equal(await term.exitCode(), 0, term.screen());
    await term.waitFor(/^\* closed: 1000 \(normal closure\) "bye"$/m, 'the closed line');
    await until(() => closes.length === closesBefore + 1, 'the server to see the close');
    assert.deepEqual(closes.at(-1), { code: 1000, reason: 'bye' });
  });

  test('--show-control shows ping, pong and close frames; NO_COLOR; Ctrl+D closes with 1000 and exits 0', T, async () => {
    const closesBefore = closes.length;
    const term = new Terminal('session2', dir, [url, '--show-control'], { NO_COLOR: '1' });
    await term.waitFor(/\* connected to /, 'the connected line');
    term.type('/ping');
    term.keys('Enter');
    await term.waitFor(/^> ping$/m, 'the ping sent');
    await term.waitFor(/^< pong \(\d+(\.\d+)? ms\)$/m, 'the pong');
    term.type('/help');
    term.keys('Enter');
    await term.waitFor(/^\* \/close \[code\] \[reason\]/m, 'the help');
    term.type('/nope');
    term.keys('Enter');
    await term.waitFor(/^! unknown command \/nope/m, 'the unknown command line');
    assert.doesNotMatch(term.coloured(), /\x1b\[3[1-6]m/, 'NO_COLOR: no colours');
    term.keys('C-d');
    assert.equal(await term.exitCode(), 0, term.screen());
    await term.waitFor(/^> close 1000 \(normal closure\)$/m, 'the close frame sent');
    await term.waitFor(/^< close 1000 \(normal closure\)$/m, 'the close frame received');
    await until(() => closes.length === closesBefore + 1, 'the server to see the close');
    assert.deepEqual(closes.at(-1), { code: 1000, reason: '' });
  });

  test('a server\'s escape sequences are shown escaped, never obeyed: interactive and -x on a terminal', T, async () => {
    const title = (name: string): string => tmux('display-message', '-p', '-t', name, '#{pane_title}').trim();
    const term = new Terminal('session3', dir, [url]);
    await term.waitFor(/\* connected to /, 'the connected line');
    const titleBefore = title('session3');
    term.type('evil');
    term.keys('Enter');
    await term.waitFor(/^< echo: evil$|^< \\x1b/m, 'the reply');
    await term.waitFor(/^< \\x1b\]0;pwned/m, 'the escaped message');
    assert.ok(term.lines().includes(`< ${EVIL_SHOWN}`), `interactive:\n${term.screen()}`);
    assert.ok(term.lines().some((l) => l.startsWith('* connected to ')), `the screen was not cleared:\n${term.screen()}`);
    assert.equal(title('session3'), titleBefore, 'the title was not set');
    term.keys('C-d');
    assert.equal(await term.exitCode(), 0, term.screen());

    const oneShot = new Terminal('session4', dir, [url, '-x', 'evil', '--wait', '0.5']);
    const titleOneShot = title('session4');
    await oneShot.exitCode();
    // With the history: tmux scrolls a dead pane's screen.
    const shown = tmux('capture-pane', '-p', '-S', '-', '-t', 'session4');
    assert.ok(shown.split('\n').includes(EVIL_SHOWN), `one-shot:\n${shown}`);
    assert.equal(title('session4'), titleOneShot, 'the title was not set');
  });
});
