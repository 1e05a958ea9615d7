// permessage-deflate against Python's `websockets` (Debian's python3-websockets,
// 10.4 or later; compression='deflate' is its default), both ways:
//   - a Python client against Switchboard's server (perMessageDeflate),
//   - Switchboard's client against a Python server.
// Python inflates with the window sizes that were negotiated: the payloads
// below repeat 20 KiB blocks, which only a window above 14 bits could reach
// back to, so a Switchboard client that compressed with a larger window than
// agreed fails the connection. (Python as a client resolves such distances in
// its output buffer; test/node/deflate.test.ts checks the windows strictly.)
//
// A Python without `websockets` makes the test fail (it does not skip).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { MessageLog, describe as show, patternBytes } from '../helpers/messages.js';
import { Child } from '../helpers/process.js';
import { listenEcho, type Listening } from '../helpers/server.js';

type Client = InstanceType<typeof WebSocket>;
const MiB = 1024 * 1024;

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

// Shared by both Python scripts: the messages, built the same way as in messagesToSend() below.
const PY_MESSAGES = String.raw`
import json, random

def repeated_blocks(size, seed):
    rnd = random.Random(seed)
    block = bytes(rnd.getrandbits(8) for _ in range(20 * 1024))
    out = bytearray()
    while len(out) < size:
        out += block
    return bytes(out[:size])

def json_doc(size, tag):
    rows, length, i = [], 0, 0
    while length < size:
        row = json.dumps({'tag': tag, 'i': i, 'name': 'row %d' % (i % 101), 'ok': i % 2 == 0}, separators=(',', ':'))
        rows.append(row)
        length += len(row) + 1
        i += 1
    return '[' + ','.join(rows) + ']'

MESSAGES = [
    'hello from python ✓',
    bytes(range(256)),
    '',
    b'',
    json_doc(4 * 1024 * 1024, 'big'),
    repeated_blocks(4 * 1024 * 1024, 7),
] + ['repeat %d %s' % (i, 'x' * 2000) for i in range(30)]
`;

const CLIENT_PY = String.raw`
import asyncio, json, sys
import websockets
${PY_MESSAGES}

async def main(url):
    async with websockets.connect(url, max_size=64 * 1024 * 1024, ping_interval=None, compression='deflate') as ws:
        print('HEADER %s' % ws.response_headers.get('Sec-WebSocket-Extensions'), flush=True)
        print('EXTENSIONS %s' % json.dumps([{'name': e.name, 'remote_no_context_takeover': e.remote_no_context_takeover, 'local_no_context_takeover': e.local_no_context_takeover, 'remote_max_window_bits': e.remote_max_window_bits, 'local_max_window_bits': e.local_max_window_bits} for e in ws.extensions]), flush=True)
        for i, m in enumerate(MESSAGES):
            await ws.send(m)
            echo = await asyncio.wait_for(ws.recv(), 30)
            ok = type(echo) is type(m) and echo == m
            print('ECHO %d %s %s %d' % (i, 'ok' if ok else 'BAD', 'text' if isinstance(m, str) else 'binary', len(m)), flush=True)
        await ws.close(1000, 'py-done')
    print('DONE %s' % ws.close_code, flush=True)

asyncio.run(main(sys.argv[1]))
`;

const SERVER_PY = String.raw`
import asyncio, json
import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
${PY_MESSAGES}

def log(line):
    print(line, flush=True)

def handler_for(tag):
    async def handler(ws, path=None):
        log('EXT %s %s | %s' % (tag, ws.request_headers.get('Sec-WebSocket-Extensions'), ws.response_headers.get('Sec-WebSocket-Extensions')))
        count = 0
        try:
            async for message in ws:
                count += 1
                await ws.send(message)
        except websockets.exceptions.ConnectionClosed:
            pass
        log('closed %s %s %s after %d' % (tag, ws.close_code, ws.close_reason, count))
    return handler

async def main():
    common = dict(max_size=64 * 1024 * 1024, ping_interval=None)
    # The default: compression='deflate' (server_max_window_bits=12, client_max_window_bits=12).
    a = await websockets.serve(handler_for('default'), '127.0.0.1', 0, **common)
    b = await websockets.serve(handler_for('strict'), '127.0.0.1', 0, extensions=[ServerPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True, server_max_window_bits=10, client_max_window_bits=9)], **common)
    log('VERSION %s' % websockets.__version__)
    log('PORT default %d' % a.sockets[0].getsockname()[1])
    log('PORT strict %d' % b.sockets[0].getsockname()[1])
    await asyncio.Future()

asyncio.run(main())
`;

