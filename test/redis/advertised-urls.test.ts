// A client given one node's URL learns the others from the hub
// (`serve --hub --redis --advertise-url`, welcome.nodes), so that when its
// node dies (kill -9) it fails over to a node it was never told about and
// resumes there: every message once, in order, no gap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServe, withServedRedis } from '../cli/helpers.js';
import { Recorder, delay, range, until } from './helpers.js';

const TOTAL = 500;

const clients: Recorder[] = [];
const setup = withServedRedis(clients);

test("a client that knows only node A learns node B from A's welcome and fails over to it when A is killed", { timeout: 90_000 }, async () => {
  const b = await startServe(['--hub', '--redis', setup.redis.url, '--rate', '0']);
  const urlB = `${b.url}hub`;
  const a = await startServe(['--hub', '--redis', setup.redis.url, '--rate', '0', '--advertise-url', urlB]);
  const urlA = `${a.url}hub`;
  const room = 'ticker';

  const watcher = new Recorder(urlA).listen('tick');
  clients.push(watcher);
  await watcher.client.join(room);
  assert.deepEqual(watcher.client.urls, [urlA, urlB], "B's URL learnt from A's welcome");
  assert.equal(watcher.client.url, urlA);
  const firstId = watcher.client.id;

  const publisher = new Recorder(urlB);
  clients.push(publisher);
  await publisher.client.join(room);
  for (const i of range(TOTAL)) {
    await publisher.client.publish(room, 'tick', i);
    if (i === 150) await a.child.stop('SIGKILL', 1000);
    if (i % 50 === 0) await delay(5);
  }

  await until(() => watcher.messages.length >= TOTAL, 30_000, 'every message on the watcher');
  assert.deepEqual(
    watcher.messages.map((m) => m.data),
    range(TOTAL),
    'every message exactly once, in order',
  );
  assert.equal(watcher.client.url, urlB, 'now on B');
  assert.notEqual(watcher.client.id, firstId, 'a new connection');
  assert.ok(watcher.disconnects.length >= 1, 'it did lose node A');
  assert.deepEqual(watcher.gaps, [], 'nothing lost: no gap');
});
