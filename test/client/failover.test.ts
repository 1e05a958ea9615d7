// switchboard/client with several URLs: when its hub goes away it moves to
// the next URL and resumes its rooms there. Two hubs in this process share
// one InProcessAdapter (a stand-in for a shared Redis: same ids, history,
// epoch), so a resume on the second hub continues exactly where the first
// left off: every message once, in order, no gap.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hub, InProcessAdapter, type Adapter, type AdapterSink } from '../../packages/switchboard/src/hub/index.js';
import { withTimeout } from '../helpers/async.js';
import { HOST, hubClient, until } from '../hub/helpers.js';

/** One InProcessAdapter seen by several hubs: what it delivers goes to every attached hub. */
class SharedAdapter {
  private readonly inner = new InProcessAdapter();
  private readonly sinks = new Set<AdapterSink>();

  constructor() {
    const sinks = this.sinks;
    void this.inner.attach({
      deliverRoom: (message, except, volatile) => sinks.forEach((s) => s.deliverRoom(message, except, volatile)),
      deliverUser: (user, ev, data, from) => sinks.forEach((s) => s.deliverUser(user, ev, data, from)),
      deliverClient: (client, ev, data, from) => [...sinks].some((s) => s.deliverClient(client, ev, data, from)),
      deliverAll: (ev, data, except) => sinks.forEach((s) => s.deliverAll?.(ev, data, except)),
      presenceChanged: (room, change) => sinks.forEach((s) => s.presenceChanged(room, change)),
    });
  }

  /** The adapter one hub uses; closing it detaches that hub only. */
  view(): Adapter {
    const inner = this.inner;
    let mine: AdapterSink | null = null;
    return {
      attach: (sink) => {
        mine = sink;
        this.sinks.add(sink);
      },
      publish: (room, message) => inner.publish(room, message),
      history: (room, since, epoch) => inner.history(room, since, epoch),
      addMember: (room, member) => inner.addMember(room, member),
      removeMember: (room, member) => inner.removeMember(room, member),
      members: (room, limit) => inner.members(room, limit),
      toUser: (user, ev, data, from) => inner.toUser(user, ev, data, from),
      toClient: (client, ev, data, from) => inner.toClient(client, ev, data, from),
      toAll: (ev, data, except) => inner.toAll(ev, data, except),
      close: async () => {
        if (mine !== null) this.sinks.delete(mine);
      },
    };
  }
}

async function startHub(adapter: Adapter): Promise<{ hub: Hub<any, any>; url: string; close(): Promise<void> }> {
  const server = http.createServer((_, res) => res.writeHead(404).end());
  const hub = new Hub({ server, adapter, rateLimit: false });
  hub.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  let closed = false;
  return {
    hub,
    url: `ws://${HOST}:${(server.address() as AddressInfo).port}/hub`,
    close: async () => {
      if (closed) return;
      closed = true;
      await withTimeout(hub.close(), 5000, 'hub.close()').catch(() => {});
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A loopback URL with nothing listening (a port just freed). */
async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return `ws://${HOST}:${port}/hub`;
}

const FAST = { initialDelay: 20, maxDelay: 200, jitter: 0 };

describe('switchboard/client: several URLs, failover', { timeout: 60_000 }, () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  test('when its hub goes away the client resumes on the next URL: every message once, in order, no gap', async () => {
    const shared = new SharedAdapter();
    const a = await startHub(shared.view());
    const b = await startHub(shared.view());
    closers.push(a.close, b.close);
    const client = hubClient([a.url, b.url], { reconnect: FAST });
    closers.push(async () => client.close());
    const got: number[] = [];
    const gaps: unknown[] = [];
    const connects: Array<{ reconnected: boolean }> = [];
    client.on('n', (n: number) => got.push(n));
    client.on('gap', (g) => gaps.push(g));
    client.on('connect', (info) => connects.push(info));
    await client.ready();
    assert.equal(client.url, a.url);
    await client.join('r');
    await a.hub.to('r').emit('n', 1);
    await a.hub.to('r').emit('n', 2);
    await until(() => got.length === 2, 5000, 'the first two messages');

    await a.close(); // node A goes away; B (same adapter) goes on publishing while the client is away
    await b.hub.to('r').emit('n', 3);
    await b.hub.to('r').emit('n', 4);
    await until(() => connects.length === 2, 5000, 'the reconnection');
    assert.equal(client.url, b.url);
    assert.equal(connects[1]!.reconnected, true);
    await until(() => got.length === 4, 5000, 'the missed messages, replayed by B');
    await until(() => b.hub.clients.size === 1 && [...b.hub.clients.values()][0]!.rooms.has('r'), 5000, 'the resumed membership on B');
    await b.hub.to('r').emit('n', 5);
    await until(() => got.length === 5, 5000, 'a live message from B');
    assert.deepEqual(got, [1, 2, 3, 4, 5]);
    assert.deepEqual(gaps, []);
    assert.equal(client.lastSeen('r'), 5);
  });

  test('a first URL that is down: the client connects to the next one', async () => {
    const b = await startHub(new InProcessAdapter());
    closers.push(b.close);
    const client = hubClient([await deadUrl(), b.url], { reconnect: FAST });
    closers.push(async () => client.close());
    const reconnecting: unknown[] = [];
    client.on('reconnecting', (info) => reconnecting.push(info));
    await withTimeout(client.ready(), 5000, 'connected to the second URL');
    assert.equal(client.url, b.url);
    assert.equal(reconnecting.length, 1);
  });

  test('a URL list must not be empty', () => {
    assert.throws(() => hubClient([]), { code: 'WS_ERR_INVALID_ARGUMENT' });
  });
});