/** The same messages as PY_MESSAGES, for Switchboard's client (patternBytes stands in for Python's random blocks). */
function messagesToSend(): Array<{ data: string | Buffer; binary: boolean }> {
  const block = patternBytes(20 * 1024, 7);
  const repeated = Buffer.alloc(4 * MiB);
  for (let i = 0; i < repeated.length; i += block.length) block.copy(repeated, i);
  const rows: string[] = [];
  let length = 0;
  for (let i = 0; length < 4 * MiB; i++) {
    const row = JSON.stringify({ tag: 'big', i, name: `row ${i % 101}`, ok: i % 2 === 0 });
    rows.push(row);
    length += row.length + 1;
  }
  return [
    { data: 'hello from switchboard ✓', binary: false },
    { data: Buffer.from(Array.from({ length: 256 }, (_, i) => i)), binary: true },
    { data: '', binary: false },
    { data: Buffer.alloc(0), binary: true },
    { data: `[${rows.join(',')}]`, binary: false },
    { data: repeated, binary: true },
    ...Array.from({ length: 30 }, (_, i) => ({ data: `repeat ${i} ${'x'.repeat(2000)}`, binary: false })),
  ];
}

const { python, version } = findPython();

describe(`Python websockets ${version} client -> Switchboard server with perMessageDeflate`, { timeout: 180_000 }, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-python-deflate-client-'));
  const script = path.join(tmp, 'client.py');
  writeFileSync(script, CLIENT_PY);
  const servers: Listening[] = [];
  const children: Child[] = [];

  after(async () => {
    for (const c of children) await c.stop('SIGKILL', 1000);
    for (const s of servers) await s.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const configs: Array<{ name: string; options: unknown; answer: RegExp; params: Record<string, unknown> }> = [
    {
      name: 'perMessageDeflate: true',
      options: true,
      answer: /^permessage-deflate(; server_no_context_takeover)?$/,
      params: { local_max_window_bits: 15, remote_max_window_bits: 15, remote_no_context_takeover: null },
    },
    {
      name: 'perMessageDeflate with every negotiated option',
      options: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11, threshold: 0 },
      answer: /^permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11$/,
      params: { local_no_context_takeover: true, remote_no_context_takeover: true, local_max_window_bits: 11, remote_max_window_bits: 10 },
    },
  ];

  for (const config of configs) {
    test(`${config.name}: negotiated on both sides; text, binary, empty and 4 MiB messages echo intact`, { timeout: 120_000 }, async (t) => {
      const server = await listenEcho({ perMessageDeflate: config.options, maxPayload: 64 * MiB });
      servers.push(server);
      const conn = new Promise<{ ws: EventEmitter & { extensions: string; _socket: Socket }; req: IncomingMessage; log: MessageLog }>((resolve) =>
        server.wss.once('connection', (ws: EventEmitter & { extensions: string; _socket: Socket }, req: IncomingMessage) =>
          resolve({ ws, req, log: new MessageLog(ws) }),
        ),
      );
      const child = new Child(python, ['-u', script, `${server.base}/py`], { cwd: tmp });
      children.push(child);
      const { ws, req, log } = await withTimeout(conn, 20_000, 'the Python client to connect');
      const exit = await withTimeout(child.exited, 90_000, 'the Python client to finish').catch(async (e) => {
        await child.stop('SIGKILL', 1000);
        throw new Error(`${(e as Error).message}: ${child.describe()}`);
      });
      const out = child.describe();
      assert.equal(exit.code, 0, out);

      // Negotiation: the offer, Switchboard's answer, and what Python made of it.
      assert.equal(req.headers['sec-websocket-extensions'], 'permessage-deflate; client_max_window_bits', out);
      assert.match(ws.extensions, config.answer);
      const header = child.lines.find((l) => l.startsWith('HEADER '))?.slice(7);
      assert.equal(header, ws.extensions, `Python saw the answer: ${out}`);
      const extensions = JSON.parse(child.lines.find((l) => l.startsWith('EXTENSIONS '))!.slice(11)) as Array<Record<string, unknown>>;
      assert.equal(extensions.length, 1, out);
      assert.equal(extensions[0]!.name, 'permessage-deflate');
      for (const [key, value] of Object.entries(config.params)) {
        if (value === null) continue;
        assert.equal(extensions[0]![key], value, `Python's ${key}: ${JSON.stringify(extensions[0])}`);
      }
      if (config.params.remote_no_context_takeover === null) {
        // Whatever the server chose, Python must agree with it.
        assert.equal(extensions[0]!.remote_no_context_takeover, /server_no_context_takeover/.test(ws.extensions));
      }

      // Every echo intact, and the close.
      const echoes = child.lines.filter((l) => l.startsWith('ECHO '));
      assert.equal(echoes.length, 36, out);
      assert.deepEqual(
        echoes.filter((l) => !/ ok /.test(l)),
        [],
        out,
      );
      assert.ok(child.lines.includes('DONE 1000'), out);

      // What Switchboard received: the same messages, compressed on the wire.
      const expected = messagesToSend();
      assert.equal(log.messages.length, expected.length);
      const big = log.messages[4]!;
      assert.equal(big.isBinary, false);
      assert.equal(JSON.parse(big.data.toString())[0].tag, 'big');
      const blocks = log.messages[5]!;
      assert.equal(blocks.isBinary, true);
      assert.equal(blocks.data.length, 4 * MiB);
      assert.ok(blocks.data.subarray(0, 20 * 1024).equals(blocks.data.subarray(20 * 1024, 40 * 1024)), 'the repeated blocks arrived');
      const payload = log.messages.reduce((n, m) => n + m.data.length, 0);
      const socket = ws._socket;
      t.diagnostic(`answer "${ws.extensions}"; Python: ${JSON.stringify(extensions[0])}; ${payload} bytes of messages, ${socket.bytesRead} bytes read, ${socket.bytesWritten} written`);
      // The repeated random blocks compress well only within a window that reaches 20 KiB back; JSON always does.
      assert.ok(socket.bytesRead < payload * 0.8, `the server read ${socket.bytesRead} bytes for ${payload} bytes of messages`);
      assert.ok(socket.bytesWritten < payload * 0.8, `the server wrote ${socket.bytesWritten} bytes for ${payload} bytes of messages`);
    });
  }
});

