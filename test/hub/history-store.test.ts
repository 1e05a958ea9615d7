// The in-process adapter's history bounded in bytes across all rooms
// (src/hub/history-store.ts): the globally oldest messages go first, a room
// they were evicted from answers with a `gap`, and what is held keeps its
// text, not its parsed data.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessAdapter } from '../../packages/switchboard/src/hub/index.js';
import { ENTRY_OVERHEAD, HistoryBudget, entryCost } from '../../packages/switchboard/src/hub/history-store.js';
import { encodeData } from '../../packages/switchboard/src/hub/wire.js';

const sink = { deliverRoom() {}, deliverUser() {}, deliverClient: () => false, presenceChanged() {} };

/** An adapter whose history holds `messages` messages of `size` characters (room and event names of one character). */
function adapterFor(messages: number, size: number, limits = {}): InProcessAdapter {
  const cost = ENTRY_OVERHEAD + 2 * (size + 2) + 2 * 2;
  const a = new InProcessAdapter({ maxBytes: messages * cost, ...limits });
  a.attach(sink);
  return a;
}

function publish(a: InProcessAdapter, room: string, data: unknown): Promise<number> {
  return a.publish(room, { ev: 'e', data, encoded: encodeData(data) });
}

describe('InProcessAdapter history.maxBytes', () => {
  test('a store over the total drops the oldest messages of all rooms first, and the rooms they were in answer with a gap', async () => {
    const a = adapterFor(4, 100);
    const text = 'x'.repeat(100);
    await publish(a, 'a', text); // a1
    await publish(a, 'b', text); // b1
    await publish(a, 'a', text); // a2
    await publish(a, 'c', text); // c1
    assert.deepEqual((await a.history('a', 0)).messages.map((m) => m.mid), [1, 2]);
    await publish(a, 'c', text); // c2: a1 goes
    let h = await a.history('a', 0);
    assert.deepEqual(h.messages.map((m) => m.mid), [2]);
    assert.deepEqual(h.gap, { from: 1, to: 1 });
    assert.equal((await a.history('b', 0)).messages.length, 1);
    await publish(a, 'c', text); // c3: b1 goes, and room b (no members, nothing held) with it; its id is remembered
    h = await a.history('b', 0);
    assert.deepEqual(h, { head: 1, epoch: a.epoch, messages: [], gap: { from: 1, to: 1 } });
    assert.equal(await publish(a, 'b', text), 2, 'ids go on in a room whose history was evicted');
    // a2 went for b2; c1 stays, the oldest left.
    h = await a.history('a', 1);
    assert.deepEqual(h, { head: 2, epoch: a.epoch, messages: [], gap: { from: 2, to: 2 } });
    assert.deepEqual((await a.history('c', 0)).messages.map((m) => m.mid), [1, 2, 3]);
    assert.equal(a.heldBytes, 4 * entryCost((await a.history('c', 2)).messages[0]!));
    await a.close();
  });

  test('held bytes follow count and age trims; a message larger than the total is delivered, not held', async () => {
    const a = adapterFor(10, 50, { maxMessages: 2, maxAge: 1000 });
    let now = 0;
    a.now = () => now;
    const delivered: number[] = [];
    a.attach({ ...sink, deliverRoom: (m) => void delivered.push(m.mid) });
    for (let i = 0; i < 5; i++) await publish(a, 'r', 'y'.repeat(50));
    const one = entryCost((await a.history('r', 4)).messages[0]!);
    assert.equal(a.heldBytes, 2 * one);
    now = 2000;
    a.sweep();
    assert.equal(a.heldBytes, 0);
    assert.equal(await publish(a, 'r', 'z'.repeat(100_000)), 6);
    assert.deepEqual(delivered, [1, 2, 3, 4, 5, 6]);
    assert.equal(a.heldBytes, 0);
    assert.deepEqual(await a.history('r', 5), { head: 6, epoch: a.epoch, messages: [], gap: { from: 6, to: 6 } });
    await a.close();
  });

  test('held messages decode their data from the text they keep (JSON and binary)', async () => {
    const a = adapterFor(10, 1000);
    await publish(a, 'r', { n: [1, 2, { deep: true }] });
    await publish(a, 'r', Buffer.from([0, 1, 2, 255]));
    const [json, bin] = (await a.history('r', 0)).messages;
    assert.deepEqual(json!.data, { n: [1, 2, { deep: true }] });
    assert.ok(Buffer.isBuffer(bin!.data));
    assert.deepEqual([...(bin!.data as Buffer)], [0, 1, 2, 255]);
    assert.deepEqual((JSON.parse(JSON.stringify(json)) as { data: unknown }).data, { n: [1, 2, { deep: true }] });
    await a.close();
  });

  test('the default is 32 MiB; limits below 0 are refused', () => {
    assert.equal(new InProcessAdapter().maxBytes, 32 * 1024 * 1024);
    assert.throws(() => new InProcessAdapter({ maxBytes: -1 }), RangeError);
  });

  test('the list: removal from the middle, eviction from the front, bytes summed', () => {
    const budget = new HistoryBudget(3 * entryCost({ room: 'r', mid: 1, ev: 'e', data: 1, encoded: '1', time: 0 }));
    const entries = [1, 2, 3, 4].map((mid) => budget.add({ room: 'r', mid, ev: 'e', data: mid, encoded: String(mid), time: 0 }));
    assert.equal(budget.overflow(), entries[0]);
    budget.remove(entries[1]!);
    assert.equal(budget.overflow(), null);
    assert.equal(budget.count, 3);
    budget.remove(entries[1]!); // twice: no effect
    assert.equal(budget.count, 3);
    budget.remove(entries[0]!);
    budget.remove(entries[3]!);
    budget.remove(entries[2]!);
    assert.equal(budget.bytes, 0);
    assert.equal(budget.count, 0);
    budget.add({ room: 'r', mid: 5, ev: 'e', data: 5, time: 0 });
    assert.equal(budget.bytes, ENTRY_OVERHEAD + 4);
  });
});
