// The HTTP publish endpoint (HubOptions.publishApi): real HTTP requests on
// 127.0.0.1 to a hub on a real server, and a real client in the room.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hub, InProcessAdapter, type HubOptions, type PublishOptions } from '../../packages/switchboard/src/hub/index.js';
import { withTimeout } from '../helpers/async.js';
import { HOST, hubClient, until } from './helpers.js';

const KEY = 'k3y-for-tests';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** One HTTP request; the body is sent in the chunks given (chunked encoding when there are several). */
function request(port: number, options: { method?: string; path?: string; headers?: Record<string, string>; chunks?: Array<string | Buffer> }): Promise<Answer> {
  return withTimeout(
    new Promise<Answer>((resolve, reject) => {
      const req = http.request({ host: HOST, port, method: options.method ?? 'POST', path: options.path ?? '/api/publish', headers: options.headers, agent: false }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, headers: res.headers, body });
        });
      });
      // The server may answer (413) and close before the whole body is written.
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
      for (const chunk of options.chunks ?? []) req.write(chunk);
      req.end();
    }),
    5000,
    'HTTP request',
  );
}

function publish(port: number, body: unknown, headers: Record<string, string> = { authorization: `apikey ${KEY}` }): Promise<Answer> {
  return request(port, { headers: { 'content-type': 'application/json', ...headers }, chunks: [typeof body === 'string' ? body : JSON.stringify(body)] });
}

