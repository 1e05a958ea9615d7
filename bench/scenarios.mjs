// What the benchmark measures: the scenarios (ids as in ../shared/perf where they
// overlap), the load generator's settings for each, and issue #5's targets that can be
// checked against `ws` in the same run.
const KiB = 1024;
const MiB = 1024 * KiB;
const sizeName = (s) => (s >= MiB ? `${s / MiB}m` : s >= KiB ? `${s / KiB}k` : `${s}b`);
const countName = (n) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

// Messages in flight per connection, as ../shared/perf: enough to keep the server busy,
// at most 16 MiB per connection and 256 MiB in all.
function pipelineDepth(conns, size) {
  let k = conns === 1 ? 64 : conns <= 100 ? 8 : 1;
  k = Math.min(k, Math.max(1, Math.floor((16 * MiB) / size)));
  k = Math.min(k, Math.max(1, Math.floor((256 * MiB) / (size * conns))));
  return k;
}

// Connections >= 1,000 use source addresses 127.0.0.2-9 (cheap ephemeral-port search).
const srcIps = (conns) => (conns >= 1000 ? 8 : 0);

function echo(conns, size, text, t, target) {
  const inflight = pipelineDepth(conns, size);
  return {
    id: `echo-${conns}c-${sizeName(size)}-${text ? 'text' : 'bin'}`,
    group: 'echo',
    desc: `${conns} conn x ${inflight} in flight, ${sizeName(size)} ${text ? 'text' : 'binary'} echo`,
    target,
    gen: { mode: 'echo', conns, inflight, size, text, srcIps: srcIps(conns), warmup: size >= MiB ? t.warmupLarge : t.warmup, duration: t.duration },
  };
}

// Targets of issue #5 that compare switchboard with ws (others need ws-native or
// net-echo: see ../shared/perf and bench/RESULTS.md). `ratio` is switchboard ÷ ws.
const PIPELINED = { metric: 'throughput', min: 3, text: '>= 3x ws msg/s' };
const FAST = { metric: 'throughput', min: 1.25, text: '>= 1.25x ws' };
const NATIVE = { info: '>= 1.0x ws-native (not run here: see ../shared/perf)' };

export function scenarios({ quick = false } = {}) {
  const t = quick
    ? { warmup: 0.5, warmupLarge: 1, duration: 1.5, settle: 1 }
    : { warmup: 1, warmupLarge: 2, duration: 4, settle: 2 };
  const list = [];
  if (quick) {
    // Many connections are covered by conns-2k and broadcast-1k (kept under a minute).
    list.push(echo(100, 16, false, t, PIPELINED), echo(100, KiB, true, t, PIPELINED), echo(1, 64 * KiB, false, t, NATIVE));
  } else {
    for (const c of [1, 100]) {
      list.push(echo(c, 16, false, t, PIPELINED), echo(c, KiB, false, t, PIPELINED), echo(c, KiB, true, t, PIPELINED));
    }
    list.push(echo(1, 64 * KiB, false, t, NATIVE), echo(1, MiB, false, t, NATIVE));
    list.push(echo(1000, 16, false, t, FAST), echo(1000, KiB, false, t, FAST));
  }
  list.push({
    id: 'latency-100c-32b',
    group: 'latency',
    desc: '100 conn x 1 in flight, 32 B binary, round trip (closed loop)',
    target: { metric: 'p99', max: 0.8, text: 'p99 <= 0.8x ws (1.25x better)' },
    gen: { mode: 'echo', conns: 100, inflight: 1, size: 32, latency: true, warmup: t.warmup, duration: t.duration },
  });
  // The hard RLIMIT_NOFILE here is 20,000 per process; client and server are separate processes.
  const n = quick ? 2000 : 5000;
  list.push({
    id: `conns-${countName(n)}`,
    group: 'conns',
    desc: `open ${n} idle connections (200 handshakes in progress at a time), then ${t.settle} s idle`,
    target: { metric: 'throughput', min: 1.3, text: '>= 1.3x ws handshakes/s; RSS per conn <= ws', rss: true },
    gen: { mode: 'conns', conns: n, concurrency: 200, srcIps: srcIps(n), settle: t.settle },
  });
  for (const b of quick ? [1000] : [1000, 10000]) {
    list.push({
      id: `broadcast-${countName(b)}`,
      group: 'broadcast',
      desc: `${b} clients on /broadcast, one publisher, 64 B text, next publish once all ${b} have it`,
      target: FAST,
      gen: { mode: 'broadcast', conns: b, inflight: 1, size: 64, path: '/broadcast', srcIps: srcIps(b), warmup: t.warmup, duration: t.duration },
    });
  }
  list.push({
    id: 'deflate-16k',
    group: 'deflate',
    deflate: true,
    desc: 'permessage-deflate echo, 16 KiB JSON-like text (16 different, pre-compressed), 100 conn x 2 in flight',
    target: { metric: 'cpu', max: 0.8, text: 'server CPU per message <= 0.8x ws' },
    gen: { mode: 'echo', conns: 100, inflight: 2, size: 16 * KiB, text: true, deflate: true, warmup: t.warmup, duration: t.duration },
  });
  return list;
}

/** Upper bound of one generator run in seconds (it also enforces its own deadline). */
export function runLimit(gen) {
  return 45 + (gen.warmup || 0) + (gen.duration || 0) + (gen.settle || 0);
}
