// Attacks on a hub (issue #13), each against the README's setup in a process
// of its own (test/hub/fixtures/attack-hub.ts) so that its memory can be
// measured: the process stays up, grows by at most the stated bound (never
// more than 64 MiB), the attacker gets its answer, and an honest pair of
// clients on the same hub is served afterwards (join, pub, delivery).
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HubOptions } from '../../packages/switchboard/src/hub/index.js';
import { withTimeout } from '../helpers/async.js';
import { HOST, RawClient, delay, hubClient, dropClient, until } from './helpers.js';

const MiB = 1024 * 1024;
const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'attack-hub.ts');

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** The hub process: started, asked over IPC, stopped. */
class HubProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, (value: unknown) => void>();
  exit: { code: number | null; signal: string | null } | null = null;
  stderr = '';

  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
  ) {
    proc.on('message', (m: { id?: number; value?: unknown }) => {
      if (m.id !== undefined) this.waiting.get(m.id)?.(m.value);
      this.waiting.delete(m.id!);
    });
  }

  static async start(options: HubOptions): Promise<HubProcess> {
    const proc = fork(fixture, [JSON.stringify(options)], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => void (stderr += d));
    const port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        proc.once('message', (m: { ready?: number }) => resolve(m.ready!));
        proc.once('exit', (code) => reject(new Error(`the hub process exited (${code}): ${stderr}`)));
      }),
      30_000,
      'the hub process to listen',
    );
    const hub = new HubProcess(proc, port);
    proc.stderr!.on('data', (d: string) => void (hub.stderr += d));
    proc.once('exit', (code, signal) => void (hub.exit = { code, signal }));
    return hub;
  }

  get url(): string {
    return `ws://${HOST}:${this.port}/hub`;
  }

  call<T>(cmd: string, extra: Record<string, unknown> = {}): Promise<T> {
    assert.equal(this.exit, null, `the hub process is gone (${JSON.stringify(this.exit)}): ${this.stderr}`);
    const id = this.nextId++;
    return withTimeout(
      new Promise<T>((resolve) => {
        this.waiting.set(id, resolve as (value: unknown) => void);
        this.proc.send({ id, cmd, ...extra });
      }),
      30_000,
      `the hub process to answer ${cmd}`,
    );
  }

  memory(): Promise<Memory> {
    return this.call<Memory>('memory');
  }

  /** Asserts the process is up and grew (RSS, and heap + buffers) by at most `boundMiB` since `before`. */
  async assertGrowth(before: Memory, boundMiB: number, label: string, rssBoundMiB = 64): Promise<void> {
    const now = await this.memory();
    const rss = (now.rss - before.rss) / MiB;
    const heap = (now.heapUsed + now.arrayBuffers - before.heapUsed - before.arrayBuffers) / MiB;
    const report = `${label}: RSS ${rss.toFixed(1)} MiB (bound ${rssBoundMiB} MiB), heap+buffers ${heap.toFixed(1)} MiB (bound ${boundMiB} MiB)`;
    if (process.env.SWITCHBOARD_TEST_VERBOSE) console.log(report);
    assert.ok(rss <= rssBoundMiB, report);
    assert.ok(heap <= boundMiB, report);
  }

  async stop(): Promise<void> {
    if (this.exit !== null) return;
    const gone = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    await withTimeout(gone, 5000, 'the hub process to stop').catch(() => this.proc.kill('SIGKILL'));
  }
}

let honestRound = 0;
/** Two honest clients join a fresh room; one publishes, the other gets it. */
async function assertHonestServed(hub: HubProcess): Promise<void> {
  const room = `honest-${++honestRound}`;
  const [a, b] = await Promise.all([RawClient.open(hub.url), RawClient.open(hub.url)]);
  try {
    assert.equal((await a.call({ t: 'join', room }, 1)).t, 'ack');
    assert.equal((await b.call({ t: 'join', room }, 1)).t, 'ack');
    const ack = await a.call({ t: 'pub', room, ev: 'chat', data: { text: 'still here' } }, 2);
    assert.equal(ack.t, 'ack', JSON.stringify(ack));
    const msg = await b.next((m) => m.t === 'msg' && m.room === room);
    assert.deepEqual(msg.data, { text: 'still here' });
    assert.equal(msg.mid, ack.data.mid);
  } finally {
    a.ws.close();
    b.ws.close();
  }
}