async function startApiHub(options: HubOptions = {}): Promise<{ hub: Hub<any, any>; port: number; url: string; close(): Promise<void> }> {
  const server = http.createServer();
  const hub = new Hub({ server, rateLimit: false, publishApi: { key: KEY }, ...options });
  server.on('request', (req, res) => {
    if (hub.handleRequest(req, res)) return;
    res.writeHead(404).end('not here');
  });
  hub.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    hub,
    port,
    url: `ws://${HOST}:${port}/hub`,
    close: async () => {
      await withTimeout(hub.close(), 5000, 'hub.close()').catch(() => {});
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('hub: HTTP publish endpoint', { timeout: 60_000 }, () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  test('POST {room, event, data} reaches the room\'s members with its id, and answers 200 {id}', async () => {
    const h = await startApiHub();
    closers.push(h.close);
    const client = hubClient(h.url);
    closers.push(async () => client.close());
    const got: Array<{ data: unknown; mid?: number }> = [];
    client.on('score', (data: unknown, _reply, meta) => got.push({ data, mid: meta.mid }));
    await client.ready();
    await client.join('game');
    const first = await publish(h.port, { room: 'game', event: 'score', data: { home: 1 } });
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { id: 1 });
    assert.equal(first.headers['content-type'], 'application/json');
    const second = await publish(h.port, { room: 'game', event: 'score', data: [2, 'x'] }, { authorization: `Bearer ${KEY}` });
    assert.deepEqual([second.status, second.body], [200, { id: 2 }]);
    await until(() => got.length === 2, 5000, 'both messages');
    assert.deepEqual(got, [
      { data: { home: 1 }, mid: 1 },
      { data: [2, 'x'], mid: 2 },
    ]);
    // Kept in history like any room message.
    assert.equal((await h.hub.history('game', 0)).messages.length, 2);
  });

  test('POST {user, event, data} reaches every connection of the user and answers 200 {}', async () => {
    const h = await startApiHub();
    closers.push(h.close);
    h.hub.use((client, next) => {
      client.userId = (client.handshake.auth as { user: string }).user;
      next();
    });
    const alice = hubClient(h.url, { auth: { user: 'alice' } });
    const bob = hubClient(h.url, { auth: { user: 'bob' } });
    closers.push(async () => alice.close(), async () => bob.close());
    const aliceGot: unknown[] = [];
    const bobGot: unknown[] = [];
    alice.on('note', (d: unknown) => aliceGot.push(d));
    bob.on('note', (d: unknown) => bobGot.push(d));
    await Promise.all([alice.ready(), bob.ready()]);
    const answer = await publish(h.port, { user: 'alice', event: 'note', data: 'hi' });
    assert.deepEqual([answer.status, answer.body], [200, {}]);
    await until(() => aliceGot.length === 1, 5000, 'alice\'s note');
    assert.deepEqual(aliceGot, ['hi']);
    assert.deepEqual(bobGot, []);
  });

  test('a missing, wrong or malformed key gets 401 and publishes nothing; any of several keys is accepted', async () => {
    const h = await startApiHub({ publishApi: { key: ['old-key', 'new-key'] } });
    closers.push(h.close);
    const body = { room: 'r', event: 'e', data: 1 };
    for (const headers of [{} as Record<string, string>, { authorization: 'apikey wrong' }, { authorization: 'apikey new-ke' }, { authorization: 'apikey new-keyy' }, { authorization: 'Basic bmV3LWtleQ==' }, { authorization: 'apikey' }, { authorization: 'apikey new-key extra' }]) {
      const answer = await publish(h.port, body, headers);
      assert.equal(answer.status, 401, JSON.stringify(headers));
      assert.equal(answer.body.error, 'unauthorized');
      assert.equal(answer.headers['www-authenticate'], 'Bearer');
    }
    assert.equal((await h.hub.history('r')).head, 0);
    assert.equal((await publish(h.port, body, { authorization: 'apikey old-key' })).status, 200);
    assert.equal((await publish(h.port, body, { authorization: 'BEARER new-key' })).status, 200);
    assert.equal((await h.hub.history('r')).head, 2);
  });

  test('401 comes before the body is looked at: no key and a huge or non-JSON body still get 401', async () => {
    const h = await startApiHub();
    closers.push(h.close);
    const answer = await request(h.port, { headers: { 'content-type': 'text/plain', 'content-length': String(10 * 1024 * 1024) }, chunks: ['x'] });
    assert.equal(answer.status, 401);
  });

  test('bodies that are not JSON, not objects or not valid requests get 400 with a message', async () => {
    const h = await startApiHub();
    closers.push(h.close);
    const cases: Array<[unknown, RegExp]> = [
      ['{"room":', /not valid JSON/],
      ['[1,2]', /JSON object/],
      ['null', /JSON object/],
      [{ room: 'r', data: 1 }, /"event"/],
      [{ room: 'r', event: '', data: 1 }, /"event"/],
      [{ room: 'r', event: 'x'.repeat(257) }, /"event"/],
      [{ room: '', event: 'e' }, /"room"/],
      [{ room: 5, event: 'e' }, /"room"/],
      [{ event: 'e', data: 1 }, /"room".*"user"/],
      [{ room: 'r', user: 'u', event: 'e' }, /not both/],
      [{ room: 'r', event: 'presence', data: 1 }, /reserved/],
    ];
    for (const [body, message] of cases) {
      const answer = await publish(h.port, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.error, 'bad_request');
      assert.match(answer.body.message, message);
    }
    assert.equal((await h.hub.history('r')).head, 0);
    // No data is null data.
    const noData = await publish(h.port, { room: 'r', event: 'e' });
    assert.deepEqual([noData.status, noData.body], [200, { id: 1 }]);
  });

  test('415 for a body that is not application/json; charset parameters are fine', async () => {
    const h = await startApiHub();
    closers.push(h.close);
    const body = JSON.stringify({ room: 'r', event: 'e', data: 1 });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      const headers: Record<string, string> = { authorization: `apikey ${KEY}` };
      if (type !== undefined) headers['content-type'] = type;
      const answer = await request(h.port, { headers, chunks: [body] });
      assert.equal(answer.status, 415, String(type));
      assert.equal(answer.body.error, 'unsupported_media_type');
    }
    const ok = await request(h.port, { headers: { authorization: `apikey ${KEY}`, 'content-type': 'Application/JSON; charset=utf-8' }, chunks: [body] });
    assert.equal(ok.status, 200);
  });

  test('413 for a body over maxBodySize, declared or streamed in chunks, and nothing is published', async () => {
    const h = await startApiHub({ publishApi: { key: KEY, maxBodySize: 1000 } });
    closers.push(h.close);
    const big = JSON.stringify({ room: 'r', event: 'e', data: 'x'.repeat(2000) });
    const declared = await publish(h.port, big);
    assert.equal(declared.status, 413);
    assert.equal(declared.body.error, 'too_large');
    const chunked = await request(h.port, {
      headers: { authorization: `apikey ${KEY}`, 'content-type': 'application/json' },
      chunks: [big.slice(0, 600), big.slice(600, 1200), big.slice(1200)],
    });
    assert.equal(chunked.status, 413);
    assert.equal((await h.hub.history('r')).head, 0);
    // Exactly at the limit is fine.
    const fits = JSON.stringify({ room: 'r', event: 'e', data: '' });
    const padded = fits + ' '.repeat(1000 - fits.length);
    assert.equal((await publish(h.port, padded)).status, 200);
  });

  test('405 for other methods; other paths are left to the application; without publishApi nothing is answered', async () => {
    const h = await startApiHub();
    closers.push(h.close);
    const get = await request(h.port, { method: 'GET', headers: { authorization: `apikey ${KEY}` } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    const elsewhere = await request(h.port, { path: '/api/other', headers: { authorization: `apikey ${KEY}`, 'content-type': 'application/json' }, chunks: ['{}'] });
    assert.deepEqual([elsewhere.status, elsewhere.body], [404, 'not here']);
    const withQuery = await request(h.port, { path: '/api/publish?x=1', headers: { authorization: `apikey ${KEY}`, 'content-type': 'application/json' }, chunks: ['{"room":"r","event":"e"}'] });
    assert.equal(withQuery.status, 200);

    const plain = await startApiHub({ publishApi: undefined });
    closers.push(plain.close);
    const answer = await publish(plain.port, { room: 'r', event: 'e' });
    assert.deepEqual([answer.status, answer.body], [404, 'not here']);
  });

  test('a publish the adapter refuses gets 503 with its message (never a silent 200)', async () => {
    class DownAdapter extends InProcessAdapter {
      override publish(_room: string, _message: PublishOptions): Promise<number> {
        return Promise.reject(new Error('store unreachable'));
      }
    }
    const h = await startApiHub({ adapter: new DownAdapter() });
    closers.push(h.close);
    const answer = await publish(h.port, { room: 'r', event: 'e', data: 1 });
    assert.equal(answer.status, 503);
    assert.deepEqual(answer.body, { error: 'publish_failed', message: 'store unreachable' });
  });

  test('with `port`, the hub\'s own server answers the endpoint (and 426 elsewhere) besides WebSocket connections', async () => {
    const hub = new Hub({ port: 0, host: HOST, rateLimit: false, publishApi: { key: KEY, path: '/publish' } });
    hub.on('error', () => {});
    closers.push(() => withTimeout(hub.close(), 5000, 'hub.close()'));
    await withTimeout(new Promise((resolve) => hub.once('listening', resolve)), 5000, 'listening');
    const port = (hub.wss!.address() as AddressInfo).port;
    const client = hubClient(`ws://${HOST}:${port}/hub`);
    closers.push(async () => client.close());
    const got: unknown[] = [];
    client.on('e', (d: unknown) => got.push(d));
    await client.ready();
    await client.join('r');
    const answer = await request(port, { path: '/publish', headers: { authorization: `apikey ${KEY}`, 'content-type': 'application/json' }, chunks: ['{"room":"r","event":"e","data":7}'] });
    assert.deepEqual([answer.status, answer.body], [200, { id: 1 }]);
    await until(() => got.length === 1, 5000, 'the message');
    assert.deepEqual(got, [7]);
    const other = await request(port, { method: 'GET', path: '/' });
    assert.equal(other.status, 426);
  });

  test('an invalid publishApi option throws at construction', () => {
    assert.throws(() => new Hub({ publishApi: { key: '' } }), { code: 'WS_ERR_INVALID_OPTION' });
    assert.throws(() => new Hub({ publishApi: { key: [] } }), { code: 'WS_ERR_INVALID_OPTION' });
    assert.throws(() => new Hub({ publishApi: { key: 'k', path: 'api' } }), { code: 'WS_ERR_INVALID_OPTION' });
    assert.throws(() => new Hub({ publishApi: { key: 'k', maxBodySize: 0 } }), { code: 'WS_ERR_INVALID_OPTION' });
  });
});
