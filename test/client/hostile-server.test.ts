// switchboard/client against a hostile hub: a raw switchboard.v1 server on
// 127.0.0.1 (Switchboard's own WebSocketServer) that repeats `welcome`,
// announces a heartbeat of 0 ms, and puts the client in rooms and presence
// lists without end. The client must keep one heartbeat, ping at a bounded
// rate, send its joins once per connection, and keep bounded state.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from '../../packages/switchboard/src/index.js';
import { HubError, type HubClient } from '../../packages/switchboard/src/client/index.js';
import { onceEvent } from '../helpers/async.js';
import { HOST } from '../helpers/net.js';
import { delay, hubClient, until } from '../hub/helpers.js';

type Script = (ws: WebSocket, message: any) => void;

describe('switchboard/client against a hostile server', { timeout: 30_000 }, () => {
  let wss: WebSocketServer;
  let url = '';
  /** What the server does with each message from the client (set per test). */
  let script: Script = () => {};
  const clients: HubClient[] = [];

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: HOST, handleProtocols: (protocols: Set<string>) => (protocols.has('switchboard.v1') ? 'switchboard.v1' : false) });
    await onceEvent(wss, 'listening');
    url = `ws://${HOST}:${(wss.address() as AddressInfo).port}/hub`;
    wss.on('connection', (ws: WebSocket) => {
      ws.on('error', () => {});
      ws.on('message', (data: Buffer) => script(ws, JSON.parse(data.toString())));
    });
  });

  after(async () => {
    for (const client of clients) client.close();
    for (const ws of wss.clients) ws.terminate();
    await new Promise((r) => wss.close(r));
  });

  test('200 welcomes announcing a 0 ms heartbeat: one heartbeat, pings at most every 100 ms, joins sent once', async () => {
    let pings = 0;
    let joins = 0;
    script = (ws, m) => {
      if (m.t === 'hello') {
        const welcome = JSON.stringify({ t: 'welcome', id: 'c1', user: null, hb: { interval: 0, timeout: 60_000 } });
        for (let i = 0; i < 200; i++) ws.send(welcome);
      } else if (m.t === 'ping') {
        pings++;
        ws.send(JSON.stringify({ t: 'pong' })); // answered at once: without a floor, the next ping follows at once
      } else if (m.t === 'join') joins++; // never answered: the join stays pending, as if slow
    };
    const client = hubClient(url, { reconnect: false });
    clients.push(client);
    const connects: unknown[] = [];
    client.on('connect', (info) => connects.push(info));
    void client.join('lobby').catch(() => {});
    await client.ready();
    await delay(200);
    const start = pings;
    await delay(1000);
    const perSecond = pings - start;
    // 100 ms between pings: about 10 a second. Without the floor and with stacked heartbeats: thousands.
    assert.ok(perSecond <= 15, `pings in one second: ${perSecond}`);
    assert.ok(perSecond >= 3, `the heartbeat still runs: ${perSecond}`);
    assert.equal(joins, 1, 'the pending join was sent once, not once per welcome');
    assert.equal(connects.length, 1, 'one connect event');
    client.close();
  });

  test('a heartbeat value past what setTimeout takes (2^31 ms) or not a number does not ping in a loop', async () => {
    let pings = 0;
    script = (ws, m) => {
      if (m.t === 'hello') ws.send(JSON.stringify({ t: 'welcome', id: 'c2', user: null, hb: { interval: 2 ** 40, timeout: 'soon' } }));
      else if (m.t === 'ping') {
        pings++;
        ws.send(JSON.stringify({ t: 'pong' }));
      }
    };
    const client = hubClient(url, { reconnect: false });
    clients.push(client);
    await client.ready();
    await delay(300);
    assert.equal(pings, 0, 'a 2^40 ms interval is about 24 days, not 1 ms');
    client.close();
  });

  test('joined and presence without end: the client keeps maxRooms rooms and maxMembersPerRoom members; malformed messages lose only themselves', async () => {
    script = (ws, m) => {
      if (m.t === 'hello') {
        ws.send(JSON.stringify({ t: 'welcome', id: 'c3', user: null, hb: { interval: 60_000, timeout: 10_000 } }));
      } else if (m.t === 'join') {
        ws.send(JSON.stringify({ t: 'ack', id: m.id, data: { room: m.room, head: 0, members: [] } }));
        ws.send(JSON.stringify({ t: 'joined', room: 'broken', head: 0, members: 5 })); // not a list: a TypeError inside the client
        ws.send(JSON.stringify({ t: 'presence', room: 'lobby', leave: null, join: null }));
        for (let i = 0; i < 2000; i++) ws.send(JSON.stringify({ t: 'joined', room: `pushed-${i}`, head: 0, members: [{ id: `m${i}`, user: null }] }));
        for (let i = 0; i < 5000; i++) ws.send(JSON.stringify({ t: 'presence', room: 'lobby', join: { id: `p${i}`, user: null } }));
        for (let i = 0; i < 1000; i++) ws.send(JSON.stringify({ t: 'presence', room: `never-joined-${i}`, join: { id: `q${i}`, user: null } }));
        ws.send(JSON.stringify({ t: 'emit', ev: 'done', data: null }));
      }
    };
    const client = hubClient(url, { reconnect: false, maxRooms: 50, maxMembersPerRoom: 100 });
    clients.push(client);
    const errors: HubError[] = [];
    client.on('error', (e) => errors.push(e));
    let done = false;
    client.on('done', () => void (done = true));
    await client.ready();
    await client.join('lobby');
    await until(() => done, 10_000, 'the flood to arrive');
    const kept = Array.from({ length: 2000 }, (_, i) => client.lastSeen(`pushed-${i}`)).filter((last) => last !== null).length;
    assert.ok(kept <= 49, `rooms the server pushed and the client kept: ${kept}`);
    assert.equal(client.members('lobby').length, 100, 'members of a joined room: at most maxMembersPerRoom');
    assert.equal(client.members('never-joined-1').length, 0, 'no presence kept for rooms not joined');
    assert.ok(errors.some((e) => e.code === 'too_many_rooms'));
    assert.ok(errors.some((e) => e.code === 'bad_message'), 'the malformed joined is reported');
    await assert.rejects(client.join('one-more'), (e: HubError) => e.code === 'too_many_rooms');
    assert.equal(client.status, 'open', 'still connected');
    client.close();
  });
});
