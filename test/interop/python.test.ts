// Switchboard's client talking to a server built on Python's `websockets`
// (Debian's python3-websockets), started by the test on 127.0.0.1, port 0.
//
// Paths of the Python server:
//   /echo       echoes every message with its type; logs "closed CODE REASON" when the client closes
//   /fragments  sends one text message as three fragments (an async iterator passed to send),
//               then one binary message as two fragments, then waits for the client to close
//   /close      closes with 4001 "py-bye"
//   /ping       pings the client and sends "ponged:<payload>" once the pong came back
//
// A Python without `websockets` makes the test fail (it does not skip).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { MessageLog, describe as show, patternBytes } from '../helpers/messages.js';
import { Child } from '../helpers/process.js';

type Client = InstanceType<typeof WebSocket>;

const MiB = 1024 * 1024;

const SERVER_PY = String.raw`
import asyncio, sys
import websockets

VERSION = tuple(int(x) for x in websockets.__version__.split('.')[:2] if x.isdigit())

try:
    # websockets >= 13: the new asyncio implementation
    from websockets.asyncio.server import serve
    NEW_API = True
except ImportError:
    # websockets 10.x / 11.x / 12.x: the legacy implementation
    from websockets import serve
    NEW_API = False


def request_path(ws):
    p = getattr(ws, 'path', None)
    if p is None:
        p = ws.request.path
    return p.split('?')[0]


def log(line):
    print(line, flush=True)


async def handler(ws, path=None):
    p = request_path(ws)
    try:
        if p == '/echo':
            async for message in ws:
                await ws.send(message)
        elif p == '/fragments':
            async def text_parts():
                for part in ['Hello, ', 'fragmented ', 'world']:
                    yield part
            await ws.send(text_parts())
            await ws.send([b'\x01\x02', b'\x03'])
            async for _ in ws:
                pass
        elif p == '/close':
            await ws.close(4001, 'py-bye')
        elif p == '/ping':
            waiter = await ws.ping(b'py-ping')
            await asyncio.wait_for(waiter, 5)
            await ws.send('ponged:py-ping')
            async for _ in ws:
                pass
        else:
            await ws.close(4004, 'no such path')
    except websockets.exceptions.ConnectionClosed:
        pass
    log('closed %s %s %s' % (p, ws.close_code, ws.close_reason))


async def main():
    kwargs = dict(max_size=16 * 1024 * 1024, ping_interval=None, compression=None)
    async with serve(handler, '127.0.0.1', 0, **kwargs) as server:
        port = server.sockets[0].getsockname()[1]
        log('VERSION %s' % websockets.__version__)
        log('PORT %d' % port)
        await asyncio.Future()

asyncio.run(main())
`;

/** The first Python 3 that can import websockets (PATH may hold a Python without Debian's packages). */
function findPython(): { python: string; version: string } {
  const tried: string[] = [];
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', 'import websockets; print(websockets.__version__)'], { encoding: 'utf8', timeout: 15_000 });
    if (r.status === 0) return { python, version: r.stdout.trim() };
    tried.push(`${python}: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`);
  }
  throw new Error(`no Python with the websockets package (apt-get install python3-websockets):\n  ${tried.join('\n  ')}`);
}

function equalBytes(got: Buffer, want: Buffer, what: string): void {
  assert.equal(got.length, want.length, `${what}: length ${got.length}, expected ${want.length}`);
  assert.ok(got.equals(want), `${what}: content differs (got ${show(got)}, expected ${show(want)})`);
}

/** The arguments of the next `event`, bounded (an 'error' first does not reject). */
function nextEvent<A extends unknown[] = unknown[]>(emitter: NodeJS.EventEmitter, event: string, ms = 5000): Promise<A> {
  return withTimeout(new Promise<A>((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as A))), ms, `waiting for '${event}'`);
}

