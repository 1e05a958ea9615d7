// Real load balancers in front of two `serve --hub --redis` nodes, with the
// exact files of examples/deploy/ (only their ports replaced by free ones):
// nginx and HAProxy, round-robin, no sticky sessions. Clients connected
// through the balancer land on both nodes and see each other's messages;
// then one node is killed (kill -9) while a publisher sends 400 messages, and
// its clients reconnect through the balancer to the other node and resume:
// every message once, in order, no gap.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startServe, withServedRedis, type Served } from '../cli/helpers.js';
import { withTimeout } from '../helpers/async.js';
import { repoRoot } from '../helpers/env.js';
import { Child } from '../helpers/process.js';
import { HOST, Recorder, delay, range, until } from './helpers.js';

const TOTAL = 400;
const CLIENTS = 6;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** examples/deploy/<file> with its ports 8000 (the balancer), 8001 and 8002 (the nodes) replaced; each must be there once. */
function templated(file: string, ports: { balancer: number; nodes: [number, number] }): string {
  let text = readFileSync(path.join(repoRoot, 'examples/deploy', file), 'utf8');
  for (const [from, to] of [[8000, ports.balancer], [8001, ports.nodes[0]], [8002, ports.nodes[1]]] as const) {
    const address = new RegExp(`127\\.0\\.0\\.1:${from}\\b`, 'g');
    assert.equal(text.match(address)?.length, 1, `${file}: 127.0.0.1:${from} once`);
    text = text.replace(address, `${HOST}:${to}`);
  }
  return text;
}

/** Resolves once something accepts connections on `port`. */
async function listening(port: number, process: Child): Promise<void> {
  await until(
    () =>
      new Promise<boolean>((resolve) => {
        if (!process.running) throw new Error(`the balancer exited: ${process.describe()}`);
        const socket = net.connect(port, HOST);
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      }),
    10_000,
    'the balancer listening',
  );
}

interface Balancer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const balancers: Record<string, (nodes: [number, number]) => Promise<Balancer>> = {
  nginx: async (nodes) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-nginx-'));
    const port = await freePort();
    writeFileSync(path.join(dir, 'nginx.conf'), templated('nginx.conf', { balancer: port, nodes }));
    const child = new Child('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')]);
    await listening(port, child);
    return {
      url: `ws://${HOST}:${port}/hub`,
      port,
      stop: async () => {
        await child.stop('SIGTERM', 5000); // fast shutdown: the master stops its workers
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  haproxy: async (nodes) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-haproxy-'));
    const port = await freePort();
    writeFileSync(path.join(dir, 'haproxy.cfg'), templated('haproxy.cfg', { balancer: port, nodes }));
    const child = new Child('/usr/sbin/haproxy', ['-db', '-f', path.join(dir, 'haproxy.cfg')]);
    await listening(port, child);
    return {
      url: `ws://${HOST}:${port}/hub`,
      port,
      stop: async () => {
        await child.stop('SIGTERM', 5000);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** Connections each node logged (serve's "connect" lines). */
const connectsOn = (node: Served): number => node.child.lines.filter((line) => / connect /.test(line)).length;

describe('two serve --hub --redis nodes behind a load balancer (examples/deploy/)', { timeout: 120_000 }, () => {
  const clients: Recorder[] = [];
  const stops: Array<() => Promise<void>> = [];
  const setup = withServedRedis(clients, async () => {
    for (const stop of stops) await stop();
  });

  for (const name of Object.keys(balancers)) {
    test(`${name}: clients on both nodes see each other's messages; after kill -9 of a node they resume on the other with no loss`, async () => {
      const nodes = await Promise.all([0, 1].map(() => startServe(['--hub', '--redis', setup.redis.url, '--rate', '0', '--api-key', 'k'])));
      const [victim, survivor] = nodes as [Served, Served];
      const balancer = await balancers[name]!([victim.port, survivor.port]);
      stops.push(balancer.stop);
      const room = `${name}-room`;

      // Round-robin with no stickiness: the clients are spread over both nodes.
      const members: Recorder[] = [];
      const said = new Map<Recorder, unknown[]>();
      for (let i = 0; i < CLIENTS; i++) {
        // WebSocket only: what is tried here is the balancer passing upgrades (not the HTTP fallbacks).
        const member = new Recorder(balancer.url, { auth: { user: `u${i}` }, transports: ['websocket'] }).listen('tick');
        clients.push(member);
        said.set(member, []);
        member.client.on('say', (data: unknown) => said.get(member)!.push(data));
        await withTimeout(member.client.join(room), 10_000, `member ${i} joined through ${name}`);
        members.push(member);
      }
      assert.ok(connectsOn(victim) >= 1 && connectsOn(survivor) >= 1, `both nodes took connections: ${connectsOn(victim)} and ${connectsOn(survivor)}`);

      // Each member's message reaches every other member, whichever node each is on.
      await Promise.all(members.map((m, i) => m.client.publish(room, 'say', i)));
      await until(() => members.every((m) => said.get(m)!.length >= CLIENTS - 1), 10_000, 'every member got the others\' messages');
      members.forEach((m, i) => assert.deepEqual([...said.get(m)!].sort(), range(CLIENTS).filter((j) => j !== i), `member ${i}`));
      const firstIds = members.map((m) => m.client.id);

      // A publisher on the node that stays (its own stream must not break), then kill -9 of the other.
      const publisher = new Recorder(`${survivor.url}hub`);
      clients.push(publisher);
      await publisher.client.join(room);
      for (const i of range(TOTAL)) {
        await publisher.client.publish(room, 'tick', i);
        if (i === 100) await victim.child.stop('SIGKILL', 1000);
        if (i % 50 === 0) await delay(10);
      }

      await until(() => members.every((m) => m.messages.length >= TOTAL), 45_000, 'every member got every message');
      const moved = members.filter((m, i) => m.client.id !== firstIds[i]);
      assert.ok(moved.length >= 1, 'some members were on the killed node and reconnected');
      for (const m of members) {
        assert.deepEqual(
          m.messages.map((x) => x.data),
          range(TOTAL),
          'every message exactly once, in order',
        );
        assert.deepEqual(m.gaps, [], 'nothing lost: no gap');
      }
      for (const m of moved) assert.ok(m.disconnects.length >= 1);

      // Publishing over HTTP through the balancer still works, and reaches every member.
      const res = await fetch(`http://${HOST}:${balancer.port}/api/publish`, {
        method: 'POST',
        headers: { authorization: 'apikey k', 'content-type': 'application/json' },
        body: JSON.stringify({ room, event: 'tick', data: TOTAL }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      await until(() => members.every((m) => m.messages.length === TOTAL + 1), 10_000, 'the HTTP publish on every member');
    });
  }
});
