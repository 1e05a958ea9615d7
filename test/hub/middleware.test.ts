// Middleware and permission hooks over real sockets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../packages/switchboard/src/hub/index.js';
import { RawClient, hubClient, startHub, type TestHub } from './helpers.js';

const TOKENS: Record<string, string> = { 'tok-ann': 'ann', 'tok-bob': 'bob' };

describe('hub: middleware and permissions', { timeout: 30_000 }, () => {
  let t: TestHub;
  const order: string[] = [];
  before(async () => {
    t = await startHub({
      rateLimit: false,
      canJoin: (client, room) => !room.startsWith('admin:') || client.userId === 'ann',
      canPublish: (client, _room, event) => event !== 'shout' || client.userId === 'ann',
    });
    t.hub.use((_client, next) => {
      order.push('first');
      next();
    });
    // Token from the handshake (query or Authorization header) or from hello's auth.
    t.hub.use(async (client) => {
      order.push('auth');
      const h = client.handshake;
      const bearer = /^Bearer (.+)$/.exec(String(h.headers.authorization ?? ''))?.[1];
      const token = h.query.get('token') ?? bearer ?? (h.auth as { token?: string } | undefined)?.token;
      if (token === undefined) throw Object.assign(new Error('A token is required'), { code: 'unauthorized' });
      const user = TOKENS[token];
      if (!user) throw new Error(`Unknown token ${token}`);
      client.userId = user;
    });
    t.hub.use((client, next) => {
      if (client.userId === 'bob' && client.handshake.query.get('banned') === '1') next(Object.assign(new Error('Banned'), { code: 'forbidden' }));
      else next();
    });
  });
  after(() => t.close());

  test('token from hello, from the query string and from a header', async () => {
    const a = await RawClient.open(t.url, { token: 'tok-ann' });
    assert.equal(a.received[0].user, 'ann');
    const b = await RawClient.connect(`${t.url}?token=tok-bob`);
    b.send({ t: 'hello' });
    assert.equal((await b.next((m) => m.t === 'welcome')).user, 'bob');
    const c = await RawClient.connect(t.url, { headers: { authorization: 'Bearer tok-ann' } });
    c.send({ t: 'hello' });
    assert.equal((await c.next((m) => m.t === 'welcome')).user, 'ann');
    assert.deepEqual(order.slice(0, 2), ['first', 'auth']);
    for (const x of [a, b, c]) x.ws.close();
  });

  test('refusal: an error with a clear code and message, then close 4401 (or 1008)', async () => {
    const none = await RawClient.connect(t.url);
    none.send({ t: 'hello' });
    const e1 = await none.next((m) => m.t === 'error');
    assert.deepEqual(e1, { t: 'error', code: 'unauthorized', message: 'A token is required' });
    assert.equal((await none.waitClosed()).code, 4401);

    const bad = await RawClient.connect(t.url);
    bad.send({ t: 'hello', auth: { token: 'forged' } });
    assert.deepEqual(await bad.next((m) => m.t === 'error'), { t: 'error', code: 'unauthorized', message: 'Unknown token forged' });
    assert.equal((await bad.waitClosed()).code, 4401);

    const banned = await RawClient.connect(`${t.url}?token=tok-bob&banned=1`);
    banned.send({ t: 'hello' });
    assert.deepEqual(await banned.next((m) => m.t === 'error'), { t: 'error', code: 'forbidden', message: 'Banned' });
    assert.equal((await banned.waitClosed()).code, 1008);
    assert.equal(t.hub.clients.size, 0, 'refused connections never appear');
  });

  test('the client library surfaces the refusal and does not reconnect', async () => {
    const client = hubClient(t.url, { auth: { token: 'forged' }, reconnect: { initialDelay: 10 } });
    const errors: HubError[] = [];
    client.on('error', (e) => errors.push(e));
    await assert.rejects(client.ready(), /4401/);
    assert.equal(errors[0]?.code, 'unauthorized');
    assert.equal(client.status, 'closed');
  });

  test('canJoin and canPublish', async () => {
    const bob = await RawClient.open(t.url, { token: 'tok-bob' });
    const ann = await RawClient.open(t.url, { token: 'tok-ann' });
    assert.deepEqual(await bob.call({ t: 'join', room: 'admin:ops' }, 1), { t: 'error', id: 1, code: 'forbidden', message: 'Not allowed to join "admin:ops"' });
    assert.equal((await ann.call({ t: 'join', room: 'admin:ops' }, 1)).t, 'ack');
    assert.deepEqual((await t.hub.presence('admin:ops')).map((m) => m.user), ['ann']);
    await bob.call({ t: 'join', room: 'open' }, 2);
    await ann.call({ t: 'join', room: 'open' }, 2);
    assert.equal((await bob.call({ t: 'pub', room: 'open', ev: 'shout', data: 1 }, 3)).code, 'forbidden');
    assert.equal((await bob.call({ t: 'pub', room: 'open', ev: 'talk', data: 1 }, 4)).t, 'ack');
    assert.equal((await bob.call({ t: 'pub', room: 'admin:ops', ev: 'talk', data: 1 }, 5)).code, 'not_member');
    bob.ws.close();
    ann.ws.close();
  });
});
