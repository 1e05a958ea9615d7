// `switchboard serve --hub`: the real command as a child process, with
// switchboard/client (over Switchboard's WebSocket) and plain HTTP requests
// on 127.0.0.1: the hub, its authentication (shared token, HS256 JWT), the
// Origin check, history size, rate limits and the publish API (--redis:
// serve-hub-redis.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { HubClient, type ClientOptions } from '../../packages/switchboard/src/client/index.js';
import { signJwt } from '../../packages/cli/src/hub-auth.js';
import { withTimeout } from '../helpers/async.js';
import { repoRoot } from '../helpers/env.js';
import { assertBuilt, runCli, startServe, stopAll, until, type Served } from './helpers.js';

const SECRET = 'jwt-secret-for-tests';

function hubUrl(s: Served, query = ''): string {
  return `${s.url}hub${query}`;
}

function client(url: string, options: ClientOptions = {}): HubClient<any, any> {
  return new HubClient(url, { WebSocket, reconnect: false, ...options });
}

/** How a client that is refused ends: the close code (the hub closes with 4401 for a bad token). */
async function refusal(url: string, options: ClientOptions = {}): Promise<{ code: number; message: string }> {
  const c = client(url, options);
  const errors: string[] = [];
  c.on('error', (e) => errors.push(e.message));
  const closed = await withTimeout(new Promise<number>((resolve) => c.on('disconnect', (info) => resolve(info.code))), 5000, 'the refusal');
  return { code: closed, message: errors.join('; ') };
}

