// The live panel's bookkeeping (playground/src/live-stats.ts), without a
// browser: the rings keep HISTORY_SECONDS samples, pending pings and close
// codes are bounded, a pong is matched to its ping by payload, server rates
// come from the differences between snapshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HISTORY_SECONDS, LiveStats, MAX_CLOSE_CODES, MAX_PENDING_PINGS, Ring } from '../../packages/cli/playground/src/live-stats.js';

test('a ring keeps its last `capacity` values, oldest first, NaN as null', () => {
  const ring = new Ring(3);
  assert.deepEqual(ring.toArray(), []);
  for (const v of [1, NaN, 3, 4]) ring.push(v);
  assert.deepEqual(ring.toArray(), [null, 3, 4]);
  ring.clear();
  assert.equal(ring.length, 0);
});

test('one sample a second of messages and bytes, HISTORY_SECONDS of them at most', () => {
  const live = new LiveStats();
  live.received(10);
  live.received(20);
  live.sent(5);
  live.tick(1000);
  live.tick(2000);
  assert.deepEqual(live.own.messagesIn.toArray(), [2, 0]);
  assert.deepEqual(live.own.bytesIn.toArray(), [30, 0]);
  assert.deepEqual(live.own.bytesOut.toArray(), [5, 0]);
  assert.deepEqual(live.own.time.toArray(), [1, 2]);
  for (let i = 0; i < HISTORY_SECONDS * 2; i++) live.tick(3000 + i * 1000);
  assert.equal(live.own.messagesIn.length, HISTORY_SECONDS);
});

test('a pong is matched to the oldest ping with its payload; pending pings are bounded', () => {
  const live = new LiveStats();
  const hex = live.nextPingPayload();
  assert.notEqual(live.nextPingPayload(), hex);
  live.pingSent(hex, 100, true);
  live.pingSent('', 110, false);
  assert.equal(live.pong('ffff', 120), null);
  assert.deepEqual(live.pong('', 130), { auto: false });
  assert.equal(live.lastRtt, 20);
  assert.deepEqual(live.pong(hex, 150), { auto: true });
  assert.equal(live.lastRtt, 50);
  live.tick(1000);
  assert.deepEqual(live.own.rtt.toArray(), [50]);
  for (let i = 0; i <= MAX_PENDING_PINGS; i++) live.pingSent(`0${i.toString(16)}`, i, true);
  assert.equal(live.pong('00', 1000), null, 'the oldest was forgotten');
  assert.notEqual(live.pong('01', 1000), null);
});

test('close codes: counted, MAX_CLOSE_CODES distinct at most, the rest as 0', () => {
  const live = new LiveStats();
  live.closed(1000);
  live.closed(1000);
  for (let code = 4000; code < 4000 + MAX_CLOSE_CODES + 5; code++) live.closed(code);
  assert.equal(live.closeCodes.size, MAX_CLOSE_CODES + 1);
  assert.equal(live.closeCodes.get(1000), 2);
  assert.equal(live.closeCodes.get(0), 6);
});

test('server rates from the difference between two snapshots over the time between them', () => {
  const live = new LiveStats();
  const snapshot = { time: 10_000, connections: 2, handshakesAccepted: 2, handshakesRefused: 0, messagesReceived: 100, messagesSent: 50, bytesReceived: 1000, bytesSent: 500, bufferedBytes: 0 };
  live.serverSnapshot(snapshot);
  live.serverSnapshot({ ...snapshot, time: 12_000, connections: 3, messagesReceived: 120, bytesReceived: 1400 });
  assert.deepEqual(live.server.connections.toArray(), [2, 3]);
  assert.deepEqual(live.server.messagesIn.toArray(), [null, 10]);
  assert.deepEqual(live.server.bytesIn.toArray(), [null, 200]);
  assert.deepEqual(live.server.messagesOut.toArray(), [null, 0]);
  live.resetServer();
  assert.equal(live.server.time.length, 0);
});
