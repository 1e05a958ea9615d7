// The HTTP fallback transports on two hub nodes sharing a real redis-server,
// behind a proxy that refuses WebSocket upgrades and round-robins every HTTP
// request between the nodes (no sticky sessions): a request for a session
// held by the other node is forwarded to it through the Redis adapter
// (docs/transports.md, "No sticky sessions"). And the node holding a session
// killed (kill -9) mid-stream: the client resumes through the other node with
// every message once, in order. On a single Redis (sse and polling) and on a
// Redis Cluster of 3 masters (sse).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { withTimeout } from '../helpers/async.js';
import { startRedis, startRedisCluster } from '../helpers/redis.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { HubNode, Recorder, delay, range, startNode, until } from './helpers.js';

type Transport = 'sse' | 'polling';
/** A Redis to share: the adapter's connection options, and how to stop it. */
type Backend = { options: Record<string, unknown>; stop(): Promise<void> };

function fallbackOnTwoNodes(label: string, startBackend: () => Promise<Backend>, transports: readonly Transport[]): void {
  describe(`HTTP fallback on two nodes, no sticky sessions (${label})`, { timeout: 180_000 }, () => {
    let redis: Backend;
    const nodes: HubNode[] = [];
    const clients: Recorder[] = [];
    const proxies: RoundRobinProxy[] = [];
    before(async () => {
      redis = await startBackend();
    });
    after(async () => {
      await redis?.stop();
    });
    afterEach(async () => {
      for (const c of clients.splice(0)) c.close();
      await Promise.all(nodes.splice(0).map((n) => n.stop()));
      await Promise.all(proxies.splice(0).map((p) => p.close()));
    });

    const twoNodesBehindProxy = async (): Promise<{ a: HubNode; b: HubNode; proxy: RoundRobinProxy }> => {
      const [a, b] = await Promise.all([startNode(redis.options), startNode(redis.options)]);
      nodes.push(a!, b!);
      const proxy = await startRoundRobinProxy([a!.port, b!.port]);
      proxies.push(proxy);
      return { a: a!, b: b!, proxy };
    };
    const connect = (url: string, options: ConstructorParameters<typeof Recorder>[1]): Recorder => {
      const r = new Recorder(url, options);
      clients.push(r);
      return r;
    };

    for (const transport of transports) {
      test(`${transport}: chat with a WebSocket client, presence, a request with an ack and a 1,000-message burst, every request round-robined`, { timeout: 60_000 }, async () => {
        const { a, b, proxy } = await twoNodesBehindProxy();
        const ws = connect(a.url, { auth: { user: 'ws' }, transports: ['websocket'] }).listen('said');
        const fallback = connect(`${proxy.url.replace('http', 'ws')}/hub`, { auth: { user: 'fb' }, transports: ['websocket', transport] }).listen('said').listen('n');
        await withTimeout(Promise.all([ws.client.ready(), fallback.client.ready()]), 20_000, 'both clients connected');
        assert.equal(fallback.client.transport, transport);
        assert.ok(proxy.upgrades >= 1, 'the upgrade was refused');

        // Presence: the WebSocket member hears the fallback client join, with its id.
        await ws.client.join('chat');
        const joined = new Promise<string>((resolve) => ws.client.on('presence', (p: { join?: { id: string } }) => p.join && resolve(p.join.id)));
        const answer = await withTimeout(fallback.client.join('chat'), 20_000, 'the fallback client joined');
        assert.equal(await joined, fallback.client.id);
        assert.deepEqual((answer.members ?? []).map((m: { user: string | null }) => m.user).sort(), ['fb', 'ws']);

        // Chat both ways.
        await fallback.client.publish('chat', 'said', 'hello from the fallback');
        await until(() => ws.messages.length === 1, 10_000, 'the WebSocket client got the message');
        assert.equal(ws.messages[0]!.data, 'hello from the fallback');
        await ws.client.publish('chat', 'said', 'hello from the WebSocket');
        await until(() => fallback.messages.length === 1, 10_000, 'the fallback client got the message');
        assert.equal(fallback.messages[0]!.data, 'hello from the WebSocket');

        // A request with an ack, answered by the node that holds the session.
        assert.equal(await fallback.client.request('add', { a: 20, b: 22 }), 42);

        // A burst from the WebSocket client: every message once, in order.
        await Promise.all([fallback.client.join('burst'), ws.client.join('burst')]);
        await Promise.all(range(1000).map((i) => ws.client.publish('burst', 'n', i)));
        await until(() => fallback.messages.filter((m) => m.ev === 'n').length >= 1000, 30_000, 'the burst arrived');
        await delay(200); // a duplicate would come now
        const burst = fallback.messages.filter((m) => m.ev === 'n');
        assert.deepEqual(
          burst.map((m) => m.data),
          range(1000),
          'every message once, in order',
        );

        // The session was never lost (no reconnection), though both nodes served its requests.
        assert.deepEqual(fallback.disconnects, [], 'no reconnection');
        assert.deepEqual(fallback.gaps, []);
        const holders = await Promise.all([a, b].map((n) => n.call<boolean>('holds', { client: fallback.client.id })));
        assert.equal(holders.filter(Boolean).length, 1, 'one node holds the session');
        assert.ok((proxy.served.get(a.port) ?? 0) >= 2 && (proxy.served.get(b.port) ?? 0) >= 2, `both nodes served requests: ${JSON.stringify([...proxy.served])}`);
      });
    }

    for (const transport of transports) {
      test(`${transport}: kill -9 of the node holding the session mid-stream: the client resumes through the other node, every message once, in order`, { timeout: 60_000 }, async () => {
        const { a, b, proxy } = await twoNodesBehindProxy();
        const room = 'ticker';
        const fallback = connect(`${proxy.url.replace('http', 'ws')}/hub`, { auth: { user: 'fb' }, transports: ['websocket', transport] }).listen('tick');
        await withTimeout(fallback.client.join(room), 20_000, 'the fallback client joined');
        assert.equal(fallback.client.transport, transport);
        const firstId = fallback.client.id;
        const owner = (await a.call<boolean>('holds', { client: firstId })) ? a : b;
        const survivor = owner === a ? b : a;

        const publisher = connect(survivor.url, { transports: ['websocket'] });
        await publisher.client.join(room);
        const total = 1000;
        let disconnectsBeforeKill = -1;
        let servedBeforeKill: number[] = [];
        // In order: each publish waits for the previous one's ack, so ids follow the sequence.
        for (const i of range(total)) {
          await publisher.client.publish(room, 'tick', i);
          if (i === 300) {
            disconnectsBeforeKill = fallback.disconnects.length;
            servedBeforeKill = [proxy.served.get(a.port) ?? 0, proxy.served.get(b.port) ?? 0];
            await owner.kill();
          }
          if (i % 100 === 0) await delay(10);
        }
        await until(() => fallback.messages.length >= total, 40_000, `every message arrived (${fallback.messages.length}/${total})`);
        await delay(200);
        assert.deepEqual(
          fallback.messages.map((m) => m.data),
          range(total),
          'every message once, in order',
        );
        assert.deepEqual(fallback.gaps, [], 'nothing lost (history is in Redis)');
        // Until the kill, one session served through both nodes; then it was lost with its node.
        assert.equal(disconnectsBeforeKill, 0, 'no reconnection before the kill');
        assert.ok(servedBeforeKill.every((n) => n >= 2), `both nodes served requests before the kill: ${servedBeforeKill.join(', ')}`);
        assert.ok(fallback.disconnects.length >= 1, 'the session was lost with its node');
        assert.notEqual(fallback.client.id, firstId, 'a new session');
        assert.equal(await survivor.call<boolean>('holds', { client: fallback.client.id }), true, 'held by the surviving node');
        assert.equal(fallback.client.transport, transport);
      });
    }
  });
}

fallbackOnTwoNodes('a single Redis', async () => {
  const redis = await startRedis();
  return { options: { url: redis.url }, stop: () => redis.stop() };
}, ['sse', 'polling']);

// Forwarding on a Cluster: every node's channel is under the {~} tag, one shard.
fallbackOnTwoNodes('a Redis Cluster of 3 masters', async () => {
  const cluster = await startRedisCluster();
  return { options: { cluster: cluster.urls }, stop: () => cluster.stop() };
}, ['sse']);
