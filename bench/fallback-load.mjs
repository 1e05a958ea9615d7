// The load generator of bench/fallback.mjs: one process per kind of client,
// holding all of its clients. Raw protocol clients, not the client libraries
// (1,000 HubClient or socket.io-client instances would make the generator the
// bottleneck): switchboard.v1 over WebSocket frames on node:net ('ws'), over
// the hub's Server-Sent Events downlink ('sse') or its long polls ('poll'),
// and Engine.IO v4 long-polling for socket.io ('sio'). A delivery is found by
// searching the text for `"t0":` and `"s":` (no JSON.parse), the same for all.
//
//   node bench/fallback-load.mjs '<json: {kind, port, clients, room}>'   (spawned)
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Deliveries, clientFrame, nowUs } from './lib/deliveries.mjs';

const cfg = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const base = `http://127.0.0.1:${cfg.port}`;

// ---- measurement --------------------------------------------------------------------------
const measured = new Deliveries(cfg.clients, (seq) => process.send({ type: 'done', seq }));
let errors = 0;

/** Every delivery in `text` (one message, or several laid end to end). */
function deliveriesIn(text, now) {
  let at = 0;
  for (;;) {
    const t = text.indexOf('"t0":', at);
    if (t === -1) return;
    const s = text.lastIndexOf('"s":', t);
    measured.delivered(parseInt(text.slice(s + 4, s + 16), 10), parseInt(text.slice(t + 5, t + 25), 10), now);
    at = t + 5;
  }
}

// ---- HTTP -----------------------------------------------------------------------------------
function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, agent, headers: body === undefined ? {} : { 'content-type': 'text/plain' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => (res.statusCode >= 400 ? reject(new Error(`${method} ${path}: HTTP ${res.statusCode} ${text}`)) : resolve(text)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A hub fallback client: a session, hello + join over POST, then the downlink. */
async function hubHttpClient(onReady) {
  const { session } = JSON.parse(await request('POST', '/hub/open'));
  let last = 0;
  let ready = false;
  // Complete SSE-format events (`id: N\ndata: {...}`): the join's ack makes the client ready, the rest are deliveries.
  const events = (text, now) => {
    for (const block of text.split('\n\n')) {
      const idAt = block.indexOf('id: ');
      if (idAt !== -1) last = Math.max(last, parseInt(block.slice(idAt + 4, idAt + 24), 10));
      if (!ready && block.includes('"t":"ack","id":1')) {
        ready = true;
        onReady();
      } else if (ready) deliveriesIn(block, now);
    }
  };
  const joined = request('POST', `/hub/send?session=${session}`, `{"t":"hello"}\n{"t":"join","id":1,"room":"${cfg.room}"}`);
  if (cfg.kind === 'sse') {
    const req = http.get(`${base}/hub/sse?session=${session}&last=0`, { agent }, (res) => {
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk) => {
        buffer += chunk;
        const end = buffer.lastIndexOf('\n\n');
        if (end === -1) return;
        const complete = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        events(complete, nowUs());
      });
      res.on('end', () => errors++);
    });
    req.on('error', () => errors++);
  } else {
    const poll = () =>
      request('GET', `/hub/poll?session=${session}&last=${last}`).then(
        (text) => {
          events(text, nowUs());
          poll();
        },
        () => errors++,
      );
    poll();
  }
  await joined;
}

/** A socket.io client on Engine.IO v4 long-polling: handshake, namespace connect, then polls. */
async function sioPollingClient(onReady) {
  const path = '/socket.io/?EIO=4&transport=polling';
  const open = await request('GET', path);
  const sid = JSON.parse(open.slice(1)).sid;
  await request('POST', `${path}&sid=${sid}`, '40');
  let ready = false;
  const poll = () =>
    request('GET', `${path}&sid=${sid}`).then(
      (text) => {
        const now = nowUs();
        // Packets separated by the record separator (0x1e): 40 (connected), 42[...] (events), 2 (ping).
        for (const packet of text.split('\x1e')) {
          if (packet.startsWith('42')) ready && deliveriesIn(packet, now);
          else if (packet.startsWith('40') && !ready) {
            ready = true;
            onReady();
          } else if (packet === '2') request('POST', `${path}&sid=${sid}`, '3').catch(() => errors++);
        }
        poll();
      },
      () => errors++,
    );
  poll();
}

// ---- WebSocket (switchboard.v1 over raw frames, as in bench/redis-fanout-load.mjs) ----------

function wsClient(onReady) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(cfg.port, '127.0.0.1');
    socket.setNoDelay(true);
    let upgraded = false;
    let ready = false;
    let rest = Buffer.alloc(0);
    socket.on('error', (error) => (ready ? errors++ : reject(error)));
    socket.on('connect', () =>
      socket.write(
        `GET /hub HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: switchboard.v1\r\n\r\n',
      ),
    );
    socket.on('data', (chunk) => {
      let data = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      if (!upgraded) {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return void (rest = data);
        upgraded = true;
        socket.write(Buffer.concat([clientFrame('{"t":"hello"}'), clientFrame(`{"t":"join","id":1,"room":"${cfg.room}"}`)]));
        data = data.subarray(end + 4);
      }
      const now = nowUs();
      let at = 0;
      while (data.length - at >= 2) {
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
        const text = data.toString('latin1', at + head, at + head + len);
        if (!ready && text.startsWith('{"t":"ack","id":1,')) {
          ready = true;
          onReady();
          resolve();
        } else if (ready) deliveriesIn(text, now);
        at += head + len;
      }
      rest = at < data.length ? Buffer.from(data.subarray(at)) : Buffer.alloc(0);
    });
  });
}

// ---- control ----------------------------------------------------------------------------------

process.on('message', (m) => {
  if (m.type === 'reset') {
    measured.reset();
    process.send({ type: 'reset' });
  } else if (m.type === 'stats') {
    const { deliveries, spanUs, p50, p99 } = measured.stats();
    process.send({ type: 'stats', deliveries, errors, spanUs, p50, p99 });
  } else if (m.type === 'close') process.exit(0);
});

let ready = 0;
const started = performance.now();
const open = cfg.kind === 'ws' ? wsClient : cfg.kind === 'sio' ? sioPollingClient : hubHttpClient;
for (let i = 0; i < cfg.clients; i += 100) {
  const batch = [];
  for (let j = i; j < Math.min(cfg.clients, i + 100); j++) batch.push(new Promise((resolve, reject) => open(resolve).catch(reject)));
  await Promise.all(batch);
  ready += batch.length;
}
process.send({ type: 'ready', ready, ms: performance.now() - started });
