// The live panel: charts (uPlot) of this connection's messages and bytes a
// second and its ping round trips, the serving server's connections and
// traffic when the page is connected to it, and the close codes seen. One
// tick a second ends a sample (live-stats.ts), polls the server's
// STATS_PATH, and sends the panel's own ping when asked to.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { STATS_PATH, type ServerStatsSnapshot } from '../../shared/playground-protocol';
import { describeCloseCode } from './codec';
import { HISTORY_SECONDS, type LiveStats, type Ring } from './live-stats';

interface LivePanelProps {
  live: LiveStats;
  /** Poll the serving server's STATS_PATH (the page is connected to the server that served it). */
  serverStats: boolean;
  /** Pings can be sent (through the relay, open). */
  canPing: boolean;
  /** Sends one of the panel's pings. */
  ping(): void;
}

const STATS_TIMEOUT_MS = 900;

export function LivePanel({ live, serverStats, canPing, ping }: LivePanelProps) {
  const [, setTicks] = useState(0);
  const [autoPing, setAutoPing] = useState(false);
  const props = useRef({ serverStats, canPing, ping, autoPing });
  props.current = { serverStats, canPing, ping, autoPing };

  useEffect(() => {
    if (!serverStats) live.resetServer();
  }, [serverStats, live]);

  useEffect(() => {
    const timer = setInterval(() => {
      const p = props.current;
      live.tick(Date.now());
      if (p.autoPing && p.canPing) p.ping();
      if (p.serverStats) {
        fetch(STATS_PATH, { cache: 'no-store', signal: AbortSignal.timeout(STATS_TIMEOUT_MS) })
          .then((res) => (res.ok ? (res.json() as Promise<ServerStatsSnapshot>) : null))
          .then((snapshot) => {
            if (snapshot && props.current.serverStats) live.serverSnapshot(snapshot);
          })
          .catch(() => undefined);
      }
      setTicks((n) => n + 1);
    }, 1000);
    return () => clearInterval(timer);
  }, [live]);

  const codes = [...live.closeCodes].sort((a, b) => b[1] - a[1]);
  const most = codes.length > 0 ? codes[0]![1] : 1;
  const own = live.own;
  const server = live.server;
  return (
    <section class="panel live" aria-labelledby="live-title" data-testid="live-panel">
      <div class="live-head">
        <h2 id="live-title">Live</h2>
        <span class="hint">one sample a second, the last {HISTORY_SECONDS / 60} minutes</span>
        <label class="check">
          <input type="checkbox" checked={autoPing} disabled={!canPing} onChange={(e) => setAutoPing(e.currentTarget.checked)} /> Ping every second
          {!canPing && <span class="hint"> (needs the relay: browsers cannot send pings)</span>}
        </label>
        <span class="live-rtt" data-testid="live-rtt">
          {live.lastRtt === null ? 'Round trip: no pong yet' : `Round trip ${formatMs(live.lastRtt)}`}
        </span>
      </div>
      <div class="live-charts">
        <Chart name="messages" title="This connection: messages/s" time={own.time} series={[['in', own.messagesIn], ['out', own.messagesOut]]} unit="/s" />
        <Chart name="bytes" title="This connection: bytes/s" time={own.time} series={[['in', own.bytesIn], ['out', own.bytesOut]]} unit="B/s" />
        <Chart name="rtt" title="Ping round trip (ms)" time={own.time} series={[['round trip', own.rtt]]} unit="ms" points />
        {serverStats && (
          <>
            <Chart name="server-connections" title="Server: connections" time={server.time} series={[['connections', server.connections]]} unit="" />
            <Chart name="server-messages" title="Server: messages/s, all clients" time={server.time} series={[['in', server.messagesIn], ['out', server.messagesOut]]} unit="/s" />
          </>
        )}
        <div class="live-chart close-codes">
          <h3>Close codes</h3>
          {codes.length === 0 ? (
            <p class="hint">No connection closed yet</p>
          ) : (
            <ul data-testid="close-codes">
              {codes.map(([code, count]) => (
                <li key={code}>
                  <span class="code">{code === 0 ? 'other' : describeCloseCode(code)}</span>
                  <span class="bar" style={{ width: `${Math.max(4, (count / most) * 100)}%` }} />
                  <span class="count">{count}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </section>
  );
}

/** 1500 → "1.5k": axis labels stay short. */
function compact(value: number): string {
  if (Math.abs(value) >= 1e6) return `${+(value / 1e6).toPrecision(3)}M`;
  if (Math.abs(value) >= 1e3) return `${+(value / 1e3).toPrecision(3)}k`;
  return `${+value.toPrecision(3)}`;
}

function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

const COLORS = ['#2f6fdb', '#d9822b', '#1f9d55'];
const CHART_HEIGHT = 120;

/** The uPlot instance on its element, for the playground's tests. */
export type ChartElement = HTMLDivElement & { uplot?: uPlot };

function Chart({ name, title, time, series, unit, points = false }: { name: string; title: string; time: Ring; series: Array<[string, Ring]>; unit: string; points?: boolean }) {
  const box = useRef<ChartElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = (): uPlot.AlignedData => [time.toArray() as number[], ...series.map(([, ring]) => ring.toArray())];

  useEffect(() => {
    const el = box.current!;
    const u = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: CHART_HEIGHT,
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
        axes: [{ size: 28 }, { size: 64, values: (_u, ticks) => ticks.map((v) => `${compact(v)}${unit ? ` ${unit}` : ''}`) }],
        // The second series dashed: an echo's in and out lie on each other.
        series: [{}, ...series.map(([label], i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5, dash: i === 1 ? [5, 4] : undefined, spanGaps: points, points: { show: points } }))],
      },
      data(),
      el,
    );
    plot.current = u;
    el.uplot = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: CHART_HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
      delete el.uplot;
    };
  }, []);

  // Each render (one a second) hands uPlot the rings' current contents.
  useEffect(() => {
    plot.current?.setData(data());
  });

  return (
    <div class="live-chart">
      <h3>{title}</h3>
      <div ref={box} data-chart={name} />
    </div>
  );
}
