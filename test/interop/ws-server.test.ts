// Switchboard's client talking to a `ws` WebSocketServer (the de-facto Node server).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocketServer as WsServer, type WebSocket as WsSocket } from 'ws';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { MessageLog, describe as show, patternBytes } from '../helpers/messages.js';
import { HOST } from '../helpers/net.js';

type Client = InstanceType<typeof WebSocket>;

const MiB = 1024 * 1024;
const clients = new Set<Client>();

function equalBytes(got: Buffer, want: Buffer, what: string): void {
  assert.equal(got.length, want.length, `${what}: length ${got.length}, expected ${want.length}`);
  assert.ok(got.equals(want), `${what}: content differs (got ${show(got)}, expected ${show(want)})`);
}

/** The arguments of the next `event`, bounded (an 'error' first does not reject). */
function nextEvent<A extends unknown[] = unknown[]>(emitter: NodeJS.EventEmitter, event: string, ms = 5000): Promise<A> {
  return withTimeout(new Promise<A>((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as A))), ms, `waiting for '${event}'`);
}

describe('switchboard client -> ws server', { timeout: 120_000 }, () => {
  let wss: WsServer;
  let base = '';
  /** The ws side of each connection and what it received. */
  const serverSide: Array<{ ws: WsSocket; log: MessageLog; path: string }> = [];

  before(async () => {
    wss = new WsServer({ host: HOST, port: 0, maxPayload: 16 * MiB });
    wss.on('connection', (ws, req) => {
      ws.on('error', () => {});
      const entry = { ws, log: new MessageLog(ws), path: req.url ?? '' };
      serverSide.push(entry);
      if (entry.path === '/echo') ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await onceEvent(wss, 'listening');
    base = `ws://${HOST}:${(wss.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const c of clients) c.terminate();
    for (const s of wss?.clients ?? []) s.terminate();
    await withTimeout(new Promise<void>((r) => wss.close(() => r())), 5000, 'ws server close').catch(() => {});
  });

  /** An open Switchboard client and the ws side of its connection. */
  async function connect(path = '/echo', options: Record<string, unknown> = {}): Promise<{ c: Client; server: (typeof serverSide)[number] }> {
    const conn = onceEvent<[WsSocket]>(wss, 'connection');
    const c = new WebSocket(`${base}${path}`, options);
    clients.add(c);
    await onceEvent(c, 'open');
    const [ws] = await conn;
    return { c, server: serverSide.find((e) => e.ws === ws)! };
  }

  async function roundTrip(msgs: Array<{ data: Buffer | string; binary: boolean }>, ms = 15_000): Promise<void> {
    const { c, server } = await connect();
    const log = new MessageLog(c);
    for (const m of msgs) c.send(m.data, { binary: m.binary });
    const [atServer, echoed] = await Promise.all([server.log.next(msgs.length, ms), log.next(msgs.length, ms)]);
    msgs.forEach((m, i) => {
      const want = Buffer.from(m.data);
      assert.equal(atServer[i]!.isBinary, m.binary, `message ${i}: ws saw isBinary=${atServer[i]!.isBinary}`);
      equalBytes(atServer[i]!.data, want, `message ${i} at the ws server`);
      assert.equal(echoed[i]!.isBinary, m.binary, `echo ${i}: isBinary=${echoed[i]!.isBinary}`);
      equalBytes(echoed[i]!.data, want, `echo ${i} at the client`);
    });
    c.close(1000);
    await nextEvent(c, 'close');
  }

  test('text messages (ASCII, multi-byte UTF-8, empty)', async () => {
    await roundTrip([
      { data: 'hello', binary: false },
      { data: 'héllo wörld — ✓ 🚀', binary: false },
      { data: '', binary: false },
      { data: 'x'.repeat(70_000), binary: false },
    ]);
  });

  test('binary messages (small, empty, 126 and 65536 bytes)', async () => {
    await roundTrip([
      { data: Buffer.from([0, 1, 2, 255]), binary: true },
      { data: Buffer.alloc(0), binary: true },
      { data: patternBytes(126, 3), binary: true },
      { data: patternBytes(65_536, 4), binary: true },
    ]);
  });

  test('a 4 MiB binary message', async () => {
    await roundTrip([{ data: patternBytes(4 * MiB, 42), binary: true }], 30_000);
  });

  test('a 4 MiB text message', async () => {
    await roundTrip([{ data: 'ab✓'.repeat((4 * MiB) / 5), binary: false }], 30_000);
  });

  test('fragmented messages from the client (send with fin: false) arrive whole at ws', async () => {
    const { c, server } = await connect('/sink');
    c.send('Hello, ', { fin: false });
    c.send('fragmented ', { fin: false });
    c.send('world', { fin: true });
    c.send(Buffer.from([1, 2]), { binary: true, fin: false });
    c.send(Buffer.from([3]), { binary: true, fin: false });
    c.send(Buffer.from([4, 5]), { binary: true, fin: true });
    const got = await server.log.next(2);
    assert.equal(got[0]!.isBinary, false);
    assert.equal(got[0]!.data.toString(), 'Hello, fragmented world');
    assert.equal(got[1]!.isBinary, true);
    equalBytes(got[1]!.data, Buffer.from([1, 2, 3, 4, 5]), 'binary fragments');
  });

  test('fragmented messages from ws (send with fin: false) arrive whole at the client', async () => {
    const { c, server } = await connect('/sink');
    const log = new MessageLog(c);
    server.ws.send('part one, ', { fin: false });
    server.ws.send('part two, ', { fin: false });
    server.ws.send('end', { fin: true });
    const big = patternBytes(300_000, 5);
    server.ws.send(big.subarray(0, 100_000), { binary: true, fin: false });
    server.ws.send(big.subarray(100_000), { binary: true, fin: true });
    const got = await log.next(2);
    assert.equal(got[0]!.isBinary, false);
    assert.equal(got[0]!.data.toString(), 'part one, part two, end');
    assert.equal(got[1]!.isBinary, true);
    equalBytes(got[1]!.data, big, 'binary fragments from ws');
  });

  test('ping from the client: ws answers with a pong carrying the payload', async () => {
    const { c, server } = await connect('/sink');
    const pingAtServer = nextEvent<[Buffer]>(server.ws, 'ping');
    const pong = nextEvent<[Buffer]>(c, 'pong');
    c.ping('client ping');
    assert.equal((await pingAtServer)[0].toString(), 'client ping');
    assert.equal((await pong)[0].toString(), 'client ping');
  });

  test('ping from ws: the client answers with a pong carrying the payload', async () => {
    const { c, server } = await connect('/sink');
    const pingAtClient = nextEvent<[Buffer]>(c, 'ping');
    const pong = nextEvent<[Buffer]>(server.ws, 'pong');
    server.ws.ping(Buffer.from([1, 2, 3]));
    equalBytes((await pingAtClient)[0], Buffer.from([1, 2, 3]), 'ping at the client');
    equalBytes((await pong)[0], Buffer.from([1, 2, 3]), 'pong at ws');
  });

  test('clean close started by the client: code and reason on both sides', async () => {
    const { c, server } = await connect('/sink');
    const serverClose = nextEvent<[number, Buffer]>(server.ws, 'close');
    const clientClose = withTimeout(
      new Promise<{ code: number; reason: string; wasClean: boolean }>((r) => c.addEventListener('close', r)),
      5000,
      'client close',
    );
    c.close(4000, 'client-bye');
    const [code, reason] = await serverClose;
    assert.equal(code, 4000);
    assert.equal(reason.toString(), 'client-bye');
    const e = await clientClose;
    assert.equal(e.code, 4000);
    assert.equal(e.wasClean, true);
    assert.equal(c.readyState, WebSocket.CLOSED);
  });

  test('clean close started by ws: code and reason on both sides', async () => {
    const { c, server } = await connect('/sink');
    const serverClose = nextEvent<[number, Buffer]>(server.ws, 'close');
    const clientClose = withTimeout(
      new Promise<{ code: number; reason: string; wasClean: boolean }>((r) => c.addEventListener('close', r)),
      5000,
      'client close',
    );
    server.ws.close(4002, 'server-bye');
    const e = await clientClose;
    assert.equal(e.code, 4002);
    assert.equal(e.reason, 'server-bye');
    assert.equal(e.wasClean, true);
    const [code] = await serverClose;
    assert.equal(code, 4002, 'ws sees the code the client echoed');
  });

  test('subprotocol negotiation with ws', async () => {
    const conn = onceEvent<[WsSocket]>(wss, 'connection');
    const c = new WebSocket(`${base}/sink`, ['v1', 'v2']);
    clients.add(c);
    await onceEvent(c, 'open');
    const [ws] = await conn;
    assert.equal(ws.protocol, 'v1', 'ws picks the first offered');
    assert.equal(c.protocol, 'v1');
  });
});
