// The HTTP fallback endpoints (src/hub/http-fallback.ts, http-session.ts)
// spoken by hand with fetch over real sockets: a session, the uplink, both
// downlinks, and the refusals (unknown session, origin, size, queue bound).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, type TestHub } from './helpers.js';
import type { HubOptions } from '../../packages/switchboard/src/hub/index.js';

/** SSE text → the events in it. */
function parseEvents(text: string): Array<{ id?: number; event?: string; data: any }> {
  const events: Array<{ id?: number; event?: string; data: any }> = [];
  for (const block of text.split('\n\n')) {
    let id: number | undefined;
    let event: string | undefined;
    let data: string | undefined;
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) id = Number(line.slice(4));
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data = line.slice(6);
    }
    if (data !== undefined) events.push({ id, event, data: JSON.parse(data) });
  }
  return events;
}

const hubs: TestHub[] = [];
async function start(options: HubOptions = {}): Promise<{ t: TestHub; base: string }> {
  const t = await startHub(options);
  t.server.removeAllListeners('request');
  t.server.on('request', (req, res) => {
    if (!t.hub.handleRequest(req, res)) res.writeHead(404).end();
  });
  hubs.push(t);
  return { t, base: t.url.replace('ws://', 'http://') };
}

class Session {
  last = 0;
  constructor(
    readonly base: string,
    readonly id: string,
  ) {}
  static async open(base: string): Promise<Session> {
    const res = await fetch(`${base}/open`, { method: 'POST' });
    assert.equal(res.status, 201);
    return new Session(base, ((await res.json()) as { session: string }).session);
  }
  send(...messages: object[]): Promise<Response> {
    return fetch(`${this.base}/send?session=${this.id}`, { method: 'POST', body: messages.map((m) => JSON.stringify(m)).join('\n') });
  }
  async poll(): Promise<Array<{ id?: number; event?: string; data: any }>> {
    const res = await fetch(`${this.base}/poll?session=${this.id}&last=${this.last}`);
    assert.equal(res.status, 200);
    const events = parseEvents(await res.text());
    for (const e of events) if (e.id !== undefined) this.last = e.id;
    return events;
  }
  /** Polls until `count` messages have come (bounded). */
  async take(count: number): Promise<any[]> {
    const got: any[] = [];
    for (let i = 0; i < 50 && got.length < count; i++) for (const e of await this.poll()) got.push(e.event === 'close' ? { close: e.data } : e.data);
    return got;
  }
}

