// permessage-deflate at its limits: the one-shot inflate hands big messages
// to the thread pool, and compression failures fail one send and one
// connection, not the process or the zlib limiter.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { PerMessageDeflate } from '../../packages/switchboard/src/node/deflate.js';
import { startServer, withTimeout } from './helpers.js';

function open(url: string, options: ConstructorParameters<typeof WebSocket>[2]): Promise<WebSocket> {
  return withTimeout(WebSocket.connect(url, options), 5000, 'connect');
}

function nextMessage(ws: WebSocket): Promise<Buffer> {
  return withTimeout(new Promise<Buffer>((resolve) => ws.once('message', (data: Buffer) => resolve(data))), 10_000, 'a message');
}

function closeOf(ws: WebSocket): Promise<number> {
  return withTimeout(new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code))), 10_000, 'close');
}

describe('permessage-deflate limits', () => {
  test('a message of a few KiB compressed that inflates past the one-shot limit (2 MiB) arrives intact', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    server.wss.on('connection', (ws: WebSocket) => ws.on('message', (data: Buffer) => ws.send(String(data.length))));
    const client = await open(server.url, { perMessageDeflate: { clientNoContextTakeover: true } });
    t.after(() => client.terminate());
    assert.match(client.extensions, /client_no_context_takeover/);
    const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
    client.send(big, { binary: true });
    assert.equal((await nextMessage(client)).toString(), String(big.length));
  });

  test('the same message over maxPayload (1 MiB) closes with 1009 on the one-shot path', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true, maxPayload: 1024 * 1024 });
    const client = await open(server.url, { perMessageDeflate: { clientNoContextTakeover: true } });
    t.after(() => client.terminate());
    const closed = closeOf(client);
    client.send(Buffer.alloc(1024 * 1024 + 1, 0x61), { binary: true });
    assert.equal(await closed, 1009);
  });

  test('bad zlibDeflateOptions: each send fails with an error and 1011, the process and the zlib limiter carry on', async (t) => {
    const broken = await startServer(t, { perMessageDeflate: { zlibDeflateOptions: { level: 42 }, concurrencyLimit: 2 } });
    const errors: unknown[] = [];
    broken.wss.on('connection', (ws: WebSocket) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        // Whole messages go to the shared compressor, fragments to the connection's own deflater (through the limiter).
        if (data.toString() === 'whole') ws.send(Buffer.alloc(4096, 1), (error) => errors.push(error));
        else ws.send(Buffer.alloc(4096, 1), { fin: false, binary: isBinary }, (error) => errors.push(error));
      });
    });
    for (let i = 0; i < 4; i++) {
      const client = await open(broken.url, {});
      t.after(() => client.terminate());
      const closed = closeOf(client);
      client.send(i % 2 === 0 ? 'whole' : 'fragment');
      assert.equal(await closed, 1011);
    }
    assert.equal(errors.length, 4);
    assert.ok(errors.every((error) => error instanceof Error), 'every send callback got the error');

    // More failures than the limiter's two slots happened: compression through the limiter still works.
    const healthy = await startServer(t, { perMessageDeflate: { serverNoContextTakeover: false, concurrencyLimit: 2 } });
    healthy.wss.on('connection', (ws: WebSocket) => ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary })));
    const client = await open(healthy.url, {});
    t.after(() => client.terminate());
    const payload = Buffer.alloc(8192, 7);
    for (let i = 0; i < 3; i++) {
      client.send(payload, { binary: true });
      assert.ok((await nextMessage(client)).equals(payload));
    }
  });
});

describe('the inflation budget (maxInflatingBytes)', () => {
  test('10 connections inflating 4 MiB messages at once under a 1 MiB budget: every message arrives intact, in order', async (t) => {
    const server = await startServer(t, { perMessageDeflate: { maxInflatingBytes: 1024 * 1024 } });
    // Back to the default for the rest of the process (the budget is process-wide).
    t.after(() => void new PerMessageDeflate({ serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 }, true, 0, { maxInflatingBytes: 64 * 1024 * 1024 }));
    server.wss.on('connection', (ws: WebSocket) =>
      ws.on('message', (data: Buffer) => ws.send(`${data.length} ${createHash('sha1').update(data).digest('hex')}`, { compress: false })),
    );
    const clients = await Promise.all(Array.from({ length: 10 }, () => open(server.url, {})));
    t.after(() => clients.forEach((client) => client.terminate()));
    // Context takeover (the default offer): inflated on the thread pool, each message after the first depending on the one before.
    const messagesOf = (i: number): Buffer[] =>
      [0, 1, 2].map((m) => Buffer.from(`client ${i} message ${m} `.repeat(Math.ceil((4 * 1024 * 1024) / 24))));
    const answers = clients.map((client, i) => {
      const expected = messagesOf(i).map((m) => `${m.length} ${createHash('sha1').update(m).digest('hex')}`);
      return withTimeout(
        new Promise<string[]>((resolve) => {
          const got: string[] = [];
          client.on('message', (data: Buffer) => got.push(data.toString()) === expected.length && resolve(got));
        }),
        30_000,
        `the answers of client ${i}`,
      ).then((got) => assert.deepEqual(got, expected));
    });
    clients.forEach((client, i) => messagesOf(i).forEach((m) => client.send(m)));
    await Promise.all(answers);
  });
});
