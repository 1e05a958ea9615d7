// Load generator: one Node process (bench/run.mjs pins it to core 1) that speaks raw
// WebSocket over node:net to a server under test on 127.0.0.1 and prints one JSON line.
//
//   node bench/loadgen.mjs '<json config>'     (see DEFAULTS below; run.mjs builds it)
//
// Cheap by construction, so that it costs less CPU than the server it measures:
// - frames are built and masked once up front and written from one shared buffer; when a
//   read completes several replies, the frames due on that connection go out in one write;
// - every socket reads into one shared buffer (net `onread`), so reading allocates nothing;
// - replies are counted by parsing frame headers only; payload bytes are checked against
//   what was sent during warm-up only (compressed replies are inflated and checked).
// Modes: echo (N connections x K in flight), broadcast (N on /broadcast, connection 0
// publishes, the next publish once all N have it), conns (open N idle connections).
// It measures its own CPU (process.cpuUsage) and the server's (/proc, by pid) exactly at
// the window edges. Only loopback addresses; a hard deadline ends every run.
import net from 'node:net';
import zlib from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { procTree, coreTimes, coreBusy } from './proc.mjs';
import { binaryPayload, textPayload, compressMessage, frameSet, rng, TRAILER } from './frames.mjs';

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  serverPid: 0,
  mode: 'echo', // echo | broadcast | conns
  conns: 1,
  inflight: 1,
  size: 16,
  text: false,
  deflate: false, // offer permessage-deflate, send 16 different pre-compressed texts
  latency: false, // record round-trip times (1 in flight per connection)
  path: '/',
  warmup: 1, // s
  duration: 5, // s
  settle: 2, // s (conns mode: idle time before the RSS reading)
  concurrency: 200, // handshakes in progress at a time
  srcIps: 0, // spread connections over 127.0.0.2 .. 127.0.0.(1+srcIps)
  deadline: 0, // s; 0: derived
};
const cfg = { ...DEFAULTS, ...JSON.parse(process.argv[2] || '{}') };
function usageError(error) {
  process.stdout.write(JSON.stringify({ error }) + '\n');
  process.exit(2);
}
if (!/^127\.\d+\.\d+\.\d+$/.test(cfg.host)) usageError(`refusing non-loopback host ${cfg.host}`);
if (!cfg.port) usageError('port is required');

const ECHO = 0;
const BCAST = 1;
const CONNS = 2;
const mode = { echo: ECHO, broadcast: BCAST, conns: CONNS }[cfg.mode];
if (mode === undefined) usageError(`unknown mode ${cfg.mode}`);
const N = cfg.conns;
const TEXT = cfg.text || cfg.deflate || mode === BCAST;
const OPCODE = TEXT ? 1 : 2;
const DISTINCT = cfg.deflate ? 16 : 1;
const VERIFY_DEFLATE_MAX = 8; // compressed replies checked per connection