describe('HTTP fallback endpoints', { timeout: 60_000 }, () => {
  after(async () => {
    for (const t of hubs) await t.close();
  });

  test('a session: hello, welcome, a request answered, a room message, over polling', async () => {
    const { t, base } = await start({ fallback: { pollTimeout: 2000 } });
    t.hub.on('connection', (client) => client.on('add', (data: { a: number; b: number }, reply) => reply(data.a + data.b)));
    const s = await Session.open(base);
    assert.equal((await s.send({ t: 'hello' })).status, 204);
    const [welcome] = await s.take(1);
    assert.equal(welcome.t, 'welcome');
    await s.send({ t: 'req', id: 1, ev: 'add', data: { a: 2, b: 3 } }, { t: 'join', id: 2, room: 'r' });
    const got = await s.take(2);
    assert.deepEqual(got[0], { t: 'ack', id: 1, data: 5 });
    assert.equal(got[1].t, 'ack');
    await t.hub.to('r').emit('news', { n: 1 });
    const [msg] = await s.take(1);
    assert.deepEqual([msg.t, msg.room, msg.ev, msg.data], ['msg', 'r', 'news', { n: 1 }]);
  });

  test('a poll answer that is lost is answered again: messages stay queued until the next poll acknowledges them', async () => {
    const { t, base } = await start({ fallback: { pollTimeout: 1000 } });
    const s = await Session.open(base);
    await s.send({ t: 'hello' });
    await s.take(1);
    const client = [...t.hub.clients.values()][0]!;
    client.emit('one', 1);
    const first = await s.poll();
    assert.deepEqual(first.map((e) => e.data.ev), ['one']);
    s.last -= 1; // as if that answer never arrived
    client.emit('two', 2);
    const again = await s.poll();
    assert.deepEqual(again.map((e) => e.data.ev), ['one', 'two']);
  });

  test('the SSE downlink streams id/data events; the hub closing the connection sends event: close', async () => {
    const { t, base } = await start();
    const s = await Session.open(base);
    const res = await fetch(`${base}/sse?session=${s.id}`);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    await s.send({ t: 'hello' });
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    const readUntil = async (pred: () => boolean): Promise<void> => {
      while (!pred()) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil(() => parseEvents(text).length >= 1);
    assert.equal(parseEvents(text)[0]!.data.t, 'welcome');
    assert.equal(parseEvents(text)[0]!.id, 1);
    [...t.hub.clients.values()][0]!.disconnect(4001, 'bye');
    await readUntil(() => false);
    const last = parseEvents(text).at(-1)!;
    assert.deepEqual(last, { id: undefined, event: 'close', data: { code: 4001, reason: 'bye' } });
  });

  test('middleware refusing the hello closes the session with its code, as on a WebSocket', async () => {
    const { t, base } = await start();
    t.hub.use((_client, next) => next(Object.assign(new Error('no'), { code: 'unauthorized' })));
    const s = await Session.open(base);
    await s.send({ t: 'hello', auth: 'x' });
    const got = await s.take(2);
    assert.equal(got[0].t, 'error');
    assert.equal(got[1].close.code, 4401);
  });

  test('an unknown or malformed session id gets 404 on every endpoint', async () => {
    const { base } = await start();
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAAAA', 'nope', '']) {
      const poll = await fetch(`${base}/poll?session=${id}`);
      assert.equal(poll.status, 404);
      assert.equal(((await poll.json()) as { error: string }).error, 'unknown_session');
      assert.equal((await fetch(`${base}/sse?session=${id}`)).status, 404);
      assert.equal((await fetch(`${base}/send?session=${id}`, { method: 'POST', body: '{"t":"hello"}' })).status, 404);
    }
  });

  test('Origin: same origin allowed, another refused with 403 unless listed; CORS headers for allowed ones', async () => {
    const { base } = await start();
    assert.equal((await fetch(`${base}/open`, { method: 'POST', headers: { Origin: 'https://evil.example' } })).status, 403);
    const same = await fetch(`${base}/open`, { method: 'POST', headers: { Origin: new URL(base).origin } });
    assert.equal(same.status, 201);
    const listed = await start({ fallback: { origins: ['https://app.example'] } });
    const res = await fetch(`${listed.base}/open`, { method: 'POST', headers: { Origin: 'https://app.example' } });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal((await fetch(`${listed.base}/open`, { method: 'POST', headers: { Origin: 'https://other.example' } })).status, 403);
  });

  test('limits: a body over the limit gets 413, a message over maxMessageSize gets too_large, the rate limit applies', async () => {
    const { base } = await start({ maxMessageSize: 1000, rateLimit: { rate: 1, burst: 3 } });
    const s = await Session.open(base);
    const huge = await fetch(`${base}/send?session=${s.id}`, { method: 'POST', body: 'x'.repeat(1000 + 64 * 1024 + 1) });
    assert.equal(huge.status, 413);
    await s.send({ t: 'hello' }, { t: 'emit', ev: 'e', data: 'y'.repeat(1200) }, { t: 'ping' }, { t: 'ping' }, { t: 'ping' });
    const got = await s.take(4);
    // The refusals are answered on arrival, the welcome once middleware has run.
    assert.ok(got.some((m) => m.t === 'welcome'), JSON.stringify(got));
    assert.ok(got.some((m) => m.code === 'too_large'), JSON.stringify(got));
    assert.ok(got.some((m) => m.code === 'rate_limited'), JSON.stringify(got));
  });

  test('queue overflow: a session that does not take its messages is closed with 1013 (slow consumer)', async () => {
    const { t, base } = await start({ fallback: { maxQueuedMessages: 50 } });
    let slow = 0;
    t.hub.on('slowConsumer', () => slow++);
    const s = await Session.open(base);
    await s.send({ t: 'hello' });
    for (let i = 0; i < 100 && t.hub.clients.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const client = [...t.hub.clients.values()][0]!;
    for (let i = 0; i < 60; i++) client.emit('flood', i);
    const events = await s.poll();
    const close = events.at(-1)!;
    assert.equal(close.event, 'close');
    assert.equal(close.data.code, 1013);
    assert.ok(events.length <= 51);
    assert.equal(t.hub.clients.size, 0);
  });

  test('an idle session expires and its id is then unknown', async () => {
    const { t, base } = await start({ fallback: { sessionTimeout: 200 } });
    const s = await Session.open(base);
    await new Promise((r) => setTimeout(r, 400));
    // Closed (1001) on expiry; the close event waits for a downlink a little longer, then the session is gone.
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await fetch(`${base}/poll?session=${s.id}`)).status, 404);
    assert.equal(t.hub.clients.size, 0);
  });

  test('fallback: false turns the endpoints off', async () => {
    const { base } = await start({ fallback: false });
    assert.equal((await fetch(`${base}/open`, { method: 'POST' })).status, 404);
  });
});
