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
import { after, before, test } from 'node:test';
import { redisCli, startRedisSentinel, type RedisSentinelSetup } from '../helpers/redis.js';
import { HubNode, Recorder, delay, range, startNode, until } from './helpers.js';

const REPLICATED = 20;
const LOST = 20;
const AFTER = 40;

let setup: RedisSentinelSetup;
const nodes: HubNode[] = [];
const clients: Recorder[] = [];
before(async () => {
  setup = await startRedisSentinel();
});
after(async () => {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((n) => n.stop()));
  setup?.replica.child?.proc.kill('SIGCONT');
  await setup?.stop();
});

test('Sentinel: a failover that lost acknowledged publishes changes the epoch: a member that saw them gets a gap with reset, never a silent hole', { timeout: 90_000 }, async () => {
  const [publisherNode, memberNode] = await Promise.all([
    startNode({ sentinel: { name: setup.name, sentinels: [setup.sentinelUrl] }, commandTimeout: 300 }),
    startNode({ sentinel: { name: setup.name, sentinels: [setup.sentinelUrl] } }),
  ]);
  nodes.push(publisherNode!, memberNode!);
  const room = 'ticker';
  const member = new Recorder(memberNode!.url).listen('tick');
  clients.push(member);
  await member.client.join(room);

  for (const i of range(REPLICATED)) await publisherNode!.call('publish', { room, ev: 'tick', data: i });
  assert.equal((await redisCli(['-p', String(setup.master.port), 'WAIT', '1', '5000'])).trim(), '1');
  const { epoch: firstEpoch } = (await memberNode!.call('history', { room })) as { epoch: string };

  // The replica stops and loses its link: what the master acknowledges now, only the master has.
  setup.replica.child!.proc.kill('SIGSTOP');
  await redisCli(['-p', String(setup.master.port), 'CLIENT', 'KILL', 'TYPE', 'replica']);
  for (const i of range(LOST)) await publisherNode!.call('publish', { room, ev: 'tick', data: REPLICATED + i });
  await until(() => member.messages.length >= REPLICATED + LOST, 10_000, 'the member got the messages the replica lacks');
  await setup.master.kill();
  setup.replica.child!.proc.kill('SIGCONT');

  const published: number[] = [];
  const deadline = Date.now() + 45_000;
  for (let i = REPLICATED + LOST; published.length < AFTER; i++) {
    assert.ok(Date.now() < deadline, `publishes did not go on after the failover; sentinel log:\n${setup.sentinelLog()}`);
    try {
      await publisherNode!.call('publish', { room, ev: 'tick', data: i });
      published.push(i);
    } catch {
      await delay(50);
    }
  }
  assert.match(setup.sentinelLog(), /\+switch-master/, 'the sentinel promoted the replica');

  // A client resuming from a lost message (the hub's resume reads exactly this): a reset, in a new epoch.
  const resumedLost = (await memberNode!.call('history', { room, since: REPLICATED + LOST, epoch: firstEpoch })) as { epoch: string; gap?: { reset?: boolean }; messages: unknown[] };
  assert.notEqual(resumedLost.epoch, firstEpoch, 'the failover changed the epoch');
  assert.equal(resumedLost.gap?.reset, true, `a resume after a lost message gets a gap with reset, not ${JSON.stringify(resumedLost.gap)}`);
  // A client resuming from a message the replica has: the ids went on, no gap.
  const resumedKept = (await memberNode!.call('history', { room, since: REPLICATED, epoch: firstEpoch })) as { gap?: unknown; messages: { mid: number }[] };
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
