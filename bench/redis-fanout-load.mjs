// The load generator of bench/redis-fanout.mjs: one process per stack holding all of that
// stack's clients, spread round-robin over the nodes' ports.
//
//   node bench/redis-fanout-load.mjs '<json: {stack, ports, clients, srcIps}>'   (spawned)
//
// The clients are raw WebSocket over node:net, the same code for both stacks; only the
// application protocol differs (engine.io/socket.io v4 packets, or switchboard.v1 JSON).
// Neither client library is used: 10,000 socket.io-client or HubClient instances in one
// process on a 2-core machine would make the generator, not the servers, the bottleneck
// (see docs/performance.md). Every socket reads into one shared buffer (net `onread`);
// a delivery is found by searching the frame for `"t0":` and parsing two integers, with
// no JSON.parse, so both stacks' deliveries cost the generator the same.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Deliveries, clientFrame, nowUs } from './lib/deliveries.mjs';

const cfg = JSON.parse(process.argv[2]);
const SIO = cfg.stack === 'sio';

const T0 = Buffer.from('"t0":');
const SEQ = Buffer.from('"s":');
function readInt(buf, at) {
  let v = 0;
  for (let c = buf[at]; c >= 48 && c <= 57; c = buf[++at]) v = v * 10 + (c - 48);
  return v;
}

// ---- measurement state ------------------------------------------------------------------
// Complete once every client has it (`expected` is set by the first reset: none before).
const measured = new Deliveries(0, (seq, now) => process.send({ type: 'done', seq, at: now }));

function onDelivery(buf, start, end, now) {
  const t = buf.indexOf(T0, start);
  const s = buf.indexOf(SEQ, start);
  if (t < 0 || t >= end || s < 0 || s >= end) return;
  const t0 = readInt(buf, t + 5);
  const seq = readInt(buf, s + 4);
  measured.delivered(seq, t0, now);
}

// ---- clients ------------------------------------------------------------------------------
const clients = [];
let ready = 0;
const pendingOps = { count: 0, resolve: null };
const closes = {};

function protocolStep(c, text) {
  // text: the frame's payload as latin1 (only handshake-phase and reply frames get here)
  if (SIO) {
    if (text.startsWith('0{')) c.socket.write(clientFrame('40'));
    else if (text.startsWith('40')) c.socket.write(clientFrame(`420["join","all"]`));
    else if (text === '430[]' || text.startsWith('430')) markReady(c);
    else if (text === '2') c.socket.write(clientFrame('3'));
    else if (c.op && text.startsWith(`43${c.op.id}`)) opDone(c);
  } else {
    if (text.startsWith('{"t":"ack","id":1,') && !c.ready) markReady(c);
    else if (c.op && text.startsWith(c.op.reply)) opDone(c);
    else if (text.startsWith('{"t":"error"')) console.error(`sb client error: ${text.slice(0, 200)}`);
  }
}

function markReady(c) {
  if (c.ready) return;
  c.ready = true;
  ready++;
  c.onReady?.();
}

function opDone(c) {
  c.op = null;
  if (--pendingOps.count === 0) pendingOps.resolve?.();
}

function onData(c, buf, len) {
  let data = buf.subarray(0, len);
  if (c.rest) {
    data = Buffer.concat([c.rest, data]);
    c.rest = null;
  }
  if (!c.upgraded) {
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) return void (c.rest = Buffer.from(data));
    const head = data.toString('latin1', 0, end);
    if (!head.startsWith('HTTP/1.1 101')) throw new Error(`${cfg.stack}: handshake refused: ${head.split('\r\n')[0]}`);
    c.upgraded = true;
    if (!SIO) c.socket.write(Buffer.concat([clientFrame('{"t":"hello"}'), clientFrame('{"t":"join","id":1,"room":"all"}')]));
    data = data.subarray(end + 4);
  }
  const now = nowUs();
  let at = 0;
  while (data.length - at >= 2) {
    const b0 = data[at];
    let len = data[at + 1] & 0x7f;
    let head = 2;
    if (len === 126) {
      if (data.length - at < 4) break;
      len = data.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (data.length - at < 10) break;
      len = Number(data.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (data.length - at < head + len) break;
    const start = at + head;
    const end = start + len;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x80) === 0) throw new Error('fragmented frame: not expected from either stack');
    if (opcode === 1) {
      // A delivery: socket.io `42["tick",{"s":..`, switchboard `{"t":"msg","room":"all","ev":"tick",...`
      const delivery = SIO ? data[start] === 0x34 && data[start + 1] === 0x32 && data[start + 4] === 0x74 && data[start + 5] === 0x69 : data[start + 6] === 0x6d && data[start + 7] === 0x73 && data[start + 8] === 0x67 && data.indexOf(T0, start) < end;
      if (delivery && c.ready) onDelivery(data, start, end, now);
      else protocolStep(c, data.toString('latin1', start, end));
    } else if (opcode === 9) {
      c.socket.write(clientFrame(data.toString('latin1', start, end), 10));
    }
    at = end;
  }
  if (at < data.length) c.rest = Buffer.from(data.subarray(at));
}

