// Fallback forwarding (src/hub/fallback-forwarding.ts) with the in-process
// adapter, over real sockets: session ids name their node, a request naming
// a node that does not exist gets 404 at once, and the adapter's `forward`
// to its own node reaches the hub's sessions (the contract the Redis adapter
// implements across processes: test/redis/fallback-*.test.ts).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { InProcessAdapter } from '../../packages/switchboard/src/hub/index.js';
import { startHub, type TestHub } from './helpers.js';

describe('fallback forwarding, in-process adapter', { timeout: 30_000 }, () => {
  const hubs: TestHub[] = [];
  after(async () => {
    for (const t of hubs) await t.close();
  });
  const start = async (): Promise<{ t: TestHub; base: string; adapter: InProcessAdapter }> => {
    const adapter = new InProcessAdapter();
    const t = await startHub({ adapter });
    t.server.removeAllListeners('request');
    t.server.on('request', (req, res) => {
      if (!t.hub.handleRequest(req, res)) res.writeHead(404).end();
    });
    hubs.push(t);
    return { t, base: t.url.replace('ws://', 'http://'), adapter };
  };
  const open = async (base: string): Promise<string> => {
    const res = await fetch(`${base}/open`, { method: 'POST' });
    assert.equal(res.status, 201);
    return ((await res.json()) as { session: string }).session;
  };

  test("a session id is 24 random characters, '.', and the node's name", async () => {
    const { base, adapter } = await start();
    assert.match(adapter.node, /^[A-Za-z0-9_-]{12}$/);
    const a = await open(base);
    const b = await open(base);
    assert.match(a, new RegExp(`^[A-Za-z0-9_-]{24}\\.${adapter.node}$`));
    assert.notEqual(a, b);
  });

  test('an id naming another node: 404 unknown_session (no such node), on every endpoint', async () => {
    const { base } = await start();
    const id = `${'x'.repeat(24)}.elsewhere`;
    for (const [endpoint, method] of [['send', 'POST'], ['close', 'POST'], ['poll', 'GET'], ['sse', 'GET']] as const) {
      const res = await fetch(`${base}/${endpoint}?session=${id}`, { method, ...(method === 'POST' ? { body: '{"t":"hello"}' } : {}) });
      assert.equal(res.status, 404, endpoint);
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, 'unknown_session', endpoint);
      assert.match(body.message, /gone/, endpoint);
    }
  });

  test("forward() to the adapter's own node reaches the hub's sessions: send, poll, close; unknown ids and nodes", async () => {
    const { base, adapter } = await start();
    const session = await open(base);
    const sent = await adapter.forward(adapter.node, { kind: 'send', session, body: Buffer.from('{"t":"hello"}') });
    assert.equal(sent.status, 204);
    const polled = await adapter.forward(adapter.node, { kind: 'poll', session, last: 0, wait: 1000 });
    assert.equal(polled.status, 200);
    assert.match(Buffer.from(polled.body!).toString(), /^id: 1\ndata: \{"t":"welcome"/);
    // Nothing new after the welcome: an empty answer once `wait` passes.
    const empty = await adapter.forward(adapter.node, { kind: 'poll', session, last: 1, wait: 50 });
    assert.deepEqual([empty.status, empty.body?.length ?? 0], [200, 0]);
    assert.equal((await adapter.forward(adapter.node, { kind: 'close', session })).status, 204);
    const gone = await adapter.forward(adapter.node, { kind: 'send', session, body: Buffer.from('{"t":"ping"}') });
    assert.equal(gone.status, 404);
    await assert.rejects(adapter.forward('elsewhere', { kind: 'close', session }), { code: 'unknown_node' });
  });
});
