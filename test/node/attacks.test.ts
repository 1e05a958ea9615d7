// Attacks on the Node layer, each from one anonymous client against a real
// server in a child process (attack-server.ts) on 127.0.0.1. Each test
// asserts that the server process stays up, that its RSS (after a GC) grows
// by at most 64 MiB, that the attacker is closed with the right code, and
// that an honest client on the same server is served during and after.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import net from 'node:net';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Opcode } from '../../packages/switchboard/src/protocol/index.js';
import { Child } from '../helpers/process.js';
import { repoRoot } from '../helpers/env.js';
import { HOST, RawClient, WsClient, clientFrame, delay, parseClose, upgradeRequest, withTimeout } from './helpers.js';

const MiB = 1024 * 1024;
/** The bound: one attacker grows a server by at most this much. */
const MAX_GROWTH = 64 * MiB;
const T = { timeout: 60_000 };

interface Stats {
  rss: number;
  /** Peak RSS of the process so far. */
  hwm: number;
  closes: Array<{ code: number; error: string | null }>;
}

/** The attack server in a child process, with an honest client connected to it. */
class Target {
  private constructor(
    readonly child: Child,
    readonly port: number,
    readonly honest: WsClient,
    readonly baseline: number,
  ) {}

  static async start(mode: 'port' | 'server' | 'noServer' = 'port', options: object = {}): Promise<Target> {
    const child = new Child(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/node/attack-server.ts', mode, JSON.stringify(options)], { cwd: repoRoot });
    const [, port] = await child.waitForLine(/^listening (\d+)$/, 20_000);
    const honest = new WsClient(`ws://${HOST}:${port}/ws`);
    honest.on('error', () => {});
    await withTimeout(new Promise((resolve, reject) => (honest.once('open', resolve), honest.once('error', reject))), 5000, 'the honest client to connect');
    const target = new Target(child, Number(port), honest, 0);
    // Warm up (code paths compiled, buffers allocated) before the baseline.
    for (let i = 0; i < 20; i++) await target.roundTrip();
    return new Target(child, Number(port), honest, (await target.stats()).rss);
  }

  /** An echo round trip for the honest client. */
  async roundTrip(): Promise<void> {
    const text = `honest ${Math.random()}`;
    assert.equal(await this.request(text), text);
  }

  async stats(): Promise<Stats> {
    return JSON.parse(await this.request('stats')) as Stats;
  }

  private request(text: string): Promise<string> {
    assert.equal(this.honest.readyState, WsClient.OPEN, `the honest client was closed: ${this.child.describe()}`);
    return withTimeout(
      new Promise<string>((resolve) => {
        const onMessage = (data: Buffer, isBinary: boolean): void => {
          // Broadcasts from an attacker are binary: not the answer.
          if (isBinary) return;
          this.honest.off('message', onMessage);
          resolve(data.toString());
        };
        this.honest.on('message', onMessage);
        this.honest.send(text);
      }),
      10_000,
      `an answer to ${text}`,
    );
  }

  /** The process is up, grew by at most 64 MiB, and serves the honest client; returns how the server saw connections close. */
  async assertHealthy(): Promise<Stats> {
    assert.ok(this.child.running, `the server died: ${this.child.describe()}`);
    await this.roundTrip();
    const stats = await this.stats();
    const growth = stats.rss - this.baseline;
    assert.ok(growth <= MAX_GROWTH, `the server grew by ${(growth / MiB).toFixed(1)} MiB (at most 64)`);
    return stats;
  }

  async stop(): Promise<void> {
    this.honest.terminate();
    await this.child.stop('SIGKILL', 1000);
  }
}

/** Opens a raw WebSocket connection to /ws. */
function openRaw(t: Parameters<typeof RawClient.open>[0], port: number): Promise<RawClient> {
  return RawClient.open(t, port, '/ws');
}

/**
 * Writes `next()` as fast as the socket takes it, for at most `ms` or until
 * the server closes the connection. Resolves with the bytes written.
 */
async function flood(socket: net.Socket, next: () => Buffer | null, ms: number): Promise<number> {
  let written = 0;
  const deadline = Date.now() + ms;
  const closed = new Promise((resolve) => socket.once('close', resolve));
  while (!socket.destroyed && socket.writable && Date.now() < deadline) {
    const chunk = next();
    if (chunk === null) break;
    written += chunk.length;
    if (!socket.write(chunk)) {
      let onDrain = (): void => {};
      await Promise.race([new Promise<void>((resolve) => socket.once('drain', (onDrain = resolve))), closed, delay(500)]);
      socket.off('drain', onDrain);
    } else {
      // Let the server's answers and our own socket events be seen.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return written;
}

/** The server closed a connection with this code (and error code), as it reported it. */
function assertClosedWith(stats: Stats, code: number, error: string): void {
  assert.ok(
    stats.closes.some((c) => c.code === code && c.error === error),
    `expected a connection closed with ${code} (${error}), the server saw ${JSON.stringify(stats.closes)}`,
  );
}

describe('attacks on the Node layer', () => {
  let target: Target;
  before(async () => {
    target = await Target.start();
  });
  after(() => target.stop());

  for (const [what, pingsPerWrite] of [
    ['as fast as it can, many pings per packet', 2000],
    ['paced, fewer than 60 pings per packet', 20],
  ] as const) {
    it(`a client that pings ${what} and never reads is cut off (maxPendingAutoPongs, 1008)`, T, async (t) => {
      const attacker = await openRaw(t, target.port);
      attacker.socket.pause();
      const pings = Buffer.concat(Array.from({ length: pingsPerWrite }, () => clientFrame(Opcode.Ping, 'ping payload')));
      const attack = flood(attacker.socket, () => pings, 4000);
      await target.roundTrip();
      await attack;
      await target.assertHealthy();
      await attacker.waitClosed(10_000);
      assertClosedWith(await target.stats(), 1008, 'WS_ERR_TOO_MANY_PENDING_PONGS');
    });
  }

  it('one message of 1,000,000 one-byte fragments is refused at 16,384 (maxFragments, 1008)', T, async (t) => {
    const attacker = await openRaw(t, target.port);
    const perWrite = 10_000;
    const first = Buffer.concat([
      clientFrame(Opcode.Binary, 'x', false),
      ...Array.from({ length: perWrite - 1 }, () => clientFrame(Opcode.Continuation, 'x', false)),
    ]);
    const rest = Buffer.concat(Array.from({ length: perWrite }, () => clientFrame(Opcode.Continuation, 'x', false)));
    let sent = 0;
    const attack = flood(attacker.socket, () => (sent++ === 0 ? first : sent * perWrite <= 1_000_000 ? rest : null), 20_000);
    await target.roundTrip();
    await attack;
    await target.assertHealthy();
    const close = parseClose(await attacker.readFrameOf(Opcode.Close, 10_000));
    assert.equal(close.code, 1008);
    await attacker.waitClosed(10_000);
    assertClosedWith(await target.stats(), 1008, 'WS_ERR_TOO_MANY_BUFFERED_PARTS');
  });

  for (const [what, first] of [
    ['echoed', 0x41],
    ['broadcast to every client', 'B'.charCodeAt(0)],
  ] as const) {
    it(`a client that sends 1 MiB messages, ${what}, and never reads is cut off (disconnectBufferedAmount, 1013)`, T, async (t) => {
      const attacker = await openRaw(t, target.port);
      attacker.socket.pause();
      const payload = Buffer.alloc(MiB, 0x61);
      payload[0] = first;
      const message = clientFrame(Opcode.Binary, payload);
      let sent = 0;
      // 160 MiB at most: without a limit the server would hold all of it.
      const attack = flood(attacker.socket, () => (sent++ < 160 ? message : null), 20_000);
      await target.roundTrip();
      await attack;
      await target.assertHealthy();
      await attacker.waitClosed(10_000);
      assertClosedWith(await target.stats(), 1013, 'WS_ERR_BUFFERED_AMOUNT_EXCEEDED');
    });
  }
});

describe('attacks on the opening handshake', () => {
  for (const mode of ['port', 'server', 'noServer'] as const) {
    describe(`WebSocketServer({ ${mode} })`, () => {
      let target: Target;
      before(async () => {
        target = await Target.start(mode);
      });
      after(() => target.stop());

      it('a TCP reset right after each refusal (wrong path, bad request, oversized head) or 101 leaves the process up', T, async () => {
        const requests = [
          upgradeRequest('/not-here'),
          'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
          upgradeRequest('/ws', { 'X-Pad': 'a'.repeat(20 * 1024) }),
          // Accepted: the reset hits the 101 and the new connection.
          upgradeRequest('/ws'),
        ];
        for (let round = 0; round < 20; round++) {
          await Promise.all(
            requests.map(
              (request) =>
                new Promise<void>((resolve) => {
                  const socket = net.connect({ host: HOST, port: target.port }, () => {
                    socket.write(request);
                    // The refusal is on its way or written: reset the connection under it.
                    setTimeout(() => socket.resetAndDestroy(), round % 3);
                  });
                  socket.on('error', () => {});
                  socket.on('close', () => resolve());
                }),
            ),
          );
        }
        await delay(200);
        await target.assertHealthy();
      });
    });
  }

  describe('request heads (our own upgrade server)', () => {
    let target: Target;
    before(async () => {
      target = await Target.start('port');
    });
    after(() => target.stop());

    /** Sends `request` in one write and returns the status line of the answer. */
    async function statusLineFor(t: Parameters<typeof RawClient.connect>[0], request: string): Promise<string> {
      const raw = await RawClient.connect(t, target.port);
      raw.write(request);
      const head = await raw.readHead();
      await raw.waitClosed();
      return head.statusLine;
    }

    it('heads of 17 to 60 KiB in one write get 431 Request Header Fields Too Large', T, async (t) => {
      for (let kib = 17; kib <= 60; kib += 1) {
        const request = upgradeRequest('/ws', { 'X-Pad': 'a'.repeat(kib * 1024) });
        assert.equal(await statusLineFor(t, request), 'HTTP/1.1 431 Request Header Fields Too Large', `${kib} KiB`);
      }
      await target.assertHealthy();
    });

    it('5,000 connections each sending 16,000 bytes of head and waiting: partial heads are held up to 8 MiB (maxPartialHeadBytes), the rest get 503', T, async (t) => {
      const partialHead = upgradeRequest('/ws', { 'X-Pad': 'a'.repeat(16_000 - 200) }).slice(0, -2);
      const statusLines = new Map<string, number>();
      let retryAfter = false;
      const sockets: net.Socket[] = [];
      t.after(() => sockets.forEach((socket) => socket.destroy()));
      for (let i = 0; i < 5000; i++) {
        const socket = net.connect({ host: HOST, port: target.port }, () => socket.write(partialHead));
        socket.on('error', () => {});
        socket.once('data', (answer: Buffer) => {
          const text = answer.toString('latin1');
          const statusLine = text.slice(0, text.indexOf('\r\n'));
          statusLines.set(statusLine, (statusLines.get(statusLine) ?? 0) + 1);
          if (/\r\nRetry-After: \d+\r\n/i.test(text)) retryAfter = true;
        });
        sockets.push(socket);
        if (i % 500 === 499) await delay(20);
      }
      // All written and read by the server, well within handshakeTimeout (10 s).
      await delay(1500);
      await target.assertHealthy();
      // A client whose head arrives in one read is not affected.
      const fresh = await RawClient.open(t, target.port, '/ws');
      fresh.destroy();
      const refused = statusLines.get('HTTP/1.1 503 Service Unavailable') ?? 0;
      // 8 MiB hold 512 heads of 16 KiB: most of the 5,000 are refused.
      assert.ok(refused >= 4000, `503 answers: ${refused}, all answers: ${JSON.stringify([...statusLines])}`);
      assert.ok(retryAfter, 'the 503 says when to retry');
    });

    it('heads with thousands of header fields get 431', T, async (t) => {
      for (const count of [129, 1000, 2000]) {
        const fields: Record<string, string> = {};
        for (let i = 0; i < count; i++) fields[`x${i.toString(36)}`] = '';
        assert.equal(await statusLineFor(t, upgradeRequest('/ws', fields)), 'HTTP/1.1 431 Request Header Fields Too Large', `${count} fields`);
      }
      await target.assertHealthy();
    });
  });
});

describe('attacks through permessage-deflate', () => {
  let target: Target;
  before(async () => {
    target = await Target.start('port', { perMessageDeflate: true });
  });
  after(() => target.stop());

  it('8 connections each sending at once a 48 KB message that inflates to 48 MiB: the peak stays bounded (maxInflatingBytes), all are echoed', T, async (t) => {
    const attackers = 8;
    const inflated = 48 * MiB;
    // A text message of 48 MiB of 'a', within maxPayload (100 MiB), about 48 KB on the wire.
    const compressed = zlib.deflateRawSync(Buffer.alloc(inflated, 0x61), { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const bomb = clientFrame(Opcode.Text, compressed);
    bomb[0] = bomb[0]! | 0x40; // RSV1: the message is compressed
    const sockets = await Promise.all(
      Array.from({ length: attackers }, () => RawClient.open(t, target.port, '/ws', { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' })),
    );
    const before = await target.stats();
    for (const raw of sockets) raw.write(bomb);
    // Each bomb comes back as the echo (compressed again): every message was inflated whole, none lost.
    for (const raw of sockets) assert.equal((await raw.readFrame(60_000)).opcode, Opcode.Text);
    // Up and serving; RSS after the attack is not asserted: freed 48 MiB buffers stay in the allocator's arenas.
    assert.ok(target.child.running, `the server died: ${target.child.describe()}`);
    await target.roundTrip();
    const stats = await target.stats();
    const peakGrowth = stats.hwm - Math.max(before.hwm, before.rss);
    // Without the budget all 8 inflate at once, each also holding zlib's chunks and their concatenation: 720 MiB measured;
    // with it, 290-330 MiB (64 MiB in flight, the rest messages delivered and zlib chunks awaiting the GC).
    assert.ok(peakGrowth <= 448 * MiB, `the peak RSS grew by ${(peakGrowth / MiB).toFixed(0)} MiB for ${attackers} messages of ${inflated / MiB} MiB`);
    t.diagnostic(`peak RSS growth ${(peakGrowth / MiB).toFixed(0)} MiB`);
  });
});