// ------------------------------------------------------------------ payloads
const next = rng();
const payloads = [];
for (let i = 0; i < DISTINCT; i++) payloads.push(TEXT ? textPayload(cfg.size, next) : binaryPayload(cfg.size, next));
let frames = null; // built once the handshake settled the deflate parameters
let deflateBits = -1; // client_max_window_bits the server asked for; -1: not negotiated

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const request = Buffer.from(
  `GET ${cfg.path} HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
    (cfg.deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n' : '') +
    '\r\n',
  'latin1',
);

// ------------------------------------------------------------------ state
const CONNECT = 0;
const WARMUP = 1;
const MEASURE = 2;
const SETTLE = 3;
const DONE = 4;
let phase = CONNECT;
let sending = false;
const rbuf = Buffer.allocUnsafe(256 * 1024);
const conns = [];
let started = 0;
let opened = 0;
let totalMsgs = 0;
let totalBytes = 0;
let verifiedMsgs = 0;
let pings = 0;
const t0 = performance.now();
let tOpen = 0;

class Samples {
  constructor() {
    this.a = new Float64Array(1 << 16);
    this.n = 0;
  }
  add(x) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  summary(digits = 1) {
    const s = this.a.subarray(0, this.n).sort();
    const q = (p) => (this.n ? +s[Math.min(this.n - 1, Math.floor(p * this.n))].toFixed(digits) : null);
    let sum = 0;
    for (let i = 0; i < this.n; i++) sum += s[i];
    return { n: this.n, mean: this.n ? +(sum / this.n).toFixed(digits) : null, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: q(1) };
  }
}
const latency = new Samples(); // µs
const fanout = new Samples(); // ms

class Conn {
  constructor(id) {
    this.id = id;
    this.sock = null;
    this.open = false;
    this.head = null; // start of a handshake response split across reads
    this.hh = 0; // header bytes collected on the slow path
    this.hdr = null;
    this.left = 0; // payload bytes left in the current frame
    this.fin = false;
    this.ctrl = false;
    this.fop = 0;
    this.op = 0; // opcode of the current message
    this.rsv1 = false;
    this.msgLen = 0;
    this.verifying = false;
    this.vpos = 0;
    this.vparts = null; // compressed payload chunks of the current message
    this.zparts = null; // compressed messages so far (verified as one stream)
    this.zwant = null; // their expected payloads
    this.zdone = false; // enough compressed replies checked on this connection
    this.recv = 0;
    this.q = 0; // next frame to send (index into the frame set)
    this.due = 0; // frames owed after this read
    this.sentAt = 0;
  }
}

// ------------------------------------------------------------------ output
function snapshot() {
  const u = process.cpuUsage();
  const s = cfg.serverPid ? procTree(cfg.serverPid) : { cpuS: NaN, sysS: NaN, rssKb: NaN };
  return { t: performance.now() / 1000, msgs: totalMsgs, bytes: totalBytes, gen: (u.user + u.system) / 1e6, genSys: u.system / 1e6, srv: s.cpuS, srvSys: s.sysS, rss: s.rssKb, cores: coreTimes(2) };
}

let finished = false;
function finish(result) {
  if (finished) return;
  finished = true;
  phase = DONE;
  sending = false;
  const base = { mode: cfg.mode, conns: N, inflight: cfg.inflight, size: cfg.size, opcode: TEXT ? 'text' : 'binary', deflate: cfg.deflate, opened, verified_msgs: verifiedMsgs, pings };
  if (cfg.deflate) Object.assign(base, { deflate_negotiated: deflateBits > 0, client_max_window_bits: deflateBits, distinct_messages: DISTINCT, wire_size_avg: frames ? Math.round(frames.off[frames.m] / frames.m) : null });
  process.stdout.write(JSON.stringify({ ...base, ...result }) + '\n', () => process.exit(result.error ? 3 : 0));
  setTimeout(() => process.exit(result.error ? 3 : 0), 2000).unref();
}

function fail(error) {
  finish({ error: String(error) });
}

// ------------------------------------------------------------------ sending
function flushDue(c) {
  let n = c.due;
  c.due = 0;
  const { buf, off, m } = frames;
  while (n > 0) {
    const k = n < m ? n : m;
    c.sock.write(buf.subarray(off[c.q], off[c.q + k]));
    c.q += k;
    if (c.q >= m) c.q -= m;
    n -= k;
  }
}

let pubAt = 0;
let bcGot = 0; // deliveries of the current broadcast
function publish(now) {
  pubAt = now;
  const c = conns[0];
  c.due++;
  flushDue(c);
}

// ------------------------------------------------------------------ receiving
function messageDone(c, now) {
  if (c.op !== OPCODE) return fail(`connection ${c.id}: reply opcode ${c.op}, expected ${OPCODE}`);
  if (c.verifying) verifyMessage(c);
  else if (!cfg.deflate && c.msgLen !== cfg.size) return fail(`connection ${c.id}: reply of ${c.msgLen} bytes, expected ${cfg.size}`);
  c.recv++;
  totalMsgs++;
  totalBytes += cfg.size;
  if (mode === ECHO) {
    if (cfg.latency && phase === MEASURE) latency.add((now - c.sentAt) * 1000);
    if (sending) {
      c.due++;
      if (cfg.latency) c.sentAt = now;
    }
  } else if (mode === BCAST) {
    if (++bcGot === N) {
      bcGot = 0;
      now = performance.now(); // read once per broadcast, not per delivery
      if (phase === MEASURE) fanout.add(now - pubAt);
      if (sending) publish(now);
    }
  } else fail(`connection ${c.id}: unexpected message on an idle connection`);
}

function verifyMessage(c) {
  const want = payloads[c.recv % DISTINCT];
  if (!cfg.deflate) {
    if (c.msgLen !== want.length || c.vpos !== want.length) return fail(`connection ${c.id}: reply differs from the message sent (${c.msgLen} bytes)`);
    verifiedMsgs++;
    return;
  }
  const got = c.vparts.length === 1 ? c.vparts[0] : Buffer.concat(c.vparts);
  c.vparts = null;
  if (!c.rsv1) {
    if (!got.equals(want)) return fail(`connection ${c.id}: uncompressed reply differs from the message sent`);
    verifiedMsgs++;
    return;
  }
  (c.zparts ||= []).push(got, TRAILER);
  (c.zwant ||= []).push(want);
  if (c.zwant.length >= VERIFY_DEFLATE_MAX) verifyStream(c);
}

// The compressed replies of one connection, each followed by 00 00 ff ff, form one raw
// deflate stream whether or not the server keeps its context between messages.
function verifyStream(c) {
  if (!c.zwant || !c.zwant.length) return;
  let out;
  try {
    out = zlib.inflateRawSync(Buffer.concat(c.zparts), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch (e) {
    return fail(`connection ${c.id}: compressed replies do not inflate: ${e.message}`);
  }
  if (!out.equals(Buffer.concat(c.zwant))) return fail(`connection ${c.id}: inflated replies differ from the messages sent`);
  verifiedMsgs += c.zwant.length;
  c.zwant = [];
  c.zparts = [];
  c.zdone = true;
}

function headerDone(c, b0, len, now) {
  c.fin = b0 >= 0x80;
  c.fop = b0 & 0x0f;
  c.ctrl = c.fop >= 8;
  c.left = len;
  if (c.ctrl) {
    if (c.fop === 8) return fail(`connection ${c.id}: server sent a close frame`);
    if (c.fop === 9) pings++;
    return;
  }
  if (c.fop !== 0) {
    // first frame of a message
    c.op = c.fop;
    c.rsv1 = (b0 & 0x40) !== 0;
    c.msgLen = 0;
    c.vpos = 0;
    c.verifying = phase === WARMUP && !(cfg.deflate && c.zdone);
    if (c.verifying && cfg.deflate) c.vparts = [];
  }
  if (len === 0 && c.fin) messageDone(c, now);
}

function parse(c, buf, p, n, now) {
  while (p < n && !finished) {
    if (c.left > 0) {
      const take = c.left < n - p ? c.left : n - p;
      if (!c.ctrl) {
        if (c.verifying) verifyChunk(c, buf, p, take);
        c.msgLen += take;
      }
      c.left -= take;
      p += take;
      if (c.left === 0 && c.fin && !c.ctrl) messageDone(c, now);
      continue;
    }
    if (c.hh === 0 && n - p >= 2) {
      // fast path: the whole header is in this read
      const b0 = buf[p];
      const b1 = buf[p + 1];
      if (b1 & 0x80) return fail(`connection ${c.id}: server sent a masked frame`);
      let len = b1 & 0x7f;
      const need = len === 126 ? 4 : len === 127 ? 10 : 2;
      if (n - p >= need) {
        if (len === 126) len = (buf[p + 2] << 8) | buf[p + 3];
        else if (len === 127) len = buf.readUInt32BE(p + 2) * 2 ** 32 + buf.readUInt32BE(p + 6);
        p += need;
        headerDone(c, b0, len, now);
        continue;
      }
    }
    // slow path: a header split across reads
    c.hdr ||= Buffer.alloc(10);
    c.hdr[c.hh++] = buf[p++];
    if (c.hh >= 2) {
      if (c.hdr[1] & 0x80) return fail(`connection ${c.id}: server sent a masked frame`);
      const l7 = c.hdr[1] & 0x7f;
      const need = l7 === 126 ? 4 : l7 === 127 ? 10 : 2;
      if (c.hh === need) {
        const len = l7 === 126 ? c.hdr.readUInt16BE(2) : l7 === 127 ? c.hdr.readUInt32BE(2) * 2 ** 32 + c.hdr.readUInt32BE(6) : l7;
        c.hh = 0;
        headerDone(c, c.hdr[0], len, now);
      }
    }
  }
}

function verifyChunk(c, buf, p, take) {
  if (cfg.deflate) {
    c.vparts.push(Buffer.from(buf.subarray(p, p + take)));
    return;
  }
  const want = payloads[c.recv % DISTINCT];
  if (c.vpos + take > want.length || buf.compare(want, c.vpos, c.vpos + take, p, p + take) !== 0)
    return fail(`connection ${c.id}: reply differs from the message sent`);
  c.vpos += take;
}

function onRead(c, n) {
  if (finished) return false;
  const now = cfg.latency ? performance.now() : 0;
  if (c.open) parse(c, rbuf, 0, n, now);
  else handshakeRead(c, n, now);
  if (c.due > 0) flushDue(c);
}

// ------------------------------------------------------------------ connecting
const CRLF2 = Buffer.from('\r\n\r\n');
const STATUS_101 = Buffer.from('HTTP/1.1 101 ');
const ACCEPT_VALUE = Buffer.from(ACCEPT);
const PMD = Buffer.from('permessage-deflate');

// The response is checked on bytes (status line, accept value, extension); usually it
// arrives in one read.
function handshakeRead(c, n, now) {
  const buf = c.head ? Buffer.concat([c.head, rbuf.subarray(0, n)]) : rbuf.subarray(0, n);
  const end = buf.indexOf(CRLF2);
  if (end < 0) {
    if (buf.length > 8192) return fail(`connection ${c.id}: handshake response too long`);
    c.head = Buffer.from(buf);
    return;
  }
  c.head = null;
  const head = buf.subarray(0, end);
  if (head.length < STATUS_101.length || head.compare(STATUS_101, 0, STATUS_101.length, 0, STATUS_101.length) !== 0)
    return fail(`connection ${c.id}: ${head.latin1Slice(0, Math.min(head.length, 80)).split('\r\n')[0]}`);
  if (head.indexOf(ACCEPT_VALUE) < 0) return fail(`connection ${c.id}: bad Sec-WebSocket-Accept`);
  const negotiated = head.indexOf(PMD) >= 0;
  if (!cfg.deflate && negotiated) return fail('server negotiated permessage-deflate without an offer');
  if (cfg.deflate) {
    const ext = /\r\nsec-websocket-extensions:([^\r]*)/.exec(head.latin1Slice(0, head.length).toLowerCase());
    if (!ext || !ext[1].includes('permessage-deflate')) return fail('permessage-deflate was offered but the server did not negotiate it');
    const bits = /client_max_window_bits=(\d+)/.exec(ext[1]);
    const b = bits ? Number(bits[1]) : 15;
    if (deflateBits === -1) deflateBits = b;
    else if (deflateBits !== b) return fail("the server's answers differ in client_max_window_bits");
  }
  c.open = true;
  opened++;
  const rest = end + 4;
  if (rest < buf.length) {
    const extra = Buffer.from(buf.subarray(rest)); // rbuf is reused by the next read
    parse(c, extra, 0, extra.length, now);
  }
  onOpen();
}

function connectNext() {
  const c = new Conn(started++);
  conns.push(c);
  const opts = {
    host: cfg.host,
    port: cfg.port,
    noDelay: true,
    onread: { buffer: rbuf, callback: (n) => onRead(c, n) },
  };
  if (cfg.srcIps > 0) opts.localAddress = `127.0.0.${2 + (c.id % cfg.srcIps)}`;
  const sock = net.connect(opts);
  c.sock = sock;
  sock.on('connect', () => sock.write(request));
  sock.on('error', (e) => fail(`connection ${c.id}: ${e.code || e.message}`));
  sock.on('end', () => fail(`connection ${c.id}: server closed the connection`));
}

let halfSnap = null;
let connectSnap0 = null;
let connectSnap1 = null;
let rssBefore = 0;
function onOpen() {
  if (mode === CONNS && opened === Math.ceil(N / 2)) halfSnap = snapshot();
  if (started < N) connectNext();
  if (opened === N) allOpen();
}

// ------------------------------------------------------------------ phases
function allOpen() {
  tOpen = performance.now();
  connectSnap1 = snapshot();
  if (mode === CONNS) {
    phase = SETTLE;
    setTimeout(reportConns, cfg.settle * 1000);
    return;
  }
  if (cfg.deflate) {
    if (deflateBits < 9 || deflateBits > 15) return fail(`unsupported client_max_window_bits=${deflateBits}`);
    frames = frameSet(payloads.map((p) => compressMessage(p, deflateBits)), OPCODE, true);
  } else frames = frameSet(payloads, OPCODE, false);
  phase = WARMUP;
  sending = true;
  const now = performance.now();
  if (mode === ECHO) {
    for (const c of conns) {
      c.due = cfg.inflight;
      c.sentAt = now;
      flushDue(c);
    }
  } else publish(now);
  setTimeout(startWindow, cfg.warmup * 1000);
}

let s0 = null;
function startWindow() {
  if (cfg.deflate) for (const c of conns) verifyStream(c);
  if (finished) return;
  if (verifiedMsgs === 0) return fail('no reply arrived during warm-up');
  phase = MEASURE;
  s0 = snapshot();
  setTimeout(endWindow, cfg.duration * 1000);
}

function endWindow() {
  const s1 = snapshot();
  sending = false;
  const dt = s1.t - s0.t;
  const msgs = s1.msgs - s0.msgs;
  const srv = s1.srv - s0.srv;
  const gen = s1.gen - s0.gen;
  const [core0, core1] = coreBusy(s0.cores, s1.cores);
  const r = {
    connect_s: +((tOpen - t0) / 1000).toFixed(4),
    window_s: +dt.toFixed(4),
    msgs,
    msgs_per_s: +(msgs / dt).toFixed(1),
    mb_per_s: +((s1.bytes - s0.bytes) / dt / 1e6).toFixed(3),
    server_cpu_s: +srv.toFixed(3),
    server_cpu_util: +(srv / dt).toFixed(3),
    server_cpu_sys_share: srv > 0 ? +((s1.srvSys - s0.srvSys) / srv).toFixed(3) : null,
    server_cpu_us_per_msg: msgs ? +((srv / msgs) * 1e6).toFixed(3) : null,
    gen_cpu_s: +gen.toFixed(3),
    gen_cpu_util: +(gen / dt).toFixed(3),
    gen_cpu_sys_share: gen > 0 ? +((s1.genSys - s0.genSys) / gen).toFixed(3) : null,
    gen_cpu_us_per_msg: msgs ? +((gen / msgs) * 1e6).toFixed(3) : null,
    gen_per_srv_cpu: srv > 0 ? +(gen / srv).toFixed(3) : null,
    server_rss_kb_end: s1.rss,
    core0_busy: +core0.toFixed(3),
    core1_busy: +core1.toFixed(3),
  };
  if (msgs === 0) r.error = 'no reply during the window';
  if (cfg.latency) r.latency_us = latency.summary(1);
  if (mode === BCAST) {
    r.deliveries_per_s = r.msgs_per_s;
    r.broadcasts_per_s = +(fanout.n / dt).toFixed(2);
    r.fanout_ms = fanout.summary(2);
  }
  finish(r);
}

function reportConns() {
  const s = snapshot();
  const ct = (tOpen - t0) / 1000;
  const half = Math.ceil(N / 2);
  const srv = connectSnap1.srv - connectSnap0.srv;
  const gen = connectSnap1.gen - connectSnap0.gen;
  finish({
    connect_s: +ct.toFixed(4),
    handshakes_per_s: +(N / ct).toFixed(1),
    server_cpu_connect_s: +srv.toFixed(3),
    server_cpu_us_per_handshake: +((srv / N) * 1e6).toFixed(2),
    gen_cpu_connect_s: +gen.toFixed(3),
    gen_cpu_us_per_handshake: +((gen / N) * 1e6).toFixed(2),
    gen_per_srv_cpu: srv > 0 ? +(gen / srv).toFixed(3) : null,
    server_cpu_util: +(srv / ct).toFixed(3),
    gen_cpu_util: +(gen / ct).toFixed(3),
    server_rss_kb_before: rssBefore,
    server_rss_kb_half: halfSnap.rss,
    server_rss_kb_after: s.rss,
    rss_bytes_per_conn: +(((s.rss - rssBefore) * 1024) / N).toFixed(1),
    rss_bytes_per_conn_marginal: N > half ? +(((s.rss - halfSnap.rss) * 1024) / (N - half)).toFixed(1) : null,
  });
}

// ------------------------------------------------------------------ main
const limit = cfg.deadline || 60 + cfg.warmup + cfg.duration + cfg.settle;
setTimeout(() => fail(`deadline of ${limit} s reached (${opened} of ${N} connections open, phase ${phase})`), limit * 1000);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => fail(`stopped by ${sig}`));

connectSnap0 = snapshot();
rssBefore = connectSnap0.rss;
for (let i = 0; i < Math.min(cfg.concurrency, N); i++) connectNext();
