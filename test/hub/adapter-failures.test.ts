// A failing adapter must not leave a member half-joined (live messages held
// for it forever): the join is answered `internal` and undone, and the next
// join works.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessAdapter, type HistoryResult } from '../../packages/switchboard/src/hub/index.js';
import { RawClient, startHub, type TestHub } from './helpers.js';

class FlakyAdapter extends InProcessAdapter {
  failNext = false;
  override history(room: string, since?: number): Promise<HistoryResult> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('adapter down'));
    }
    return super.history(room, since);
  }
}

describe('hub: adapter failures during a join', { timeout: 30_000 }, () => {
  let t: TestHub;
  after(async () => {
    await t?.close();
  });

  test('the failed join is undone; joining again goes live', async () => {
    const adapter = new FlakyAdapter();
    t = await startHub({ adapter });
    const [a, b] = [await RawClient.open(t.url), await RawClient.open(t.url)];
    assert.equal((await a.call({ t: 'join', room: 'r' }, 1)).t, 'ack');
    adapter.failNext = true;
    const failed = await b.call({ t: 'join', room: 'r', since: 0 }, 1);
    assert.equal(failed.code, 'internal');
    assert.deepEqual((await t.hub.presence('r')).map((m) => m.id), [a.id], 'not left a member');
    assert.equal((await b.call({ t: 'join', room: 'r', since: 0 }, 2)).t, 'ack');
    const ack = await a.call({ t: 'pub', room: 'r', ev: 'e', data: 'live' }, 2);
    assert.equal((await b.next((m) => m.t === 'msg' && m.data === 'live')).mid, ack.data.mid);
    a.ws.close();
    b.ws.close();
  });
});
