// @switchboard/metrics: Prometheus metrics for switchboard servers and hubs.
//
// The library publishes what happens on node:diagnostics_channel channels
// (docs/observability.md) and depends on nothing; this package subscribes to
// them and keeps prom-client metrics with standard names and units. Labels
// are bounded: a close code is folded into its class past the registered
// ones, a request is labelled by its kind (never its event name), and no
// room name, user id or address ever becomes a label.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CloseMessage, ConnectionMessage, BackpressureMessage, ErrorMessage, HandshakeMessage, MessageMessage, WebSocketServer } from 'switchboard';
import type { Hub, HubAdapterMessage, HubPublishMessage, HubRateLimitedMessage, HubRequestMessage } from 'switchboard/hub';
import { closeCodeLabel } from './labels.js';

export { closeCodeLabel };

/** Message sizes in bytes: 64 B to 16 MiB, by fours. */
export const DEFAULT_SIZE_BUCKETS = [64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];
/** Latencies in seconds: 100 µs to 10 s (a hub request, an adapter call, a room's fan-out). */
export const DEFAULT_LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Connection lifetimes in seconds: 1 s to a day. */
export const DEFAULT_DURATION_BUCKETS = [1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600];

export interface MetricsOptions {
  /** Where the metrics are registered (default: a registry of their own, `metrics.registry`). */
  registry?: Registry;
  /** Prefix of every metric name (default `switchboard_`). */
  prefix?: string;
  sizeBuckets?: number[];
  latencyBuckets?: number[];
  durationBuckets?: number[];
}

/** What a server or hub tracked for the gauges read from `stats()` must offer. */
type Tracked = Pick<WebSocketServer, 'stats'> | Pick<Hub, 'stats'>;

/** An error code as a label: the library's codes are a closed set; anything else (a user's) is `other`. */
function codeLabel(code: string | null): string {
  return code !== null && /^(WS_ERR_|ERR_)[A-Z0-9_]{1,60}$/.test(code) ? code : 'other';
}

const HUB_REQUEST_KINDS = new Set(['req', 'join', 'leave', 'resume', 'pub', 'dm']);
const ADAPTER_OPERATIONS = new Set(['publish', 'history', 'addMember', 'join', 'removeMember', 'members', 'toUser', 'toClient', 'toAll']);

/**
 * Prometheus metrics of every switchboard server and hub in this process,
 * from the library's diagnostics channels. `track(server | hub)` adds the
 * gauges only a snapshot can give (rooms, members, bytes waiting). Call
 * `close()` to unsubscribe.
 */
export class SwitchboardMetrics {
  readonly registry: Registry;
  private readonly tracked = new Set<Tracked>();
  private readonly subscriptions: Array<[string, (message: unknown, name: string | symbol) => void]> = [];

