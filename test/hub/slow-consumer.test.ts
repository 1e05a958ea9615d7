// The slow-consumer policy with real sockets: one member stops reading (its
// socket is paused, so the kernel buffers fill and then the server's send
// buffer grows) while 1,000 other members keep receiving.
//
// Policy under test (docs/protocol.md, "Slow consumers"): above
// maxBufferedAmount a member's volatile messages are dropped; above
// disconnectBufferedAmount it is closed with 1013. Either way the bytes held
// for it stay bounded and the other members get every message.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import type { HubConnection } from '../../packages/switchboard/src/hub/index.js';
import { RawClient, startHub, until, type TestHub } from './helpers.js';
import { withTimeout } from '../helpers/async.js';

const OTHERS = 1000;
const MAX_BUFFERED = 64 * 1024;
const DISCONNECT_BUFFERED = 256 * 1024;

/** A light member: counts and checks messages without keeping them. */
class Counter {
  volatile = 0;
  lastMid = 0;
  errors: string[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString());
      if (m.t !== 'msg' || m.room !== 'big') return;
      if (m.mid === undefined) this.volatile++;
      else if (m.mid !== this.lastMid + 1) this.errors.push(`got ${m.mid} after ${this.lastMid}`);
      else this.lastMid = m.mid;
    });
  }
}

async function openCounter(url: string): Promise<Counter> {
  const ws = await WebSocket.connect(url, { protocols: ['switchboard.v1'] });
  const welcome = new Promise<void>((resolve) => ws.once('message', () => resolve()));
  ws.send('{"t":"hello"}');
  await welcome;
  const joined = new Promise<void>((resolve) => ws.once('message', () => resolve()));
  ws.send('{"t":"join","id":1,"room":"big"}');
  await joined;
  return new Counter(ws);
}

const yieldToIo = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('hub: slow consumer among 1,000 members', { timeout: 120_000 }, () => {
  let t: TestHub;
  let others: Counter[] = [];
  let slow: RawClient;
  let slowServer: HubConnection;
  const payload = 'x'.repeat(1000);
  const frameSize = 1100;

  before(async () => {
    t = await startHub({ rateLimit: false, maxBufferedAmount: MAX_BUFFERED, disconnectBufferedAmount: DISCONNECT_BUFFERED });
    for (let i = 0; i < OTHERS; i += 100) others.push(...(await Promise.all(Array.from({ length: 100 }, () => openCounter(t.url)))));
    slow = await RawClient.open(t.url);
    await slow.call({ t: 'join', room: 'big' }, 1);
    await slow.call({ t: 'join', room: 'filler' }, 2);
    slowServer = t.hub.clients.get(slow.id)!;
    assert.equal(t.hub.clients.size, OTHERS + 1);
  });
  after(async () => {
    for (const o of others) o.ws.terminate();
    others = [];
    await t.close();
  });

  test('volatile messages are dropped for it, then it is disconnected (1013); the others get everything', async () => {
    const started = Date.now();
    // The slow member stops reading. Fill the kernel's buffers for it through a
    // room only it is in, until the server starts holding bytes.
    slow.ws.pause();
    const ws = slowServer.ws;
    for (let i = 0; ws.bufferedAmount < 8 * 1024; i++) {
      assert.ok(i < 4000, 'the kernel buffers should fill within 64 MB');
      await t.hub.to('filler').emit('fill', 'f'.repeat(16 * 1024));
      // Frames of one turn are written at its end (hub/outbound.ts): bufferedAmount counts them after it.
      await new Promise((r) => setImmediate(r));
      if (i % 8 === 7) await new Promise((r) => setTimeout(r, 2));
    }

    // Phase 1: volatile broadcasts. Its held bytes stop at maxBufferedAmount.
    let maxHeld = 0;
    for (let i = 0; i < 150; i++) {
      await t.hub.to('big').volatile.emit('v', payload);
      maxHeld = Math.max(maxHeld, ws.bufferedAmount);
      if (i % 10 === 9) await yieldToIo();
    }
    assert.ok(slowServer.droppedVolatile > 0, 'volatile messages were dropped for the slow member');
    assert.ok(maxHeld <= MAX_BUFFERED + frameSize, `held ${maxHeld} bytes, limit ${MAX_BUFFERED}`);
    assert.equal(ws.readyState, WebSocket.OPEN, 'dropping volatile messages does not disconnect');
    await withTimeout(until(() => others.every((o) => o.volatile === 150), 30_000), 31_000, 'the others get every volatile message');

    // Phase 2: durable broadcasts. It is closed with 1013 once past disconnectBufferedAmount.
    const closeCodes: number[] = [];
    const origClose = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) => {
      if (code !== undefined) closeCodes.push(code);
      origClose(code, reason);
    };
    const gone = new Promise<void>((resolve) => t.hub.on('disconnect', (c) => c === slowServer && resolve()));
    let slowEvent = false;
    t.hub.once('slowConsumer', (c) => (slowEvent = c === slowServer));
    for (let i = 0; i < 400; i++) {
      await t.hub.to('big').emit('d', payload);
      maxHeld = Math.max(maxHeld, ws.bufferedAmount);
      if (i % 10 === 9) await yieldToIo();
    }
    assert.ok(slowEvent, "'slowConsumer' was emitted");
    assert.deepEqual(closeCodes, [1013]);
    assert.ok(maxHeld <= DISCONNECT_BUFFERED + frameSize, `held ${maxHeld} bytes, limit ${DISCONNECT_BUFFERED}`);
    await withTimeout(gone, 5000, 'the slow member to be gone (close frame, then destroyed after 1 s)');
    await withTimeout(until(() => others.every((o) => o.lastMid === 400), 30_000), 31_000, 'the others get every durable message');
    for (const o of others) assert.deepEqual(o.errors, [], 'in order, exactly once');
    assert.deepEqual((await t.hub.presence('big')).length, OTHERS, 'presence no longer lists it');
    const took = Date.now() - started;
    assert.ok(took < 60_000, `bounded in time: ${took} ms`);
  });
});

describe("hub: the library's write-buffer cut stays behind the hub's slow-consumer policy", { timeout: 60_000 }, () => {
  test("a member with more than the library default (16 MiB) waiting is still open while under the hub's own limit", async () => {
    const t = await startHub({ rateLimit: false, disconnectBufferedAmount: 24 * 1024 * 1024 });
    try {
      const slow = await RawClient.open(t.url);
      await slow.call({ t: 'join', room: 'filler' }, 1);
      const ws = t.hub.clients.get(slow.id)!.ws;
      slow.ws.pause();
      const chunk = 'f'.repeat(1024 * 1024);
      for (let i = 0; ws.bufferedAmount < 17 * 1024 * 1024; i++) {
        assert.ok(i < 64, `bufferedAmount only ${ws.bufferedAmount} after 64 MiB sent`);
        assert.equal(ws.readyState, WebSocket.OPEN, `closed with ${ws.bufferedAmount} bytes waiting, under the hub's 24 MiB`);
        await t.hub.to('filler').emit('fill', chunk);
        await yieldToIo();
      }
      await t.hub.to('filler').emit('fill', chunk);
      await yieldToIo();
      assert.equal(ws.readyState, WebSocket.OPEN, `closed with ${ws.bufferedAmount} bytes waiting, under the hub's 24 MiB`);
      slow.ws.terminate();
    } finally {
      await t.close();
    }
  });
});
