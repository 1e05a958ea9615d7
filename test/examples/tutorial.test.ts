// examples/tutorial.js, the classic `ws` tutorial server with
// require("switchboard"), run verbatim as a child process on its fixed port
// 8082, against (1) a `ws` client and (2) the very same program running on
// the real `ws` package, compared byte for byte over raw TCP.
//
// The example requires the built CommonJS package (dist/cjs/index.cjs, made
// by `npm run build`, which `npm test` runs first) through package
// self-reference: package.json "name" + "exports" resolve require("switchboard")
// from inside the repository.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import WsClient from 'ws';
import { IMPL_NAME, repoRoot } from '../helpers/env.js';
import { Child, startNode } from '../helpers/process.js';
import { assertPortFree, clientFrame, RawClient, waitForPort } from '../helpers/net.js';
import { onceEvent } from '../helpers/async.js';
import { MessageLog } from '../helpers/messages.js';

const PORT = 8082; // fixed by the example, which must stay verbatim
const EXAMPLE = path.join(repoRoot, 'examples/tutorial.js');
const CJS_ENTRY = path.join(repoRoot, 'packages/switchboard/dist/cjs/index.cjs');
const EXPECTED_LOG = ['New Client Connected', 'Client Has send us the data: hi', 'Client has disconnected!'];
const REQUIRE_RE = /require\(\s*(["'])switchboard\1\s*\)/g;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-tutorial-'));
const children: Child[] = [];

/** The tutorial source with require("switchboard") replaced by the `ws` package. */
function wsCopy(): string {
  const src = readFileSync(EXAMPLE, 'utf8');
  const n = src.match(REQUIRE_RE)?.length ?? 0;
  assert.equal(n, 1, `${EXAMPLE} should contain exactly one require("switchboard"), found ${n}`);
  const wsPath = createRequire(import.meta.url).resolve('ws');
  const file = path.join(tmp, 'tutorial-ws.cjs');
  writeFileSync(file, src.replace(REQUIRE_RE, `require(${JSON.stringify(wsPath)})`));
  return file;
}

/** Starts one of the two tutorial programs and waits until port 8082 accepts connections. */
async function startTutorial(which: 'switchboard' | 'ws'): Promise<Child> {
  await assertPortFree(PORT);
  // With SWITCHBOARD_TEST_AGAINST=ws both sides are the ws copy (checks the test itself).
  const script = which === 'ws' || IMPL_NAME === 'ws' ? wsCopy() : EXAMPLE;
  const child = startNode(script, [], { cwd: path.dirname(EXAMPLE) });
  children.push(child);
  try {
    await waitForPort(PORT, 10_000, () => child.running);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${child.describe()}`);
  }
  return child;
}

async function stopTutorial(child: Child): Promise<void> {
  const r = await child.stop('SIGTERM', 5000);
  assert.equal(r.killed, false, `tutorial (${child.label}) ignored SIGTERM`);
}

interface Transcript {
  handshake: Buffer;
  reply: Buffer;
  closeReply: Buffer;
  afterClose: Buffer;
  stdout: string;
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='; // RFC 6455 section 1.3
const REQUEST =
  `GET / HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;

/** Everything a raw TCP client receives from the running tutorial in a fixed exchange. */
async function rawExchange(child: Child): Promise<Transcript> {
  const c = await RawClient.connect(PORT);
  try {
    c.write(REQUEST);
    const handshake = await c.readHttpHead();
    c.write(clientFrame(0x1, 'hi'));
    const reply = await c.readFrame();
    c.write(clientFrame(0x8, Buffer.from([0x03, 0xe8]))); // close 1000
    const closeReply = await c.readFrame();
    const afterClose = await c.readToEnd(5000);
    await child.waitFor(() => (child.lines.length >= 3 ? true : undefined), 'three log lines', 5000);
    return { handshake, reply, closeReply, afterClose, stdout: child.stdout };
  } finally {
    c.destroy();
  }
}

const show = (b: Buffer) => JSON.stringify(b.toString('latin1'));

describe(`examples/tutorial.js (${IMPL_NAME})`, { timeout: 90_000 }, () => {
  before(() => {
    assert.ok(existsSync(EXAMPLE), `${EXAMPLE} does not exist`);
    assert.ok(existsSync(CJS_ENTRY), `${CJS_ENTRY} does not exist: run \`npm run build\` first (\`npm test\` does it in pretest)`);
  });

  after(async () => {
    for (const c of children) await c.stop('SIGKILL', 2000);
    rmSync(tmp, { recursive: true, force: true });
  });

  test('require("switchboard") from examples/ resolves to the built CommonJS entry', () => {
    // The example is run with plain `node`: it must be loaded as CommonJS
    // (require is not defined in an ES module) and find the package by name.
    let dir = path.dirname(EXAMPLE);
    while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
    const pkg = path.join(dir, 'package.json');
    const scope = existsSync(pkg) ? (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }) : {};
    assert.ok(
      !(EXAMPLE.endsWith('.js') && scope.type === 'module'),
      `${path.relative(repoRoot, EXAMPLE)} would be loaded as an ES module (nearest package.json ${pkg} has "type": "module"), where require() does not exist`,
    );
    if (IMPL_NAME === 'ws') return;
    let resolved: string;
    try {
      resolved = createRequire(EXAMPLE).resolve('switchboard');
    } catch (e) {
      const why =
        pkg !== path.join(repoRoot, 'package.json')
          ? ` Package self-reference only works from inside the package scope whose package.json has "name": "switchboard" and "exports"; ` +
            `the nearest package.json of the example is ${pkg}, which starts a package scope of its own.`
          : '';
      throw new Error(`require("switchboard") cannot be resolved from ${EXAMPLE}: ${(e as Error).message.split('\n')[0]}.${why}`);
    }
    assert.equal(resolved, CJS_ENTRY);
  });

  test('a ws client gets "We have recieved a message: hi"; the three log lines are printed in order', async () => {
    const child = await startTutorial('switchboard');
    try {
      const c = new WsClient(`ws://127.0.0.1:${PORT}`);
      await onceEvent(c, 'open');
      const log = new MessageLog(c);
      c.send('hi');
      const [m] = await log.next(1);
      assert.equal(m!.isBinary, false, 'the reply should be a text message');
      assert.equal(m!.data.toString('utf8'), 'We have recieved a message: hi');
      c.close();
      await onceEvent(c, 'close');
      await child.waitFor(() => (child.lines.includes(EXPECTED_LOG[2]!) ? true : undefined), `"${EXPECTED_LOG[2]}" on stdout`, 5000);
      assert.equal(log.messages.length, 1, 'exactly one reply');
      assert.deepEqual(child.lines, EXPECTED_LOG);
      assert.equal(child.stderr, '', 'nothing on stderr');
    } finally {
      await stopTutorial(child);
    }
  });

  test('raw TCP: handshake response, reply frame and close reply are byte-identical to ws', async () => {
    const refChild = await startTutorial('ws');
    let ref: Transcript;
    try {
      ref = await rawExchange(refChild);
    } finally {
      await stopTutorial(refChild);
    }
    // Sanity of the reference transcript itself.
    assert.match(ref.handshake.toString('latin1'), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(ref.handshake.toString('latin1'), /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
    assert.deepEqual(ref.reply, Buffer.concat([Buffer.from([0x81, 30]), Buffer.from('We have recieved a message: hi')]));

    const child = await startTutorial('switchboard');
    let got: Transcript;
    try {
      got = await rawExchange(child);
    } finally {
      await stopTutorial(child);
    }
    assert.equal(show(got.handshake), show(ref.handshake), 'handshake response differs from ws');
    assert.equal(got.reply.toString('hex'), ref.reply.toString('hex'), `reply frame differs from ws: ${show(got.reply)} vs ${show(ref.reply)}`);
    assert.equal(got.closeReply.toString('hex'), ref.closeReply.toString('hex'), 'close frame sent in reply differs from ws');
    assert.equal(got.afterClose.toString('hex'), ref.afterClose.toString('hex'), 'bytes after the close frame differ from ws');
    assert.equal(got.stdout, ref.stdout, 'stdout differs from ws');
  });
});
