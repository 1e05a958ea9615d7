// @switchboard/metrics/opentelemetry with the official SDK: its in-memory span
// exporter and a metric reader receive the spans of real handshakes and hub
// requests (clients on 127.0.0.1) and the metrics of their traffic.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { instrumentOpenTelemetry, type OpenTelemetryInstrumentation } from '../../packages/metrics/src/opentelemetry.js';
import { RawClient, startHub, until, type TestHub } from '../hub/helpers.js';

/** A reader collected on demand (the SDK's pull model, as a Prometheus exporter uses it). */
class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

async function collect(reader: TestReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics } = await reader.collect();
  const out = new Map<string, MetricData>();
  for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) out.set(metric.descriptor.name, metric);
  return out;
}

/** The sum of a counter's data points whose attributes include `match`. */
function total(metric: MetricData | undefined, match: Record<string, unknown> = {}): number {
  assert.ok(metric !== undefined, 'metric missing');
  let sum = 0;
  for (const point of metric.dataPoints) {
    if (Object.entries(match).every(([k, v]) => point.attributes[k] === v)) sum += point.value as number;
  }
  return sum;
}

describe('OpenTelemetry: spans and metrics through the official SDK', { timeout: 30_000 }, () => {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  let instrumentation: OpenTelemetryInstrumentation;
  let h: TestHub;

  before(async () => {
    instrumentation = instrumentOpenTelemetry({ tracerProvider, meterProvider });
    h = await startHub();
    h.hub.on('connection', (c) => c.on('add', (d: { a: number; b: number }, reply) => reply(d.a + d.b)));
  });
  after(async () => {
    instrumentation.close();
    await h.close();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  });

  test('handshake spans, accepted and refused', async () => {
    spans.reset();
    const c = await RawClient.open(h.url);
    await assert.rejects(WebSocket.connect(h.url.replace('/hub', '/nowhere'), { protocols: ['switchboard.v1'] }));
    await until(() => spans.getFinishedSpans().filter((s) => s.name === 'WebSocket handshake').length === 2, 5000, 'two handshake spans');
    const [ok, refused] = spans.getFinishedSpans().filter((s) => s.name === 'WebSocket handshake');
    assert.equal(ok!.kind, SpanKind.SERVER);
    assert.equal(ok!.attributes['http.response.status_code'], 101);
    assert.equal(ok!.status.code, SpanStatusCode.UNSET);
    assert.equal(refused!.attributes['http.response.status_code'], 400);
    assert.equal(refused!.attributes['error.type'], 'WS_ERR_INVALID_PATH');
    assert.equal(refused!.status.code, SpanStatusCode.ERROR);
    c.ws.close();
  });

  test('hub request spans and metrics', async () => {
    spans.reset();
    const c = await RawClient.open(h.url);
    await c.call({ t: 'join', room: 'lobby' }, 1);
    assert.equal((await c.call({ t: 'req', ev: 'add', data: { a: 1, b: 2 } }, 2)).data, 3);
    assert.equal((await c.call({ t: 'req', ev: 'missing' }, 3)).code, 'no_handler');
    const requests = spans.getFinishedSpans().filter((s) => s.name.startsWith('switchboard.hub '));
    assert.deepEqual(
      requests.map((s) => [s.name, s.attributes['switchboard.hub.room'] ?? s.attributes['switchboard.hub.event'], s.status.code]),
      [
        ['switchboard.hub join', 'lobby', SpanStatusCode.UNSET],
        ['switchboard.hub req', 'add', SpanStatusCode.UNSET],
        ['switchboard.hub req', 'missing', SpanStatusCode.ERROR],
      ],
    );
    assert.ok(requests.every((s) => s.kind === SpanKind.SERVER));

    const metrics = await collect(reader);
    assert.ok(total(metrics.get('switchboard.handshakes'), { 'switchboard.result': 'accepted' }) >= 2);
    assert.equal(total(metrics.get('switchboard.handshakes'), { 'switchboard.result': 'refused' }), 1);
    assert.equal(total(metrics.get('switchboard.connections')), 1, 'the first test closed its connection');
    assert.ok(total(metrics.get('switchboard.messages'), { 'switchboard.direction': 'received', 'switchboard.message.type': 'text' }) >= 4);
    const durations = metrics.get('switchboard.hub.request.duration')!;
    const counts = durations.dataPoints.map((p) => [p.attributes['switchboard.hub.request.kind'], p.attributes['switchboard.result'], (p.value as { count: number }).count]);
    assert.deepEqual(counts.sort(), [['join', 'ok', 1], ['req', 'error', 1], ['req', 'ok', 1]]);
    assert.equal(durations.descriptor.unit, 's');
    c.ws.close();
    await until(() => h.hub.clients.size === 0, 5000, 'the client to be gone');
  });
});
