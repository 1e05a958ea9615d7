// Forwarded HTTP fallback requests between two hub nodes on a real
// redis-server, by plain HTTP requests to each node (docs/transports.md,
// "No sticky sessions"): a request for a session of node A sent to node B is
// answered by A; an id naming a node that is gone gets 404 at once; past
// `maxForwarded` requests in flight 503 `forward_busy`; an owner that does
// not answer (stopped with SIGSTOP) 504 `forward_timeout`; an owner killed
// while it holds a forwarded poll: 404 from B, without waiting the poll out;
// a stream through B that its client does not read: a slow consumer at A.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import http from 'node:http';
import { HOST, HubNode, startNode, until } from './helpers.js';

const FORWARD_TIMEOUT = 500;
const POLL_TIMEOUT = 3000;

describe('forwarded fallback requests: answers, bounds and errors', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let a: HubNode;
  let b: HubNode;
  before(async () => {
    redis = await startRedis();
    const hubFallback = { forwardTimeout: FORWARD_TIMEOUT, maxForwarded: 1, pollTimeout: POLL_TIMEOUT };
    [a, b] = await Promise.all([startNode({ url: redis.url, hubFallback }), startNode({ url: redis.url, hubFallback })]);
  });
  after(async () => {
    if (a?.proc.pid !== undefined) process.kill(a.proc.pid, 'SIGCONT');
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  const request = (node: HubNode, endpoint: string, session: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`http://${HOST}:${node.port}/hub/${endpoint}?session=${encodeURIComponent(session)}`, { signal: AbortSignal.timeout(20_000), ...init });
  const open = async (node: HubNode): Promise<string> => {
    const res = await fetch(`http://${HOST}:${node.port}/hub/open`, { method: 'POST', signal: AbortSignal.timeout(20_000) });
    assert.equal(res.status, 201);
    return ((await res.json()) as { session: string }).session;
  };
  const send = (node: HubNode, session: string, body: string): Promise<Response> => request(node, 'send', session, { method: 'POST', body });

  test('a session opened on A is served through B: its id names A; send, poll and close through B', async () => {
    const session = await open(a);
    assert.match(session, new RegExp(`^[A-Za-z0-9_-]{24}\\.${a.node}$`));
    assert.equal((await send(b, session, '{"t":"hello"}')).status, 204);
    const poll = await request(b, 'poll', session);
    assert.equal(poll.status, 200);
    const events = await poll.text();
    assert.match(events, /^id: 1\ndata: \{"t":"welcome"/, 'the welcome, forwarded from A');
    assert.equal((await request(b, 'close', session, { method: 'POST' })).status, 204);
    const after = await send(b, session, '{"t":"ping"}');
    assert.equal(after.status, 404);
    assert.equal(((await after.json()) as { error: string }).error, 'unknown_session');
  });

  test('an id naming a node that is gone, or a session its node does not have: 404 unknown_session', async () => {
    const started = Date.now();
    const gone = await send(b, `${'A'.repeat(24)}.nosuchnode`, '{"t":"hello"}');
    assert.equal(gone.status, 404);
    const body = (await gone.json()) as { error: string; message: string };
    assert.equal(body.error, 'unknown_session');
    assert.match(body.message, /gone/);
    assert.ok(Date.now() - started < FORWARD_TIMEOUT * 4, 'answered at once, not after a timeout');
    const unknown = await request(b, 'poll', `${'A'.repeat(24)}.${a.node}`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: string }).error, 'unknown_session');
  });

  test('maxForwarded: a request past the limit in flight gets 503 forward_busy', async () => {
    const session = await open(a);
    // Held by A (nothing to answer before hello) for up to pollTimeout: B's one slot is taken.
    const held = request(b, 'poll', session);
    await new Promise((r) => setTimeout(r, 200));
    const busy = await send(b, session, '{"t":"hello"}');
    assert.equal(busy.status, 503);
    assert.equal(busy.headers.get('retry-after'), '1');
    assert.equal(((await busy.json()) as { error: string }).error, 'forward_busy');
    assert.equal((await held).status, 200, 'the held poll is answered (empty) in time');
  });

  test('an SSE stream held by B for a session of A, whose client does not read: the session is closed at A as a slow consumer, nothing piles up at B', async () => {
    const session = await open(a);
    assert.equal((await send(b, session, '{"t":"hello"}\n{"t":"join","id":1,"room":"flood"}')).status, 204);
    let last = 0;
    let id = '';
    for (let i = 0; i < 20 && last < 2; i++) {
      const text = await (await fetch(`http://${HOST}:${b.port}/hub/poll?session=${encodeURIComponent(session)}&last=${last}`, { signal: AbortSignal.timeout(20_000) })).text();
      for (const m of text.matchAll(/id: (\d+)\ndata: (.*)\n/g)) {
        last = Number(m[1]);
        const message = JSON.parse(m[2]!) as { t: string; id?: string };
        if (message.t === 'welcome') id = message.id!;
      }
    }
    assert.ok(id !== '' && last >= 2, 'welcome and join answer');
    // The stream through B, never read.
    const stream = http.get(`http://${HOST}:${b.port}/hub/sse?session=${encodeURIComponent(session)}&last=${last}`);
    stream.on('error', () => {});
    const response = await new Promise<http.IncomingMessage>((resolve) => stream.once('response', resolve));
    assert.equal(response.statusCode, 200);
    response.pause();
    try {
      const big = 'x'.repeat(100_000);
      for (let i = 0; i < 200 && (await a.call<boolean>('holds', { client: id })); i++) await a.call('publish', { room: 'flood', ev: 'big', data: big });
      await until(async () => !(await a.call<boolean>('holds', { client: id })), 20_000, 'the session closed at A (slow consumer)');
    } finally {
      stream.destroy();
    }
  });

  test('the owner killed (kill -9) while it holds a forwarded poll: 404 unknown_session from B within about a second, not after the poll timeout', async () => {
    const hubFallback = { pollTimeout: 20_000 };
    const [owner, other] = await Promise.all([startNode({ url: redis.url, hubFallback }), startNode({ url: redis.url, hubFallback })]);
    try {
      const session = await open(owner!);
      const held = request(other!, 'poll', session);
      await new Promise((r) => setTimeout(r, 200));
      const killed = Date.now();
      await owner!.kill();
      const res = await held;
      const took = Date.now() - killed;
      assert.equal(res.status, 404);
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, 'unknown_session');
      assert.match(body.message, /gone/);
      assert.ok(took < 10_000, `answered ${took} ms after the kill (the poll would have waited 20 s)`);
    } finally {
      await Promise.all([owner!.stop(), other!.stop()]);
    }
  });

  test('an owner that does not answer (SIGSTOP): 504 forward_timeout after forwardTimeout', async () => {
    const session = await open(a);
    process.kill(a.proc.pid!, 'SIGSTOP');
    try {
      const res = await send(b, session, '{"t":"hello"}');
      assert.equal(res.status, 504);
      assert.equal(((await res.json()) as { error: string }).error, 'forward_timeout');
    } finally {
      process.kill(a.proc.pid!, 'SIGCONT');
    }
    // Back, A answers again through B; the timed-out request may still have been applied (as any HTTP request that timed out): here its hello was.
    const poll = await request(b, 'poll', session);
    assert.equal(poll.status, 200);
    assert.match(await poll.text(), /"t":"welcome"/);
  });
});