async function post(s: Served, body: unknown, key: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${s.port}/api/publish`, {
    method: 'POST',
    headers: { authorization: `apikey ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Whether @switchboard/redis can be imported from the CLI package (it is a separate, optional package). */
describe('switchboard serve --hub', { timeout: 120_000 }, () => {
  before(assertBuilt);
  const clients: Array<HubClient<any, any>> = [];
  after(async () => {
    for (const c of clients) c.close();
    await stopAll();
  });

  test('a hub on /hub: clients join a room and see each other\'s messages; GET / is still the playground; SIGTERM exits 0', async () => {
    const s = await startServe(['--hub']);
    const a = client(hubUrl(s));
    const b = client(hubUrl(s));
    clients.push(a, b);
    const got: unknown[] = [];
    b.on('chat', (d: unknown) => got.push(d));
    await Promise.all([a.ready(), b.ready()]);
    await a.join('lobby');
    await b.join('lobby');
    assert.equal(await a.publish('lobby', 'chat', 'hello'), 1);
    await until(() => got.length === 1, 'b\'s message');
    assert.deepEqual(got, ['hello']);
    await s.child.waitForLine(/#1 connect 127\.0\.0\.1 \/hub \(protocol switchboard\.v1\)/);
    // Another path is refused (400); the publish API is off without --api-key.
    const other = await withTimeout(WebSocket.connect(`${s.url}elsewhere`, { protocols: ['switchboard.v1'] }).then(() => 'open', (e: Error) => e.message), 5000, 'other path');
    assert.match(other, /400/);
    assert.equal((await fetch(`http://127.0.0.1:${s.port}/api/publish`, { method: 'POST' })).status, 426);
    // The playground (when built) is still on GET /.
    const page = await fetch(`http://127.0.0.1:${s.port}/`);
    if (existsSync(`${repoRoot}/packages/cli/dist/playground/index.html`)) assert.match(`${page.status} ${page.headers.get('content-type')}`, /^200 text\/html/);
    else assert.equal(page.status, 426);
    a.close();
    b.close();
    const exit = await s.child.stop('SIGTERM', 5000);
    assert.deepEqual([exit.code, exit.killed], [0, false], s.child.describe());
  });

  test('--jwt-secret: an HS256 token\'s "sub" is the user id; a bad, expired, unsigned or missing token is refused with 4401', async () => {
    const s = await startServe(['--hub', '--jwt-secret', SECRET]);
    const now = Math.floor(Date.now() / 1000);
    const good = signJwt({ sub: 'ann', exp: now + 60 }, SECRET);
    const viaHello = client(hubUrl(s), { auth: { token: good } });
    clients.push(viaHello);
    await viaHello.ready();
    assert.equal(viaHello.user, 'ann');
    const viaQuery = client(hubUrl(s, `?token=${signJwt({ sub: 'bob' }, SECRET)}`));
    clients.push(viaQuery);
    await viaQuery.ready();
    assert.equal(viaQuery.user, 'bob');

    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"eve"}').toString('base64url')}.`;
    const forged = signJwt({ sub: 'ann' }, 'another-secret');
    const tampered = good.replace(/^([^.]+)\.[^.]+/, (_, h: string) => `${h}.${Buffer.from('{"sub":"root"}').toString('base64url')}`);
    for (const [what, token] of [
      ['forged', forged],
      ['tampered', tampered],
      ['alg none', unsigned],
      ['expired', signJwt({ sub: 'ann', exp: now - 10 }, SECRET)],
      ['not yet valid', signJwt({ sub: 'ann', nbf: now + 3600 }, SECRET)],
      ['garbage', 'not-a-jwt'],
    ] as const) {
      const r = await refusal(hubUrl(s), { auth: { token } });
      assert.equal(r.code, 4401, what);
      assert.match(r.message, /Invalid token/, what);
    }
    const none = await refusal(hubUrl(s));
    assert.equal(none.code, 4401);
    assert.match(none.message, /A token is required/);
  });

  test('--auth-token: the shared secret lets a client in (with the user it names); a wrong one gets 4401', async () => {
    const s = await startServe(['--hub', '--auth-token', 's3cret']);
    const ok = client(hubUrl(s), { auth: { token: 's3cret', user: 'svc-billing' } });
    clients.push(ok);
    await ok.ready();
    assert.equal(ok.user, 'svc-billing');
    const wrong = await refusal(hubUrl(s), { auth: { token: 's3cre' } });
    assert.equal(wrong.code, 4401);
  });

  test('--allow-origin: a browser from another origin gets 403; a listed origin and clients that send none get in', async () => {
    const s = await startServe(['--hub', '--allow-origin', 'https://app.example.com,http://localhost:3000']);
    const connect = (origin?: string) =>
      withTimeout(
        WebSocket.connect(hubUrl(s), { protocols: ['switchboard.v1'], headers: origin === undefined ? {} : { Origin: origin } }).then(
          (ws) => {
            ws.terminate();
            return 'open';
          },
          (e: Error) => e.message,
        ),
        5000,
        'connect',
      );
    assert.match(await connect('https://evil.example'), /403/);
    assert.equal(await connect('https://app.example.com'), 'open');
    assert.equal(await connect('http://localhost:3000'), 'open');
    assert.equal(await connect(), 'open');
    await s.child.waitForLine(/refused 127\.0\.0\.1:\d+ 403 origin https:\/\/evil\.example is not allowed/);
  });

  test('--api-key: POST /api/publish reaches the room; --history 2 keeps two messages per room', async () => {
    const s = await startServe(['--hub', '--api-key', 'k-123', '--history', '2']);
    for (const n of [1, 2, 3]) assert.deepEqual(await post(s, { room: 'news', event: 'item', data: n }, 'k-123'), { status: 200, body: { id: n } });
    assert.equal((await post(s, { room: 'news', event: 'item', data: 4 }, 'wrong')).status, 401);
    const c = client(hubUrl(s));
    clients.push(c);
    const got: unknown[] = [];
    c.on('item', (d: unknown) => got.push(d));
    await c.ready();
    await c.join('news', { history: true });
    await until(() => got.length === 2, 'the held history');
    assert.deepEqual(got, [2, 3]);
  });

  test('--rate 1 --burst 3: messages past the burst get rate_limited', async () => {
    const s = await startServe(['--hub', '--rate', '1', '--burst', '3']);
    const c = client(hubUrl(s));
    clients.push(c);
    await c.ready();
    await c.join('r'); // hello and join take two of the three tokens
    // Five at once need about four seconds of refill at one a second: some are refused.
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => c.publish('r', 'x', n)));
    const limited = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'rate_limited');
    assert.ok(limited.length >= 1, JSON.stringify(results));
  });

  test('hub options without --hub are usage errors; from the environment they are ignored', async () => {
    for (const args of [['--api-key', 'k'], ['--redis', 'redis://x'], ['--jwt-secret', 's'], ['--history', '5']]) {
      const r = await runCli(['serve', '--echo', '--port', '0', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, new RegExp(`${args[0]} is an option of the hub server: add --hub`));
    }
    const fromEnv = await startServe(['--echo'], 10_000, { ...process.env, NO_COLOR: '1', SWITCHBOARD_API_KEY: 'k' });
    assert.ok(fromEnv.child.running);
    const conflict = await runCli(['serve', '--hub', '--echo', '--port', '0']);
    assert.equal(conflict.code, 2);
  });

  test('--advertise-url takes ws:// and wss:// URLs only', async () => {
    const r = await runCli(['serve', '--hub', '--port', '0', '--advertise-url', 'wss://rt1.example.com/hub,http://rt2.example.com/hub']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /http:\/\/rt2\.example\.com\/hub is not a ws:\/\/ or wss:\/\/ URL/);
    const without = await runCli(['serve', '--echo', '--port', '0', '--advertise-url', 'ws://a/hub']);
    assert.match(without.stderr, /--advertise-url is an option of the hub server: add --hub/);
  });
});
