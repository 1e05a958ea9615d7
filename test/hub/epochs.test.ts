// Epochs (docs/protocol.md, section 5): a hub restarted on the same port
// starts its rooms' ids again at 1 in a new epoch. A client resuming with
// the old epoch gets a `gap` with `reset` and then everything the new run
// holds, never a silent hole; with the current epoch, resume is as before.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hub, InProcessAdapter, type Adapter, type AdapterSink, type PresenceMember, type PublishOptions, type RoomMessage, type Sender } from '../../packages/switchboard/src/hub/index.js';
import { withTimeout } from '../helpers/async.js';
import { HOST, RawClient, delay, dropClient, hubClient, until } from './helpers.js';

interface Running {
  hub: Hub<any, any>;
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * What a networked adapter does when its store loses a room's counter (a Redis FLUSHALL):
 * ids start again at 1 in a new epoch while the hub's connections stay in their rooms. Here
 * the store is an InProcessAdapter, replaced by a fresh one on `flush()`; like a networked
 * adapter, it names the epoch on every message it delivers (RoomMessage.epoch).
 */
class FlushableAdapter implements Adapter {
  private store = new InProcessAdapter();
  private sink: AdapterSink | null = null;
  /** When set, `history` answers only once it resolves (having read the store before): a slow network read. */
  gate: Promise<void> | null = null;
  /** Resolves when a `history` read is waiting at the gate. */
  onGate: (() => void) | null = null;

  attach(sink: AdapterSink): void {
    this.sink = sink;
    this.attachStore();
  }

  private attachStore(): void {
    const store = this.store;
    const sink = this.sink!;
    store.attach({
      ...sink,
      deliverRoom: (message: RoomMessage, except, volatile) => {
        if (!volatile) message.epoch = store.epoch;
        sink.deliverRoom(message, except, volatile);
      },
    });
  }

  async flush(): Promise<void> {
    const lost = this.store;
    this.store = new InProcessAdapter();
    this.attachStore();
    await lost.close();
  }