describe('switchboard client -> Python websockets server', { timeout: 120_000 }, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-python-'));
  const clients = new Set<Client>();
  let server: Child | undefined;
  let base = '';

  before(async () => {
    const { python, version } = findPython();
    const major = Number(version.split('.')[0]);
    assert.ok(major >= 10, `websockets ${version} is too old (10.x or later is needed)`);
    const script = path.join(tmp, 'server.py');
    writeFileSync(script, SERVER_PY);
    server = new Child(python, ['-u', script], { cwd: tmp });
    const [, port] = await server.waitForLine(/^PORT (\d+)$/, 20_000);
    base = `ws://127.0.0.1:${port}`;
  });

  after(async () => {
    for (const c of clients) c.terminate();
    await server?.stop('SIGTERM', 2000);
    rmSync(tmp, { recursive: true, force: true });
  });

  /** A client, not yet open: listeners for what the server sends right after the handshake go on before 'open'. */
  function start(p: string): Client {
    const c = new WebSocket(`${base}${p}`);
    clients.add(c);
    return c;
  }

  async function connect(p: string): Promise<Client> {
    const c = start(p);
    await onceEvent(c, 'open');
    return c;
  }

  /** Waits for the server's "closed PATH CODE REASON" line for `p` (the nth one, counting from 1). */
  async function serverClosed(p: string, nth = 1): Promise<{ code: string; reason: string }> {
    const re = new RegExp(`^closed ${p.replace(/\//g, '\\/')} (\\S+) ?(.*)$`);
    const line = await server!.waitFor(() => server!.lines.filter((l) => re.test(l))[nth - 1], `the server's closed line #${nth} for ${p}`, 5000);
    const m = line.match(re)!;
    return { code: m[1]!, reason: m[2]! };
  }
  const closedCount = (p: string): number => server!.lines.filter((l) => l.startsWith(`closed ${p} `)).length;

  async function roundTrip(msgs: Array<{ data: Buffer | string; binary: boolean }>, ms = 20_000): Promise<void> {
    const c = await connect('/echo');
    const log = new MessageLog(c);
    for (const m of msgs) c.send(m.data, { binary: m.binary });
    const echoed = await log.next(msgs.length, ms);
    msgs.forEach((m, i) => {
      assert.equal(echoed[i]!.isBinary, m.binary, `echo ${i}: isBinary=${echoed[i]!.isBinary}`);
      equalBytes(echoed[i]!.data, Buffer.from(m.data), `echo ${i}`);
    });
    c.close(1000);
    await nextEvent(c, 'close');
  }

  test('the server runs a supported websockets version', () => {
    const line = server!.lines.find((l) => l.startsWith('VERSION '));
    assert.ok(line, server!.describe());
  });

  test('text messages', async () => {
    await roundTrip([
      { data: 'hello python', binary: false },
      { data: 'ünïcödé ✓ 🐍', binary: false },
      { data: '', binary: false },
    ]);
  });

  test('binary messages', async () => {
    await roundTrip([
      { data: Buffer.from([0, 1, 2, 254, 255]), binary: true },
      { data: Buffer.alloc(0), binary: true },
      { data: patternBytes(70_000, 11), binary: true },
    ]);
  });

  test('a 4 MiB binary message and a 4 MiB text message', async () => {
    await roundTrip(
      [
        { data: patternBytes(4 * MiB, 99), binary: true },
        { data: 'py✓'.repeat((4 * MiB) / 5), binary: false },
      ],
      30_000,
    );
  });

  test('fragmented messages from the client arrive whole (the echo proves it)', async () => {
    const c = await connect('/echo');
    const log = new MessageLog(c);
    c.send('frag', { fin: false });
    c.send('men', { fin: false });
    c.send('ted', { fin: true });
    c.send(Buffer.from([7]), { binary: true, fin: false });
    c.send(Buffer.from([8, 9]), { binary: true, fin: true });
    const got = await log.next(2);
    assert.equal(got[0]!.isBinary, false);
    assert.equal(got[0]!.data.toString(), 'fragmented');
    assert.equal(got[1]!.isBinary, true);
    equalBytes(got[1]!.data, Buffer.from([7, 8, 9]), 'binary fragments');
    c.close(1000);
    await nextEvent(c, 'close');
  });

  test('fragmented messages from the server (async iterator / list passed to send) arrive whole', async () => {
    const c = start('/fragments');
    const log = new MessageLog(c);
    await onceEvent(c, 'open');
    const got = await log.next(2);
    assert.equal(got[0]!.isBinary, false);
    assert.equal(got[0]!.data.toString(), 'Hello, fragmented world');
    assert.equal(got[1]!.isBinary, true);
    equalBytes(got[1]!.data, Buffer.from([1, 2, 3]), 'binary fragments from Python');
    c.close(1000);
    await nextEvent(c, 'close');
  });

  test('ping from the client gets a pong with the same payload', async () => {
    const c = await connect('/echo');
    const pong = nextEvent<[Buffer]>(c, 'pong');
    c.ping('js-ping');
    assert.equal((await pong)[0].toString(), 'js-ping');
    c.close(1000);
    await nextEvent(c, 'close');
  });

  test('ping from the server: the client answers it', async () => {
    const c = start('/ping');
    const ping = nextEvent<[Buffer]>(c, 'ping');
    const log = new MessageLog(c);
    await onceEvent(c, 'open');
    assert.equal((await ping)[0].toString(), 'py-ping');
    const [m] = await log.next(1);
    assert.equal(m!.data.toString(), 'ponged:py-ping');
    c.close(1000);
    await nextEvent(c, 'close');
  });

  test('clean close started by the client: Python sees the code and reason', async () => {
    const before = closedCount('/echo');
    const c = await connect('/echo');
    const closeP = withTimeout(
      new Promise<{ code: number; reason: string; wasClean: boolean }>((r) => c.addEventListener('close', r)),
      5000,
      'client close',
    );
    c.close(4000, 'js-bye');
    const e = await closeP;
    assert.equal(e.code, 4000, 'Python echoes the code');
    assert.equal(e.wasClean, true);
    const seen = await serverClosed('/echo', before + 1);
    assert.equal(seen.code, '4000');
    assert.equal(seen.reason, 'js-bye');
  });

  test("clean close started by the server: 4001 'py-bye' reaches the client", async () => {
    const c = start('/close');
    const e = await withTimeout(
      new Promise<{ code: number; reason: string; wasClean: boolean }>((r) => c.addEventListener('close', r)),
      5000,
      'client close',
    );
    assert.equal(e.code, 4001);
    assert.equal(e.reason, 'py-bye');
    assert.equal(e.wasClean, true);
    assert.equal(c.readyState, WebSocket.CLOSED);
    const seen = await serverClosed('/close');
    assert.equal(seen.code, '4001', 'the client echoed the code');
  });
});
