// What the Redis Sentinel tests (sentinel*.test.ts) share (not a test file): a
// master, a replica and a sentinel started before the file's tests and
// stopped after them with every hub node and client a test made; two hub
// nodes with a member in one room; publishing through a failover.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startRedisSentinel, type RedisSentinelSetup } from '../helpers/redis.js';
import { HubNode, Recorder, delay, startNode } from './helpers.js';

export interface SentinelRoom {
  /** The node publishes go through; a short command timeout makes a publish with no master fail well before the sentinel (down after 1 s) has a new one. */
  publisherNode: HubNode;
  memberNode: HubNode;
  /** A client of memberNode, joined to `room`, recording 'tick' messages. */
  member: Recorder;
  room: string;
}

export interface SentinelFixture {
  /** The running setup (from the file's `before` on). */
  readonly setup: RedisSentinelSetup;
  /** Starts the two nodes (the member node connected as `memberConnection` says) and joins the member to the room. */
  startRoom(memberConnection: (setup: RedisSentinelSetup) => Record<string, unknown>): Promise<SentinelRoom>;
}

/** Registers the file's `before` and `after`: call it once, at the top of a test file. */
export function useRedisSentinel(): SentinelFixture {
  let setup: RedisSentinelSetup | undefined;
  const nodes: HubNode[] = [];
  const clients: Recorder[] = [];
  before(async () => {
    setup = await startRedisSentinel();
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
    // A test may have left the replica stopped (SIGSTOP).
    setup?.replica.child?.proc.kill('SIGCONT');
    await setup?.stop();
  });
  return {
    get setup(): RedisSentinelSetup {
      assert.ok(setup !== undefined, 'the sentinel setup is started in before()');
      return setup;
    },
    async startRoom(memberConnection) {
      const running = this.setup;
      const [publisherNode, memberNode] = await Promise.all([
        startNode({ sentinel: { name: running.name, sentinels: [running.sentinelUrl] }, commandTimeout: 300 }),
        startNode(memberConnection(running)),
      ]);
      nodes.push(publisherNode!, memberNode!);
      const room = 'ticker';
      const member = new Recorder(memberNode!.url).listen('tick');
      clients.push(member);
      await member.client.join(room);
      return { publisherNode: publisherNode!, memberNode: memberNode!, member, room };
    },
  };
}

/**
 * Publishes `count` messages (data `first`, `first + 1`, ...; one number is used per attempt) through a
 * failover: a failed publish is retried 50 ms later, for 45 s at most. Returns the data published and
 * the codes of the failures.
 */
export async function publishThroughFailover(fixture: SentinelFixture, { publisherNode, room }: SentinelRoom, first: number, count: number): Promise<{ published: number[]; failures: Array<string | undefined> }> {
  const published: number[] = [];
  const failures: Array<string | undefined> = [];
  const deadline = Date.now() + 45_000;
  for (let i = first; published.length < count; i++) {
    assert.ok(Date.now() < deadline, `publishes did not go on after the failover; sentinel log:\n${fixture.setup.sentinelLog()}`);
    try {
      await publisherNode.call('publish', { room, ev: 'tick', data: i });
      published.push(i);
    } catch (error) {
      failures.push((error as { code?: string }).code);
      await delay(50);
    }
  }
  return { published, failures };
}