  constructor(options: MetricsOptions = {}) {
    const registry = (this.registry = options.registry ?? new Registry());
    const p = options.prefix ?? 'switchboard_';
    const sizes = options.sizeBuckets ?? DEFAULT_SIZE_BUCKETS;
    const latencies = options.latencyBuckets ?? DEFAULT_LATENCY_BUCKETS;
    const registers = [registry];

    const connectionsTotal = new Counter({ name: `${p}connections_total`, help: 'Opening handshakes answered, by result (accepted or refused).', labelNames: ['result'], registers });
    const refusals = new Counter({ name: `${p}handshake_refusals_total`, help: 'Opening handshakes refused, by reason code.', labelNames: ['code'], registers });
    const accepted = connectionsTotal.labels('accepted');
    const refused = connectionsTotal.labels('refused');
    const connections = new Gauge({ name: `${p}connections`, help: 'Server-side connections open.', registers });
    const disconnections = new Counter({ name: `${p}disconnections_total`, help: 'Server-side connections closed, by close code (3xxx and 4xxx by class).', labelNames: ['code'], registers });
    const lifetime = new Histogram({ name: `${p}connection_duration_seconds`, help: 'How long server-side connections stayed open.', buckets: options.durationBuckets ?? DEFAULT_DURATION_BUCKETS, registers });
    const receivedTotal = new Counter({ name: `${p}messages_received_total`, help: 'Data messages received by server-side connections, by type.', labelNames: ['type'], registers });
    const sentTotal = new Counter({ name: `${p}messages_sent_total`, help: 'Data messages (or fragments) sent by server-side connections, by type.', labelNames: ['type'], registers });
    const receivedSize = new Histogram({ name: `${p}message_received_size_bytes`, help: 'Payload size of received messages as on the wire (compressed when compressed).', buckets: sizes, registers });
    const sentSize = new Histogram({ name: `${p}message_sent_size_bytes`, help: 'Payload size of sent messages before compression (a pre-framed hub message: its frame).', buckets: sizes, registers });
    const compressedTotal = new Counter({ name: `${p}messages_compressed_total`, help: 'Messages received or sent compressed (permessage-deflate), by direction.', labelNames: ['direction'], registers });
    const backpressure = new Counter({ name: `${p}backpressure_disconnects_total`, help: 'Connections cut off because the peer did not read, by error code.', labelNames: ['code'], registers });
    const errors = new Counter({ name: `${p}connection_errors_total`, help: 'Connections failed with an error, by error code.', labelNames: ['code'], registers });
    // Children made once: a message costs a property read and an add, not a label lookup.
    const byType = (counter: Counter<'type'>) => ({ text: counter.labels('text'), binary: counter.labels('binary') });
    const received = byType(receivedTotal);
    const sent = byType(sentTotal);
    const compressedIn = compressedTotal.labels('received');
    const compressedOut = compressedTotal.labels('sent');

    this.on('switchboard:server:handshake', (m: HandshakeMessage) => {
      if (m.accepted) accepted.inc();
      else {
        refused.inc();
        refusals.labels(codeLabel(m.code)).inc();
      }
    });
    this.on('switchboard:connection:open', (m: ConnectionMessage) => {
      if (m.server) connections.inc();
    });
    this.on('switchboard:connection:close', (m: CloseMessage) => {
      if (!m.server) return;
      connections.dec();
      disconnections.labels(closeCodeLabel(m.code)).inc();
      lifetime.observe(m.durationMs / 1000);
    });
    // Only server-side connections: a client in the same process (a relay, a test) is not the server's traffic.
    this.on('switchboard:message:received', (m: MessageMessage) => {
      if (!m.server) return;
      (m.binary ? received.binary : received.text).inc();
      receivedSize.observe(m.size);
      if (m.compressed) compressedIn.inc();
    });
    this.on('switchboard:message:sent', (m: MessageMessage) => {
      if (!m.server) return;
      (m.binary ? sent.binary : sent.text).inc();
      sentSize.observe(m.size);
      if (m.compressed) compressedOut.inc();
    });
    this.on('switchboard:connection:backpressure', (m: BackpressureMessage) => backpressure.labels(codeLabel(m.code)).inc());
    this.on('switchboard:connection:error', (m: ErrorMessage) => errors.labels(codeLabel(m.code)).inc());

    // The hub.
    const joins = new Counter({ name: `${p}hub_joins_total`, help: 'Room joins by connections of this process.', registers });
    const leaves = new Counter({ name: `${p}hub_leaves_total`, help: 'Room leaves by connections of this process (a closed connection leaves all its rooms).', registers });
    const publishes = new Counter({ name: `${p}hub_publishes_total`, help: 'Room messages delivered to the members of this process.', registers });
    const deliveries = new Counter({ name: `${p}hub_deliveries_total`, help: 'Room messages written to members (one per member reached).', registers });
    const fanout = new Histogram({ name: `${p}hub_fanout_duration_seconds`, help: "Time to write one room message to this process's members.", buckets: latencies, registers });
    const requests = new Histogram({ name: `${p}hub_request_duration_seconds`, help: 'Client requests from arrival to answer, by kind (req, join, leave, resume, pub, dm) and result.', labelNames: ['kind', 'result'], buckets: latencies, registers });
    const slow = new Counter({ name: `${p}hub_slow_consumers_total`, help: 'Connections closed by the slow-consumer policy (1013).', registers });
    const limited = new Counter({ name: `${p}hub_rate_limited_total`, help: 'Messages over a connection\'s rate limit, by action (reject or disconnect).', labelNames: ['action'], registers });
    const adapter = new Histogram({ name: `${p}hub_adapter_duration_seconds`, help: 'Calls to the hub adapter, by operation and result.', labelNames: ['operation', 'result'], buckets: latencies, registers });
    this.on('switchboard:hub:join', () => joins.inc());
    this.on('switchboard:hub:leave', () => leaves.inc());
    this.on('switchboard:hub:publish', (m: HubPublishMessage) => {
      publishes.inc();
      deliveries.inc(m.recipients);
      fanout.observe(m.durationMs / 1000);
    });
    this.on('switchboard:hub:request', (m: HubRequestMessage) => {
      requests.labels(HUB_REQUEST_KINDS.has(m.kind) ? m.kind : 'other', m.error === null ? 'ok' : 'error').observe(m.durationMs / 1000);
    });
    this.on('switchboard:hub:slow-consumer', () => slow.inc());
    this.on('switchboard:hub:rate-limited', (m: HubRateLimitedMessage) => limited.labels(m.action === 'disconnect' ? 'disconnect' : 'reject').inc());
    this.on('switchboard:hub:adapter', (m: HubAdapterMessage) => {
      adapter.labels(ADAPTER_OPERATIONS.has(m.operation) ? m.operation : 'other', m.error === null ? 'ok' : 'error').observe(m.durationMs / 1000);
    });

    // What only a snapshot tells, read from the tracked servers and hubs at scrape time.
    const tracked = this.tracked;
    const sum = (pick: (stats: Record<string, number>) => number, hubsOnly: boolean): number => {
      let total = 0;
      for (const source of tracked) {
        const stats = source.stats() as unknown as Record<string, number>;
        if (!hubsOnly || 'rooms' in stats) total += pick(stats);
      }
      return total;
    };
    new Gauge({
      name: `${p}buffered_bytes`,
      help: 'Bytes accepted for sending but not yet handed to the kernel, over the tracked servers and hubs.',
      registers,
      collect() {
        this.set(sum((s) => s.bufferedBytes!, false));
      },
    });
    new Gauge({
      name: `${p}hub_rooms`,
      help: 'Rooms with a member on this process, over the tracked hubs.',
      registers,
      collect() {
        this.set(sum((s) => s.rooms!, true));
      },
    });
    new Gauge({
      name: `${p}hub_members`,
      help: 'Room memberships on this process (a connection in three rooms counts three), over the tracked hubs.',
      registers,
      collect() {
        this.set(sum((s) => s.members!, true));
      },
    });
    new Gauge({
      name: `${p}hub_connections`,
      help: 'Hub connections open (past hello and middleware), over the tracked hubs.',
      registers,
      collect() {
        this.set(sum((s) => s.connections!, true));
      },
    });
  }