/** A raw client's text frames sent back to back without waiting (the socket buffers them). */
async function sendAll(client: RawClient, texts: Iterable<string>): Promise<void> {
  let sent = 0;
  for (const text of texts) {
    client.ws.send(text);
    // Let the socket drain now and then, so the test process does not hold everything at once.
    if (++sent % 2000 === 0) await until(() => client.ws.bufferedAmount < 4 * MiB, 60_000, 'the attacker to drain');
  }
}

describe('hub: attacks (each against a hub process of its own: alive, bounded memory, honest clients served)', { timeout: 300_000 }, () => {
  let hub: HubProcess;
  before(async () => {
    // The worst case: no rate limit; history expires fast so that rooms are swept within the test.
    hub = await HubProcess.start({ rateLimit: false, history: { maxAge: 1500 } });
    await assertHonestServed(hub);
  });
  after(async () => {
    await hub?.stop();
  });

  test('an upgrade to a path the hub does not serve, then a TCP reset right after the 400', async () => {
    const before = await hub.memory();
    for (let i = 0; i < 50; i++) {
      const socket = net.connect(hub.port, HOST);
      socket.on('error', () => {});
      const answer = await withTimeout(
        new Promise<string>((resolve) => {
          socket.once('data', (d: Buffer) => {
            socket.resetAndDestroy();
            resolve(d.toString('latin1'));
          });
          socket.write(
            'GET /not-the-hub HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
          );
        }),
        5000,
        'the 400',
      );
      assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    }
    await delay(200); // the resets reach the hub
    await hub.assertGrowth(before, 16, 'upgrade refusals reset');
    await assertHonestServed(hub);
  });

  test('resume naming 60,000 rooms, four times: bad_message, nothing joined', async () => {
    const before = await hub.memory();
    const attacker = await RawClient.open(hub.url);
    const rooms: Record<string, number> = {};
    for (let i = 0; i < 60_000; i++) rooms[`r${i}`] = 5;
    for (let id = 1; id <= 4; id++) {
      const answer = await attacker.call({ t: 'resume', rooms }, id, 30_000);
      assert.equal(answer.t, 'error');
      assert.equal(answer.code, 'bad_message');
      assert.match(answer.message, /at most 1000 rooms/);
    }
    // At the limit it works; one room more does not.
    const thousand: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) thousand[`r${i}`] = 0;
    const ok = await attacker.call({ t: 'resume', rooms: thousand }, 5, 30_000);
    assert.equal(ok.t, 'ack');
    assert.equal(Object.keys(ok.data.rooms).length, 1000);
    const refused = await attacker.call({ t: 'join', room: 'one-too-many' }, 6);
    assert.equal(refused.t, 'error');
    assert.equal(refused.code, 'too_many_rooms');
    await hub.assertGrowth(before, 32, 'resume with 60,000 rooms');
    await assertHonestServed(hub);
    attacker.ws.close();
  });

  test('a pub whose data is nested 6,000 deep: bad_message; later joins with history and resumes still get live messages', async () => {
    const before = await hub.memory();
    const room = 'deep';
    const attacker = await RawClient.open(hub.url);
    assert.equal((await attacker.call({ t: 'join', room }, 1)).t, 'ack');
    const deep = `{"t":"pub","id":2,"room":"${room}","ev":"x","data":${'['.repeat(6000)}${']'.repeat(6000)}}`;
    attacker.send(deep);
    const answer = await attacker.next((m) => m.t === 'error' || (m.t === 'ack' && m.id === 2));
    assert.equal(answer.code, 'bad_message', JSON.stringify(answer));
    assert.equal((await attacker.call({ t: 'pub', room, ev: 'x', data: [[[1]]] }, 3)).t, 'ack');
    // Data the server itself publishes is serialised before it is stored: a cycle is refused at once.
    assert.match(await hub.call<string>('publishCyclic', { room }), /^TypeError: The data of "cyclic" cannot be serialised/);
    // Members who join with history, or resume, go live.
    const late = await RawClient.open(hub.url);
    assert.equal((await late.call({ t: 'join', room, since: 0 }, 1)).t, 'ack');
    const resumer = await RawClient.open(hub.url);
    assert.equal((await resumer.call({ t: 'resume', rooms: { [room]: 0 } }, 1)).t, 'ack');
    const live = await attacker.call({ t: 'pub', room, ev: 'live', data: 'now' }, 4);
    for (const member of [late, resumer]) {
      const msg = await member.next((m) => m.t === 'msg' && m.ev === 'live');
      assert.equal(msg.mid, live.data.mid);
    }
    assert.deepEqual(await hub.call('errors'), []);
    await hub.assertGrowth(before, 16, 'deep JSON');
    await assertHonestServed(hub);
    for (const c of [attacker, late, resumer]) c.ws.close();
  });

  test('3 connections held in middleware, each sending 64 messages of 1 MB: held up to 1 MiB each, the rest refused', async () => {
    const before = await hub.memory();
    const attackers = await Promise.all([0, 1, 2].map(() => RawClient.connect(hub.url)));
    const big = JSON.stringify({ t: 'emit', ev: 'x', data: 'a'.repeat(1_000_000) });
    for (const attacker of attackers) {
      attacker.send({ t: 'hello', auth: { hold: true } });
      for (let i = 0; i < 64; i++) attacker.send(big);
    }
    for (const attacker of attackers) {
      await until(() => attacker.received.filter((m) => m.code === 'rate_limited').length === 63, 60_000, 'the refusals');
    }
    await hub.assertGrowth(before, 16, 'early-buffer flood');
    await assertHonestServed(hub);
    await hub.call('release');
    for (const attacker of attackers) {
      await attacker.next((m) => m.t === 'welcome');
      attacker.ws.close();
    }
  });

  test('rooms named __proto__, constructor, toString: join, pub, presence, history, resume', async () => {
    for (const room of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const a = await RawClient.open(hub.url);
      const b = await RawClient.open(hub.url);
      const joinA = await a.call({ t: 'join', room }, 1);
      assert.equal(joinA.t, 'ack', room);
      assert.equal(joinA.data.room, room);
      const first = await a.call({ t: 'pub', room, ev: 'chat', data: 1 }, 2);
      // History on join, presence.
      const joinB = await b.call({ t: 'join', room, since: 0 }, 1);
      assert.equal(joinB.data.members.length, 2, room);
      assert.equal((await b.next((m) => m.t === 'msg')).mid, first.data.mid);
      await a.next((m) => m.t === 'presence' && m.room === room && m.join?.id === b.id);
      // Resume on a new connection (written by hand: a "__proto__" key in an object literal would set the prototype).
      const c = await RawClient.open(hub.url);
      c.send(`{"t":"resume","id":1,"rooms":{${JSON.stringify(room)}:0},"was":[${JSON.stringify(b.id)}]}`);
      const resumed = await c.next((m) => m.t === 'ack' && m.id === 1);
      assert.ok(Object.hasOwn(resumed.data.rooms, room), `${room}: ${JSON.stringify(resumed)}`);
      assert.equal(resumed.data.rooms[room].head, first.data.mid, room);
      assert.equal((await c.next((m) => m.t === 'msg' && m.room === room)).mid, first.data.mid);
      const second = await b.call({ t: 'pub', room, ev: 'chat', data: 2 }, 2);
      for (const member of [a, c]) assert.equal((await member.next((m) => m.t === 'msg' && m.mid === second.data.mid)).data, 2, room);
      for (const x of [a, b, c]) x.ws.close();
    }
    // The client library resumes such a room after a dropped connection.
    const ann = hubClient(hub.url, { reconnect: { initialDelay: 10, maxDelay: 50 } });
    const bob = hubClient(hub.url);
    try {
      await ann.join('__proto__');
      await bob.join('__proto__');
      const got: number[] = [];
      ann.on('n', (d: number, _reply, meta) => {
        if (meta.room === '__proto__') got.push(d);
      });
      await bob.publish('__proto__', 'n', 1);
      await until(() => got.length === 1, 5000, 'the first message');
      dropClient(ann);
      await delay(50);
      const mid = await bob.publish('__proto__', 'n', 2);
      await until(() => got.length === 2, 10_000, 'the message published while it was away');
      assert.deepEqual(got, [1, 2]);
      assert.equal(ann.lastSeen('__proto__'), mid);
    } finally {
      ann.close();
      bob.close();
    }
    await assertHonestServed(hub);
  });

  test('a join into a room of 20,000 members: the answer lists 100 of them and says there are more', async () => {
    await hub.call('fill', { room: 'stadium', count: 20_000 });
    const before = await hub.memory();
    const attacker = await RawClient.open(hub.url);
    for (let i = 0; i < 200; i++) {
      const ack = await attacker.call({ t: 'join', room: 'stadium' }, 2 * i + 1);
      assert.equal(ack.t, 'ack');
      assert.equal(ack.data.members.length, 100);
      assert.equal(ack.data.more, true);
      assert.equal((await attacker.call({ t: 'leave', room: 'stadium' }, 2 * i + 2)).t, 'ack');
    }
    await hub.assertGrowth(before, 16, '20,000-member join answers');
    await assertHonestServed(hub);
    attacker.ws.close();
  });
});