// --client lib: each stack's own client library instead (socket.io-client with the
// websocket transport only; switchboard/client's HubClient on switchboard's Node WebSocket).
let libs = null;
async function openWithLibrary(i) {
  libs ??= SIO ? { io: (await import('socket.io-client')).io } : { HubClient: (await import('switchboard/client')).HubClient, WebSocket: (await import('switchboard')).WebSocket };
  const port = cfg.ports[i % cfg.ports.length];
  const c = { i, ready: false, lib: null };
  clients.push(c);
  const onTick = (data) => c.ready && measured.delivered(data.s, data.t0, nowUs());
  if (SIO) {
    const socket = libs.io(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    c.lib = socket;
    socket.on('tick', onTick);
    await new Promise((resolve, reject) => {
      socket.once('connect_error', reject);
      socket.once('connect', () => socket.emit('join', 'all', resolve));
    });
  } else {
    const client = new libs.HubClient(`ws://127.0.0.1:${port}/hub`, { WebSocket: libs.WebSocket });
    c.lib = client;
    client.on('tick', onTick);
    await client.join('all');
  }
  markReady(c);
}

function libraryRoomOp(c, kind, room) {
  if (SIO) c.lib.emit(kind, room, () => opDone(c));
  else (kind === 'join' ? c.lib.join(room) : c.lib.leave(room)).then(() => opDone(c), (error) => console.error(`sb ${kind}: ${error.message}`));
}

const shared = Buffer.allocUnsafe(256 * 1024);
function open(i) {
  if (cfg.client === 'lib') return openWithLibrary(i);
  return new Promise((resolve, reject) => {
    const port = cfg.ports[i % cfg.ports.length];
    const c = { i, socket: null, upgraded: false, ready: false, rest: null, op: null, onReady: resolve };
    const options = {
      host: '127.0.0.1',
      port,
      onread: { buffer: shared, callback: (len, buf) => void onData(c, buf, len) },
    };
    // Several source addresses, as /work/shared/perf does, so ephemeral ports never run short.
    if (cfg.srcIps > 0) options.localAddress = `127.0.0.${2 + (i % cfg.srcIps)}`;
    const socket = net.connect(options);
    c.socket = socket;
    socket.setNoDelay(true);
    socket.on('error', (error) => (c.ready ? (closes[error.code] = (closes[error.code] ?? 0) + 1) : reject(error)));
    socket.on('close', () => {
      if (c.ready) closes.close = (closes.close ?? 0) + 1;
    });
    socket.on('connect', () => {
      const path = SIO ? '/socket.io/?EIO=4&transport=websocket' : '/hub';
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
          (SIO ? '' : 'Sec-WebSocket-Protocol: switchboard.v1\r\n') +
          '\r\n',
      );
    });
    clients.push(c);
  });
}

// Join or leave a room on `count` clients at once; resolves when every reply came.
let opId = 1;
function roomOp(kind, room, count) {
  return new Promise((resolve) => {
    pendingOps.count = count;
    pendingOps.resolve = resolve;
    for (let i = 0; i < count; i++) {
      const c = clients[i];
      const id = ++opId;
      if (cfg.client === 'lib') {
        c.op = { id };
        libraryRoomOp(c, kind, room);
      } else if (SIO) {
        c.op = { id };
        c.socket.write(clientFrame(`42${id}["${kind}","${room}"]`));
      } else {
        c.op = { reply: `{"t":"ack","id":${id},` };
        c.socket.write(clientFrame(`{"t":"${kind}","id":${id},"room":"${room}"}`));
      }
    }
  });
}


process.on('message', async (m) => {
  if (m.type === 'reset') {
    measured.expected = cfg.clients;
    measured.reset();
    process.send({ type: 'reset' });
  } else if (m.type === 'stats') {
    process.send({ type: 'stats', ...measured.stats() });
  } else if (m.type === 'room') {
    const t = performance.now();
    await roomOp(m.kind, m.room, m.count);
    process.send({ type: 'room', ms: performance.now() - t });
  } else if (m.type === 'state') {
    process.send({ type: 'state', ready, deliveries: measured.count, closes, open: clients.filter((c) => c.socket && !c.socket.destroyed).length });
  } else if (m.type === 'close') {
    for (const c of clients) (c.socket ? c.socket.destroy() : c.lib.close());
    process.exit(0);
  }
});

const t = performance.now();
for (let i = 0; i < cfg.clients; i += cfg.batch ?? 500) {
  const batch = [];
  for (let j = i; j < Math.min(cfg.clients, i + (cfg.batch ?? 500)); j++) batch.push(open(j));
  await Promise.all(batch);
}
process.send({ type: 'ready', ready, ms: performance.now() - t });
