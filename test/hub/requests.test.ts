// Requests with ack ids over real sockets, both ways: replies, errors and timeouts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubError, type HubConnection } from '../../packages/switchboard/src/hub/index.js';
import { RawClient, hubClient, startHub, until, type TestHub } from './helpers.js';

describe('hub: requests and replies', { timeout: 30_000 }, () => {
  let t: TestHub;
  let last: HubConnection | undefined;
  before(async () => {
    t = await startHub({ rateLimit: false, requestTimeout: 300 });
    t.hub.on('connection', (client) => {
      last = client;
      client.on('add', ({ a, b }: { a: number; b: number }, reply) => reply(a + b));
      client.on('slow', (_data, reply) => void setTimeout(() => reply('late'), 400));
      client.on('never', () => {});
      client.on('fails', () => {
        throw new Error('boom');
      });
      client.on('rejects', async () => {
        throw new Error('async boom');
      });
      client.on('refuses', (_d, reply) => reply.error('forbidden', 'not you'));
      client.on('note', (data, reply) => {
        assert.equal(reply.expected, false);
        client.emit('noted', data);
      });
    });
  });
  after(() => t.close());

  test('client → server: reply, error codes, no handler (raw protocol)', async () => {
    const c = await RawClient.open(t.url);
    assert.deepEqual(await c.call({ t: 'req', ev: 'add', data: { a: 2, b: 3 } }, 1), { t: 'ack', id: 1, data: 5 });
    const fail = await c.call({ t: 'req', ev: 'fails', data: null }, 2);
    assert.equal(fail.t, 'error');
    assert.equal(fail.code, 'handler_error');
    assert.match(fail.message, /boom/);
    assert.equal((await c.call({ t: 'req', ev: 'rejects', data: null }, 3)).code, 'handler_error');
    assert.deepEqual(await c.call({ t: 'req', ev: 'refuses' }, 4), { t: 'error', id: 4, code: 'forbidden', message: 'not you' });
    assert.equal((await c.call({ t: 'req', ev: 'nothing-here' }, 5)).code, 'no_handler');
    c.send({ t: 'emit', ev: 'note', data: 'x' });
    assert.equal((await c.next((m) => m.t === 'emit' && m.ev === 'noted')).data, 'x');
    c.ws.close();
  });

  test('client → server: the client library times out and ignores the late reply', async () => {
    const client = hubClient(t.url, { requestTimeout: 5000 });
    await client.ready();
    assert.equal(await client.request('add', { a: 1, b: 1 }), 2);
    const started = Date.now();
    await assert.rejects(client.request('slow', null, { timeout: 150 }), (e: HubError) => e.code === 'timeout');
    assert.ok(Date.now() - started < 1000);
    await assert.rejects(client.request('never', null, { timeout: 100 }), (e: HubError) => e.code === 'timeout');
    await assert.rejects(client.request('refuses', null), (e: HubError) => e.code === 'forbidden' && e.message === 'not you');
    await new Promise((r) => setTimeout(r, 350)); // the late 'slow' reply arrives and is dropped
    assert.equal(await client.request('add', { a: 20, b: 22 }), 42, 'the connection still works');
    client.close();
  });

  test('server → client: reply, error, no handler, timeout (hub default and per call)', async () => {
    const client = hubClient(t.url);
    client.on('ask', (q: string, reply) => reply(`answer to ${q}`));
    client.on('ask-slow', (_q: string, reply) => void setTimeout(() => reply('too late'), 500));
    client.on('ask-refused', (_q: unknown, reply) => reply.error('nope', 'declined'));
    client.on('ask-async', async () => {
      throw new Error('client boom');
    });
    last = undefined;
    await client.ready();
    await until(() => last !== undefined);
    const server = last!;
    assert.equal(await server.request('ask', 'life'), 'answer to life');
    await assert.rejects(server.request('ask-refused', null), (e: HubError) => e instanceof HubError && e.code === 'nope' && e.message === 'declined');
    await assert.rejects(server.request('ask-async', null), (e: HubError) => e.code === 'handler_error' && /client boom/.test(e.message));
    await assert.rejects(server.request('unknown-to-client', null), (e: HubError) => e.code === 'no_handler');
    let started = Date.now();
    await assert.rejects(server.request('ask-slow', null), (e: HubError) => e.code === 'timeout');
    const took = Date.now() - started;
    assert.ok(took >= 280 && took < 1000, `hub requestTimeout 300 ms, took ${took}`);
    started = Date.now();
    await assert.rejects(server.request('ask-slow', null, { timeout: 50 }), (e: HubError) => e.code === 'timeout');
    assert.ok(Date.now() - started < 300);
    // Pending requests fail when the connection goes.
    const pending = server.request('ask-slow', null, { timeout: 5000 });
    client.close();
    await assert.rejects(pending, (e: HubError) => e.code === 'disconnected');
  });
});