describe('hub: attacks on room ids', { timeout: 300_000 }, () => {
  test('200,000 rooms touched (join, pub, leave): what they leave behind is bounded', async () => {
    // No history, so that a room leaves nothing but its last id behind the moment its last member leaves.
    const hub = await HubProcess.start({ rateLimit: false, history: { maxAge: 1500, maxMessages: 0 } });
    try {
    const before = await hub.memory();
    const attacker = await RawClient.open(hub.url);
    const prefix = 'x'.repeat(200);
    function* touches(): Generator<string> {
      for (let i = 0; i < 200_000; i++) {
        const room = JSON.stringify(`${prefix}${i}`);
        yield `{"t":"join","room":${room}}`;
        yield `{"t":"pub","room":${room},"ev":"e","data":1}`;
        yield `{"t":"leave","room":${room}}`;
      }
    }
    await sendAll(attacker, touches());
    // Everything was handled once a request after them is answered; then history expires and the sweep runs.
    assert.equal((await attacker.call({ t: 'leave', room: 'none' }, 2, 120_000)).t, 'ack');
    assert.equal(attacker.received.filter((m) => m.t === 'error').length, 0);
    await delay(4000);
    await hub.assertGrowth(before, 24, '200,000 touched rooms');
    await assertHonestServed(hub);
    attacker.ws.close();
    } finally {
      await hub.stop();
    }
  });
});

