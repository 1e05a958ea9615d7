// switchboard/client in Node on Switchboard's WebSocket, against a real hub:
// connect, join, on, emit, request, reconnection with backoff and jitter,
// heartbeats that detect a dead connection, resume, the outbox, typed events.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { HubClient, HubError, connect } from '../../packages/switchboard/src/client/index.js';
import type { HubConnection } from '../../packages/switchboard/src/hub/index.js';
import { delay, dropClient, hubClient, startHub, until, type TestHub } from '../hub/helpers.js';

describe('switchboard/client', { timeout: 60_000 }, () => {
  let t: TestHub;
  const conns: HubConnection[] = [];
  before(async () => {
    t = await startHub({ rateLimit: false, heartbeat: { interval: 200, timeout: 150 } });
    t.hub.on('connection', (c) => {
      conns.push(c);
      c.on('echo', (d, reply) => reply(d));
      c.on('shout', (text: string) => void t.hub.to('room').emit('shouted', text));
      c.on('whoami', (_d, reply) => reply(c.id));
    });
  });
  after(() => t.close());

  test('connect(), join, emit to the server, room messages from others, binary data', async () => {
    const a = await connect(t.url, { WebSocket });
    const b = await connect(t.url, { WebSocket });
    assert.equal(a.status, 'open');
    assert.ok(a.id);
    const got: Array<[unknown, unknown]> = [];
    b.on('shouted', (text, _reply, meta) => got.push([text, meta.room]));
    b.on('chat', (data, _reply, meta) => got.push([data, meta.from?.id]));
    await a.join('room');
    const joined = await b.join('room');
    assert.equal(joined.members.length, 2);
    await until(() => a.members('room').length === 2, 2000, 'presence pushed to a');
    a.emit('shout', 'HI');
    const mid = await a.publish('room', 'chat', { text: 'yo' });
    assert.equal(typeof mid, 'number');
    await until(() => got.length === 2);
    assert.deepEqual(got, [['HI', 'room'], [{ text: 'yo' }, a.id]]);
    const bytes = await a.request('echo', new Uint8Array([1, 2, 3, 250]));
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual([...(bytes as Uint8Array)], [1, 2, 3, 250]);
    await b.leave('room');
    await until(() => a.members('room').length === 1);
    a.close();
    b.close();
  });

  test('reconnection: exponential backoff with jitter, capped; resets after a connection', async () => {
    // Nothing listens on this port: every attempt fails at once.
    const delays: number[] = [];
    const client = hubClient('ws://127.0.0.1:1/hub', { reconnect: { initialDelay: 10, factor: 2, maxDelay: 80, jitter: 0.5, maxAttempts: 6 } });
    client.on('reconnecting', ({ delay }) => delays.push(delay));
    await assert.rejects(client.ready(), HubError);
    assert.equal(delays.length, 6);
    const bases = [10, 20, 40, 80, 80, 80];
    delays.forEach((d, i) => assert.ok(d <= bases[i]! && d >= bases[i]! / 2, `attempt ${i + 1}: ${d} ms within [${bases[i]! / 2}, ${bases[i]}]`));
    assert.equal(client.status, 'closed');
  });

  test('heartbeat: a connection whose server stopped answering is detected dead and replaced', async () => {
    const client = hubClient(t.url, { reconnect: { initialDelay: 10 } });
    const events: string[] = [];
    client.on('disconnect', (i) => events.push(`disconnect ${i.code}`));
    client.on('connect', (i) => events.push(i.reconnected ? 'reconnect' : 'connect'));
    await client.ready();
    const first = client.id!;
    const server = conns.find((c) => c.id === first)!;
    // The server side stops reading: pings go unanswered, like a dead peer or a half-open TCP connection.
    server.ws.pause();
    const started = Date.now();
    await until(() => events.includes('reconnect'), 3000, 'a reconnection');
    const took = Date.now() - started;
    assert.deepEqual(events, ['connect', 'disconnect 4408', 'reconnect']);
    assert.ok(took < 1500, `detected within interval + timeout (+ slack): ${took} ms`);
    assert.notEqual(client.id, first);
    assert.equal(await client.request('echo', 'alive'), 'alive');
    client.close();
    server.ws.terminate();
  });

  test('the outbox holds what is sent while disconnected (bounded: the oldest is dropped)', async () => {
    const received: number[] = [];
    t.hub.on('connection', (c) => c.on('count', (n: number) => received.push(n)));
    const client = hubClient(t.url, { reconnect: { initialDelay: 150, jitter: 0 }, outboxSize: 5 });
    await client.ready();
    dropClient(client);
    await until(() => client.status === 'reconnecting');
    const early = client.request('echo', 'dropped-from-outbox');
    for (let i = 1; i <= 5; i++) client.emit('count', i);
    await assert.rejects(early, (e: HubError) => e.code === 'outbox_full');
    const held = client.request('echo', 'held');
    await assert.rejects(Promise.race([held, delay(10).then(() => Promise.reject(new Error('x')))]));
    await client.ready();
    assert.equal(await held, 'held', 'a request sent while disconnected is answered after reconnecting');
    await until(() => received.length === 4);
    assert.deepEqual(received, [2, 3, 4, 5], 'held emits go out in order; the oldest was dropped');
    client.close();
  });

  test('rooms are rejoined and resumed after a reconnection; presence is rebuilt', async () => {
    const client = hubClient(t.url, { reconnect: { initialDelay: 10 } });
    const got: number[] = [];
    client.on('n', (n: number) => got.push(n));
    await client.ready();
    await client.join('again');
    await t.hub.to('again').emit('n', 1);
    await until(() => got.length === 1);
    dropClient(client);
    await until(() => client.status === 'reconnecting');
    await t.hub.to('again').emit('n', 2);
    await until(() => got.length === 2);
    assert.deepEqual(got, [1, 2]);
    assert.equal((await t.hub.presence('again')).length, 1);
    assert.equal(client.members('again')[0]?.id, client.id);
    client.close();
  });

  test('a join sent while disconnected is made once connected', async () => {
    const client = hubClient(t.url);
    const joined = client.join('later');
    assert.equal(client.status, 'connecting');
    const r = await joined;
    assert.equal(r.members[0]?.id, client.id);
    client.close();
  });

  test('errors the server sends with no request waiting reach the error event', async () => {
    const client = hubClient(t.url);
    const errors: HubError[] = [];
    client.on('error', (e) => errors.push(e));
    await client.ready();
    (client as unknown as { ws: WebSocket }).ws.send('not json');
    await until(() => errors.length === 1);
    assert.equal(errors[0]!.code, 'bad_json');
    client.close();
  });

  test('without a WebSocket class and no global one, a clear TypeError (WebSocket only); the HTTP transports otherwise', () => {
    if ('WebSocket' in globalThis) return;
    assert.throws(() => new HubClient('ws://127.0.0.1:1/hub', { transports: ['websocket'] }), /pass options.WebSocket/);
    const client = new HubClient('ws://127.0.0.1:1/hub', { reconnect: false });
    assert.equal(client.transport, 'sse');
    client.close();
  });

  test('typed events (compile time)', () => {
    interface ServerEvents {
      message: (m: { text: string }) => void;
      ask: (q: string) => number;
    }
    interface ClientEvents {
      add: (x: { a: number; b: number }) => number;
      say: (text: string) => void;
    }
    const check = (c: HubClient<ServerEvents, ClientEvents>): void => {
      c.on('message', (m) => m.text.toUpperCase());
      c.on('ask', (q, reply) => reply(q.length));
      // @ts-expect-error the reply of 'ask' is a number
      c.on('ask', (_q, reply) => reply('no'));
      c.emit('say', 'hi');
      // @ts-expect-error 'say' carries a string
      c.emit('say', 5);
      const r: Promise<number> = c.request('add', { a: 1, b: 2 });
      void r;
      // @ts-expect-error no such event
      c.emit('nope', 1);
      c.on('connect', (info) => info.id.length);
    };
    void check;
  });
});
