// Sentinel failover that loses acknowledged writes (replication is
// asynchronous, docs/redis.md): the replica is stopped (SIGSTOP) and cut from
// the master (CLIENT KILL TYPE replica), so the master acknowledges publishes
// the replica never gets; then the master is killed (-9), the replica goes on
// and the sentinel promotes it. The promoted replica's head is behind what
// members saw, and new messages take the lost ids: they must come in a new
// epoch, so that a member that saw a lost message gets a `gap` with `reset`
// (never its successor dropped as a duplicate), and a resume from a position
// the replica has goes on without one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisCli } from '../helpers/redis.js';
import { delay, range, until } from './helpers.js';
import { publishThroughFailover, useRedisSentinel } from './sentinel-setup.js';

const REPLICATED = 20;
const LOST = 20;
const AFTER = 40;

const sentinel = useRedisSentinel();

test('Sentinel: a failover that lost acknowledged publishes changes the epoch: a member that saw them gets a gap with reset, never a silent hole', { timeout: 90_000 }, async () => {
  const { setup } = sentinel;
  const ticker = await sentinel.startRoom(({ name, sentinelUrl }) => ({ sentinel: { name, sentinels: [sentinelUrl] } }));
  const { publisherNode, memberNode, member, room } = ticker;

  for (const i of range(REPLICATED)) await publisherNode.call('publish', { room, ev: 'tick', data: i });
  assert.equal((await redisCli(['-p', String(setup.master.port), 'WAIT', '1', '5000'])).trim(), '1');
  const { epoch: firstEpoch } = (await memberNode.call('history', { room })) as { epoch: string };

  // The replica stops and loses its link: what the master acknowledges now, only the master has.
  setup.replica.child!.proc.kill('SIGSTOP');
  await redisCli(['-p', String(setup.master.port), 'CLIENT', 'KILL', 'TYPE', 'replica']);
  for (const i of range(LOST)) await publisherNode.call('publish', { room, ev: 'tick', data: REPLICATED + i });
  await until(() => member.messages.length >= REPLICATED + LOST, 10_000, 'the member got the messages the replica lacks');
  await setup.master.kill();
  setup.replica.child!.proc.kill('SIGCONT');

  const { published } = await publishThroughFailover(sentinel, ticker, REPLICATED + LOST, AFTER);
  assert.match(setup.sentinelLog(), /\+switch-master/, 'the sentinel promoted the replica');

  // A client resuming from a lost message (the hub's resume reads exactly this): a reset, in a new epoch.
  const resumedLost = (await memberNode.call('history', { room, since: REPLICATED + LOST, epoch: firstEpoch })) as { epoch: string; gap?: { reset?: boolean }; messages: unknown[] };
  assert.notEqual(resumedLost.epoch, firstEpoch, 'the failover changed the epoch');
  assert.equal(resumedLost.gap?.reset, true, `a resume after a lost message gets a gap with reset, not ${JSON.stringify(resumedLost.gap)}`);
  // A client resuming from a message the replica has: the ids went on, no gap.
  const resumedKept = (await memberNode.call('history', { room, since: REPLICATED, epoch: firstEpoch })) as { gap?: unknown; messages: { mid: number }[] };
  assert.equal(resumedKept.gap, undefined, 'a resume from before the loss continues');
  assert.deepEqual(
    resumedKept.messages.map((m) => m.mid),
    range(AFTER).map((i) => REPLICATED + 1 + i),
    'and gets every message published after the failover',
  );

  // The member, connected all along, saw the lost messages: it gets a reset and every message published after the failover, once, in order.
  const last = published[published.length - 1];
  await until(() => member.messages.some((m) => m.data === last), 20_000, `the member got the last message; gaps ${JSON.stringify(member.gaps)}, got ${JSON.stringify(member.messages.map((m) => m.data))}`);
  await delay(200);
  assert.ok(
    member.gaps.some((g) => g.reset === true),
    `a gap with reset: ${JSON.stringify(member.gaps)}`,
  );
  assert.deepEqual(
    member.messages.map((m) => m.data as number).filter((d) => d >= REPLICATED + LOST),
    published,
    'every message published after the failover, once, in order',
  );
});