describe('hub: attacks on history', { timeout: 300_000 }, () => {
  test('1 MB messages published across 60 rooms with history on (default limits, no rate limit): history stays within history.maxBytes, evicted rooms answer a resume with a gap', async () => {
    const hub = await HubProcess.start({ rateLimit: false });
    try {
      const attacker = await RawClient.open(hub.url);
      const rooms = 60;
      for (let i = 0; i < rooms; i++) attacker.send({ t: 'join', room: `h${i}` });
      const big = JSON.stringify('a'.repeat(1_000_000));
      // Parsed, this one takes over 20 times the memory of its text: history must not keep it parsed.
      const amplifying = `[${'{},'.repeat(150_000)}{}]`;
      function* pubs(volatile: boolean): Generator<string> {
        for (let i = 0; i < rooms; i++) yield `{"t":"pub","room":"h${i}","ev":"e","data":${i % 10 === 9 ? amplifying : big}${volatile ? ',"volatile":true' : ''}}`;
      }
      // The same traffic, volatile (nothing kept), first: what the process takes to read and parse 60 MB
      // at full speed stays with it (the allocator keeps freed pages), and is not what this test measures.
      await sendAll(attacker, pubs(true));
      assert.equal((await attacker.call({ t: 'leave', room: 'none' }, 1, 120_000)).t, 'ack');
      const before = await hub.memory();
      await sendAll(attacker, pubs(false));
      const last = await attacker.call({ t: 'pub', room: 'h0', ev: 'e', data: 'last' }, 2, 120_000);
      assert.equal(last.t, 'ack', JSON.stringify(last));
      assert.equal(attacker.received.filter((m) => m.t === 'error').length, 0);
      // What history holds is bounded by history.maxBytes (32 MiB).
      await hub.assertGrowth(before, 40, `${rooms} rooms of 1 MB history`);
      // The first rooms' messages were evicted for the later ones: a resume from before them gets a gap, never silence.
      const resumer = await RawClient.open(hub.url);
      const ack = await resumer.call({ t: 'resume', rooms: { h1: 0, [`h${rooms - 1}`]: 0 } }, 1, 30_000);
      assert.equal(ack.t, 'ack');
      assert.deepEqual(
        resumer.received.filter((m) => m.t === 'gap'),
        [{ t: 'gap', room: 'h1', from: 1, to: 1 }],
      );
      assert.deepEqual(resumer.received.filter((m) => m.t === 'msg').map((m) => `${m.room}:${m.mid}`), [`h${rooms - 1}:1`]);
      await assertHonestServed(hub);
      attacker.ws.close();
      resumer.ws.close();
    } finally {
      await hub.stop();
    }
  });
});