  /** Adds a server's or a hub's `stats()` to the gauges read at scrape time (bytes waiting; rooms and members for a hub). */
  track(source: Tracked): this {
    this.tracked.add(source);
    return this;
  }

  untrack(source: Tracked): this {
    this.tracked.delete(source);
    return this;
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Answers `GET /metrics` (or `path`) and returns true; returns false,
   * leaving it alone, for any other request. For an http server's request
   * handler.
   */
  handle(req: IncomingMessage, res: ServerResponse, path = '/metrics'): boolean {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q === -1 ? url : url.slice(0, q)) !== path) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method Not Allowed');
      return true;
    }
    this.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': this.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
    return true;
  }

  /** Unsubscribes from the channels (the registry keeps its metrics). */
  close(): void {
    for (const [name, listener] of this.subscriptions) unsubscribe(name, listener);
    this.subscriptions.length = 0;
    this.tracked.clear();
  }

  private on<T>(name: string, listener: (message: T) => void): void {
    const subscriber = listener as (message: unknown, name: string | symbol) => void;
    subscribe(name, subscriber);
    this.subscriptions.push([name, subscriber]);
  }
}

/** `new SwitchboardMetrics(options)`. */
export function createMetrics(options?: MetricsOptions): SwitchboardMetrics {
  return new SwitchboardMetrics(options);
}
