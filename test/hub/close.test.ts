// hub.close() closes every connection, then the adapter: the presence
// removals those closing connections start must reach the adapter first, or
// an adapter that refuses calls once closed (Redis) fails them and their
// members stay listed for other nodes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { InProcessAdapter, type PresenceMember } from '../../packages/switchboard/src/hub/index.js';
import { RawClient, startHub } from './helpers.js';

class SlowLeaveAdapter extends InProcessAdapter {
  readonly events: string[] = [];
  override async removeMember(room: string, member: PresenceMember): Promise<void> {
    await delay(150);
    await super.removeMember(room, member);
    this.events.push(`left ${room}`);
  }
  override async close(): Promise<void> {
    this.events.push('adapter closed');
    await super.close();
  }
}

describe('hub: close', { timeout: 20_000 }, () => {
  test('the rooms of the connections it closes are left in the adapter before the adapter is closed', async () => {
    const adapter = new SlowLeaveAdapter();
    const t = await startHub({ adapter });
    const client = await RawClient.open(t.url);
    assert.equal((await client.call({ t: 'join', room: 'a' }, 1)).t, 'ack');
    assert.equal((await client.call({ t: 'join', room: 'b' }, 2)).t, 'ack');
    await t.close();
    assert.deepEqual(adapter.events.slice().sort(), ['adapter closed', 'left a', 'left b']);
    assert.equal(adapter.events.at(-1), 'adapter closed', `order: ${adapter.events.join(', ')}`);
  });
});