  publish(room: string, message: PublishOptions): Promise<number> {
    return this.store.publish(room, message);
  }
  async history(room: string, since?: number, epoch?: string) {
    const result = await this.store.history(room, since, epoch);
    const gate = this.gate;
    if (gate !== null) {
      this.gate = null;
      this.onGate?.();
      await gate;
    }
    return result;
  }
  addMember(room: string, member: PresenceMember): Promise<void> {
    return this.store.addMember(room, member);
  }
  removeMember(room: string, member: PresenceMember): Promise<void> {
    return this.store.removeMember(room, member);
  }
  members(room: string, limit?: number): Promise<PresenceMember[]> {
    return this.store.members(room, limit);
  }
  toUser(user: string, ev: string, data: unknown, from?: Sender): Promise<void> {
    return this.store.toUser(user, ev, data, from);
  }
  toClient(client: string, ev: string, data: unknown, from?: Sender): Promise<boolean> {
    return this.store.toClient(client, ev, data, from);
  }
  close(): Promise<void> {
    return this.store.close();
  }
}

/** A hub on 127.0.0.1:`port` (0: a free one); `beforeListen` runs before it accepts connections (messages published then are held when a client comes back). */
async function runHub(port = 0, beforeListen?: (hub: Hub<any, any>) => Promise<void>, adapter?: Adapter): Promise<Running> {
  const server = http.createServer((_, res) => res.writeHead(404).end());
  const hub = new Hub({ server, rateLimit: false, ...(adapter ? { adapter } : {}) });
  hub.on('error', () => {});
  await beforeListen?.(hub);
  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    hub,
    port: bound,
    url: `ws://${HOST}:${bound}/hub`,
    close: async () => {
      await withTimeout(hub.close(), 5000, 'hub.close()').catch(() => {});
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const publish = async (hub: Hub<any, any>, room: string, values: unknown[]): Promise<void> => {
  for (const value of values) await hub.to(room).emit('n', value);
};

describe('hub: epochs', { timeout: 60_000 }, () => {
  const running: Running[] = [];
  const clients: Array<{ close(): void }> = [];
  after(async () => {
    for (const c of clients) c.close(); // also after a failed assertion: a client left reconnecting keeps the process alive
    for (const r of running) await r.close();
  });

  test('restart on the same port: the client resumes with the old epoch and gets a gap with reset, then every message of the new run', async () => {
    const first = await runHub();
    running.push(first);
    const client = hubClient(first.url, { reconnect: { initialDelay: 20, maxDelay: 100, jitter: 0 } });
    clients.push(client);
    const got: string[] = [];
    const gaps: unknown[] = [];
    client.on('n', (n: string) => got.push(n));
    client.on('gap', (g) => gaps.push(g));
    await client.ready();
    await client.join('lobby');
    await publish(first.hub, 'lobby', ['a1', 'a2', 'a3', 'a4']);
    await until(() => got.length === 4);
    await first.close();
    // The new process publishes 6 messages before the client is back: mids 1-6 again, the client's last is 4.
    const second = await runHub(first.port, (hub) => publish(hub, 'lobby', ['b1', 'b2', 'b3', 'b4', 'b5', 'b6']));
    running.push(second);
    // The newest message arrives last whatever the server did (before epochs: 5 and 6 only, no gap).
    await until(() => got.includes('b6'), 10_000, 'the replay up to b6');
    await delay(50); // anything more would arrive by now
    assert.deepEqual(gaps, [{ room: 'lobby', from: 1, to: 4, reset: true }]);
    assert.deepEqual(got, ['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6'], 'messages 5 and 6 of the new run, and 1-4 too');
    assert.equal(client.lastSeen('lobby'), 6);
    // Live messages go on in the new run.
    await publish(second.hub, 'lobby', ['b7']);
    await until(() => got.length === 11);
    assert.equal(got[10], 'b7');
    client.close();
  });

  test('the raw protocol: join and resume with an old or unknown epoch get a reset naming the new one; the current epoch, or none, as before', async () => {
    const r = await runHub();
    running.push(r);
    const epoch = (r.hub.adapter as InProcessAdapter).epoch;
    assert.match(epoch, /^[A-Za-z0-9_-]{8}$/);
    await publish(r.hub, 'r', [1, 2, 3, 4, 5]);
    const mids = (c: RawClient): number[] => c.received.filter((m) => m.t === 'msg').map((m) => m.mid);

    // The current epoch: a replay after since, no gap.
    const same = await RawClient.open(r.url);
    const sameAck = await same.call({ t: 'join', room: 'r', since: 3, epoch }, 1);
    assert.deepEqual([sameAck.data.head, sameAck.data.epoch], [5, epoch]);
    await same.next((m) => m.mid === 5);
    assert.deepEqual(mids(same), [4, 5]);

    // Another epoch with a since within the head (what a restart looks like): reset, then everything held.
    const old = await RawClient.open(r.url);
    const oldAck = await old.call({ t: 'join', room: 'r', since: 4, epoch: 'gone0001' }, 1);
    assert.equal(oldAck.data.epoch, epoch);
    assert.deepEqual(await old.next((m) => m.t === 'gap'), { t: 'gap', room: 'r', from: 1, to: 4, reset: true, epoch });
    await old.next((m) => m.mid === 5);
    assert.deepEqual(mids(old), [1, 2, 3, 4, 5]);
    assert.ok(old.received.findIndex((m) => m.t === 'gap') < old.received.findIndex((m) => m.t === 'msg'), 'the gap comes before the replay');

    // No epoch (a client of an earlier version): trusted as before.
    const compat = await RawClient.open(r.url);
    await compat.call({ t: 'join', room: 'r', since: 4 }, 1);
    await compat.next((m) => m.mid === 5);
    assert.deepEqual(mids(compat), [5]);
    assert.equal(compat.received.find((m) => m.t === 'gap'), undefined);

    // Resume: per room, its own epoch; a room of the old run seen up to 0 is reset too (its messages after 0 are lost).
    await publish(r.hub, 'other', ['x']);
    const resumer = await RawClient.open(r.url);
    // JSON text: an object literal's `__proto__` would set the prototype, not name a room.
    const rooms = JSON.parse('{"r":5,"other":0,"__proto__":0}') as Record<string, number>;
    const ack = await resumer.call({ t: 'resume', rooms, epochs: { r: epoch, other: 'gone0001' } }, 1);
    assert.deepEqual(
      Object.entries(ack.data.rooms as Record<string, { head: number; epoch: string }>).map(([room, v]) => [room, v.head, v.epoch]),
      [['r', 5, epoch], ['other', 1, epoch], ['__proto__', 0, epoch]],
    );
    const gaps = resumer.received.filter((m) => m.t === 'gap');
    assert.deepEqual(gaps, [{ t: 'gap', room: 'other', from: 1, to: 0, reset: true, epoch }], 'a room named __proto__ without an epoch is not reset');
    assert.deepEqual(resumer.received.filter((m) => m.t === 'msg').map((m) => `${m.room}${m.mid}`), ['other1']);
    for (const c of [same, old, compat, resumer]) c.ws.close();
  });

  test('the ids restart while the client is in the room (a flushed store): closed with 1012, it resumes and gets the reset, then the new run', async () => {
    const adapter = new FlushableAdapter();
    const r = await runHub(0, undefined, adapter);
    running.push(r);
    const client = hubClient(r.url, { reconnect: { initialDelay: 20, jitter: 0 } });
    clients.push(client);
    const got: string[] = [];
    const gaps: unknown[] = [];
    const closes: number[] = [];
    client.on('n', (n: string) => got.push(n));
    client.on('gap', (g) => gaps.push(g));
    client.on('disconnect', (info) => closes.push(info.code));
    await client.ready();
    await client.join('f');
    await publish(r.hub, 'f', ['a1', 'a2', 'a3']);
    await until(() => got.length === 3);
    await adapter.flush();
    // mids 1, 2, 3, 4 again: before, the client took 1-3 for ones it had seen and dropped them.
    await publish(r.hub, 'f', ['b1', 'b2', 'b3', 'b4']);
    await until(() => got.includes('b4'), 10_000, 'the new run up to b4');
    await delay(50);
    assert.deepEqual(closes, [1012]);
    assert.deepEqual(gaps, [{ room: 'f', from: 1, to: 3, reset: true }]);
    assert.deepEqual(got, ['a1', 'a2', 'a3', 'b1', 'b2', 'b3', 'b4']);
    await publish(r.hub, 'f', ['b5']);
    await until(() => got.includes('b5'));
    assert.equal(client.lastSeen('f'), 5);
    client.close();
  });

  test('the ids restart while a join reads history: the live messages held meanwhile are of the new run; closed with 1012, the client resumes into the reset', async () => {
    const adapter = new FlushableAdapter();
    const r = await runHub(0, undefined, adapter);
    running.push(r);
    await publish(r.hub, 'g', ['a1', 'a2', 'a3']);
    let open!: () => void;
    adapter.gate = new Promise<void>((resolve) => (open = resolve));
    const reading = new Promise<void>((resolve) => (adapter.onGate = resolve));
    const client = hubClient(r.url, { reconnect: { initialDelay: 20, jitter: 0 } });
    clients.push(client);
    const got: string[] = [];
    const gaps: unknown[] = [];
    const closes: number[] = [];
    client.on('n', (n: string) => got.push(n));
    client.on('gap', (g) => gaps.push(g));
    client.on('disconnect', (info) => closes.push(info.code));
    await client.ready();
    const joined = client.join('g');
    await reading; // the join has read head 3 of the first run
    await adapter.flush();
    await publish(r.hub, 'g', ['b1', 'b2', 'b3', 'b4']); // held for the joining member: mids 1-4 of the new run
    open();
    assert.equal((await joined).head, 3);
    await until(() => got.includes('b4'), 10_000, 'the new run up to b4');
    await delay(50);
    // Before: b1-b3 were dropped as already seen (mid <= 3) and only b4 arrived.
    assert.deepEqual(closes, [1012]);
    assert.deepEqual(gaps, [{ room: 'g', from: 1, to: 3, reset: true }]);
    assert.deepEqual(got, ['b1', 'b2', 'b3', 'b4']);
    client.close();
  });

  test('the same epoch: a client dropped and back on the same hub resumes with no gap, exactly once', async () => {
    const r = await runHub();
    running.push(r);
    const client = hubClient(r.url, { reconnect: { initialDelay: 50, jitter: 0 } });
    clients.push(client);
    const got: number[] = [];
    const gaps: unknown[] = [];
    client.on('n', (n: number) => got.push(n));
    client.on('gap', (g) => gaps.push(g));
    await client.ready();
    await client.join('s');
    await publish(r.hub, 's', [1, 2]);
    await until(() => got.length === 2);
    dropClient(client);
    await until(() => r.hub.clients.size === 0);
    await publish(r.hub, 's', [3, 4]);
    await until(() => got.includes(4), 5000, 'the replay up to 4');
    await delay(50);
    assert.deepEqual(got, [1, 2, 3, 4]);
    assert.deepEqual(gaps, []);
    client.close();
  });
});

describe('InProcessAdapter epochs', () => {
  test('one epoch per adapter, new after close (its ids start over); history decides the reset', async () => {
    const a = new InProcessAdapter();
    a.attach({ deliverRoom() {}, deliverUser() {}, deliverClient: () => false, presenceChanged() {} });
    const first = a.epoch;
    assert.notEqual(new InProcessAdapter().epoch, first, 'each adapter draws its own');
    await a.publish('x', { ev: 'e', data: 1 });
    await a.publish('x', { ev: 'e', data: 2 });
    assert.deepEqual(await a.history('x'), { head: 2, epoch: first, messages: [] });
    assert.equal((await a.history('x', 1, first)).gap, undefined);
    assert.deepEqual((await a.history('x', 1, 'other')).gap, { from: 1, to: 1, reset: true });
    assert.deepEqual((await a.history('x', 1, 'other')).messages.map((m) => m.mid), [1, 2]);
    assert.deepEqual((await a.history('nothing', 0, 'other')).gap, { from: 1, to: 0, reset: true }, 'a room without state');
    assert.equal((await a.history('nothing', 0, first)).gap, undefined);
    await a.close();
    const second = a.epoch;
    assert.notEqual(second, first);
    a.attach({ deliverRoom() {}, deliverUser() {}, deliverClient: () => false, presenceChanged() {} });
    assert.equal(await a.publish('x', { ev: 'e', data: 1 }), 1, 'ids start over after close');
    assert.deepEqual((await a.history('x', 2, first)).gap, { from: 1, to: 2, reset: true });
    await a.close();
  });
});