describe(`Switchboard client -> Python websockets ${version} server with compression`, { timeout: 180_000 }, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-python-deflate-server-'));
  const clients = new Set<Client>();
  let server: Child | undefined;
  const ports: Record<string, number> = {};

  before(async () => {
    const script = path.join(tmp, 'server.py');
    writeFileSync(script, SERVER_PY);
    server = new Child(python, ['-u', script], { cwd: tmp });
    for (const tag of ['default', 'strict']) {
      const [, port] = await server.waitForLine(new RegExp(`^PORT ${tag} (\\d+)$`), 20_000);
      ports[tag] = Number(port);
    }
  });

  after(async () => {
    for (const c of clients) c.terminate();
    await server?.stop('SIGTERM', 2000);
    rmSync(tmp, { recursive: true, force: true });
  });

  const cases: Array<{ tag: string; answer: RegExp[]; options?: ConstructorParameters<typeof WebSocket>[2] }> = [
    { tag: 'default', answer: [/^permessage-deflate/, /server_max_window_bits=12/, /client_max_window_bits=12/] },
    {
      tag: 'strict',
      answer: [/^permessage-deflate/, /server_no_context_takeover/, /client_no_context_takeover/, /server_max_window_bits=10/, /client_max_window_bits=9/],
      options: { perMessageDeflate: { threshold: 0 } },
    },
  ];

  for (const c of cases) {
    test(`${c.tag} server: the client's extensions name permessage-deflate with Python's parameters; echoes intact`, { timeout: 90_000 }, async (t) => {
      const client = new WebSocket(`ws://127.0.0.1:${ports[c.tag]}/echo`, { maxPayload: 64 * MiB, ...(c.options ?? {}) });
      clients.add(client);
      const upgrade = onceEvent<[IncomingMessage]>(client, 'upgrade', 10_000);
      const log = new MessageLog(client);
      await onceEvent(client, 'open', 10_000);
      const [res] = await upgrade;
      const header = String(res.headers['sec-websocket-extensions']);
      assert.equal(client.extensions, header);
      for (const re of c.answer) assert.match(client.extensions, re);

      const msgs = messagesToSend();
      for (const m of msgs) client.send(m.data, { binary: m.binary });
      const echoed = await log.next(msgs.length, 60_000);
      msgs.forEach((m, i) => {
        const got = echoed[i]!;
        const want = Buffer.from(m.data);
        assert.equal(got.isBinary, m.binary, `echo ${i}: isBinary`);
        assert.ok(got.data.equals(want), `echo ${i}: got ${show(got.data)}, expected ${show(want)}`);
      });
      const socket = (client as unknown as { _socket: Socket })._socket;
      const payload = msgs.reduce((n, m) => n + Buffer.byteLength(m.data), 0);
      t.diagnostic(`answer "${header}"; ${payload} bytes of messages; client wrote ${socket.bytesWritten}, read ${socket.bytesRead}`);
      assert.ok(socket.bytesWritten < payload * 0.8, `the client wrote ${socket.bytesWritten} bytes for ${payload} bytes: not compressed`);
      assert.ok(socket.bytesRead < payload * 0.8, `the client read ${socket.bytesRead} bytes for ${payload} bytes: not compressed`);

      const closed = onceEvent<[number, Buffer]>(client, 'close', 10_000);
      client.close(1000, 'js-done');
      const [code] = await closed;
      assert.equal(code, 1000);
      const line = await server!.waitFor(
        () => server!.lines.find((l) => l.startsWith(`closed ${c.tag} `) && l.includes('js-done')),
        `Python's closed line for ${c.tag}`,
        10_000,
      );
      assert.match(line, new RegExp(`^closed ${c.tag} 1000 js-done after ${msgs.length}$`));
      const ext = server!.lines.filter((l) => l.startsWith(`EXT ${c.tag} `)).pop()!;
      assert.match(ext, /^EXT \w+ permessage-deflate; client_max_window_bits \| permessage-deflate/, ext);
    });
  }
});
