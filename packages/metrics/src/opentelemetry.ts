// @switchboard/metrics/opentelemetry: OpenTelemetry metrics and spans from
// the library's diagnostics channels, through @opentelemetry/api. Without a
// registered SDK (or providers given) the API is a no-op and so is this.
//
// Spans: one per opening handshake (`WebSocket handshake`, SERVER) and one per
// hub request (`switchboard.hub <kind>`, SERVER), each with the start time the
// channel's duration gives. Metrics follow the OpenTelemetry naming rules
// (dotted names, UCUM units) with the same bounded attributes as the
// Prometheus metrics.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { metrics as globalMetrics, trace as globalTrace, SpanKind, SpanStatusCode, type MeterProvider, type TracerProvider } from '@opentelemetry/api';
import type { CloseMessage, ConnectionMessage, HandshakeMessage, MessageMessage } from 'switchboard';
import type { HubAdapterMessage, HubPublishMessage, HubRequestMessage } from 'switchboard/hub';
import { closeCodeLabel } from './labels.js';

export interface OpenTelemetryOptions {
  /** Default: the globally registered one (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Default: the globally registered one (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** Spans for handshakes and hub requests (default true). */
  spans?: boolean;
}

export interface OpenTelemetryInstrumentation {
  /** Unsubscribes from the channels. */
  close(): void;
}

const SCOPE = 'switchboard';

/** Subscribes to the channels and records OpenTelemetry metrics (and spans) until `close()`. */
export function instrumentOpenTelemetry(options: OpenTelemetryOptions = {}): OpenTelemetryInstrumentation {
  const meter = (options.meterProvider ?? globalMetrics.getMeterProvider()).getMeter(SCOPE);
  const tracer = options.spans === false ? null : (options.tracerProvider ?? globalTrace.getTracerProvider()).getTracer(SCOPE);
  const subscriptions: Array<[string, (message: unknown, name: string | symbol) => void]> = [];
  const on = <T>(name: string, listener: (message: T) => void): void => {
    const subscriber = listener as (message: unknown, name: string | symbol) => void;
    subscribe(name, subscriber);
    subscriptions.push([name, subscriber]);
  };

  const handshakes = meter.createCounter('switchboard.handshakes', { description: 'Opening handshakes answered.', unit: '{handshake}' });
  const handshakeDuration = meter.createHistogram('switchboard.handshake.duration', { description: 'Time to answer an opening handshake.', unit: 's' });
  const connections = meter.createUpDownCounter('switchboard.connections', { description: 'Server-side connections open.', unit: '{connection}' });
  const connectionDuration = meter.createHistogram('switchboard.connection.duration', { description: 'How long server-side connections stayed open.', unit: 's' });
  const messages = meter.createCounter('switchboard.messages', { description: 'Data messages of server-side connections.', unit: '{message}' });
  const messageSize = meter.createHistogram('switchboard.message.size', { description: 'Data message payload sizes.', unit: 'By' });
  const publishes = meter.createCounter('switchboard.hub.publishes', { description: "Room messages fanned out to this process's members.", unit: '{message}' });
  const requestDuration = meter.createHistogram('switchboard.hub.request.duration', { description: 'Hub client requests, arrival to answer.', unit: 's' });
  const adapterDuration = meter.createHistogram('switchboard.hub.adapter.duration', { description: 'Calls to the hub adapter.', unit: 's' });

  on('switchboard:server:handshake', (m: HandshakeMessage) => {
    const attributes = m.accepted ? { 'switchboard.result': 'accepted' } : { 'switchboard.result': 'refused', 'error.type': m.code ?? 'other' };
    handshakes.add(1, attributes);
    handshakeDuration.record(m.durationMs / 1000, attributes);
    if (tracer === null) return;
    const end = Date.now();
    const span = tracer.startSpan('WebSocket handshake', {
      kind: SpanKind.SERVER,
      startTime: end - m.durationMs,
      attributes: {
        'http.request.method': m.request.method ?? 'GET',
        'http.response.status_code': m.status,
        'network.protocol.name': 'websocket',
        ...(m.accepted ? {} : { 'error.type': m.code ?? 'other' }),
      },
    });
    if (!m.accepted) span.setStatus({ code: SpanStatusCode.ERROR, message: m.code ?? undefined });
    span.end(end);
  });
  on('switchboard:connection:open', (m: ConnectionMessage) => {
    if (m.server) connections.add(1);
  });
  on('switchboard:connection:close', (m: CloseMessage) => {
    if (!m.server) return;
    connections.add(-1);
    connectionDuration.record(m.durationMs / 1000, { 'websocket.close.code': closeCodeLabel(m.code) });
  });
  const received = { text: { 'switchboard.direction': 'received', 'switchboard.message.type': 'text' }, binary: { 'switchboard.direction': 'received', 'switchboard.message.type': 'binary' } };
  const sent = { text: { 'switchboard.direction': 'sent', 'switchboard.message.type': 'text' }, binary: { 'switchboard.direction': 'sent', 'switchboard.message.type': 'binary' } };
  on('switchboard:message:received', (m: MessageMessage) => {
    if (!m.server) return;
    const attributes = m.binary ? received.binary : received.text;
    messages.add(1, attributes);
    messageSize.record(m.size, attributes);
  });
  on('switchboard:message:sent', (m: MessageMessage) => {
    if (!m.server) return;
    const attributes = m.binary ? sent.binary : sent.text;
    messages.add(1, attributes);
    messageSize.record(m.size, attributes);
  });
  on('switchboard:hub:publish', (m: HubPublishMessage) => publishes.add(1));
  on('switchboard:hub:request', (m: HubRequestMessage) => {
    const attributes = { 'switchboard.hub.request.kind': m.kind, ...(m.error === null ? {} : { 'error.type': m.error }) };
    requestDuration.record(m.durationMs / 1000, { 'switchboard.hub.request.kind': m.kind, 'switchboard.result': m.error === null ? 'ok' : 'error' });
    if (tracer === null) return;
    const end = Date.now();
    // The event name (a req's, chosen by the client) or the room goes into the span, never into a metric attribute.
    const span = tracer.startSpan(`switchboard.hub ${m.kind}`, {
      kind: SpanKind.SERVER,
      startTime: end - m.durationMs,
      attributes: m.event === null ? attributes : { ...attributes, [m.kind === 'req' ? 'switchboard.hub.event' : 'switchboard.hub.room']: m.event },
    });
    if (m.error !== null) span.setStatus({ code: SpanStatusCode.ERROR, message: m.error });
    span.end(end);
  });
  on('switchboard:hub:adapter', (m: HubAdapterMessage) => {
    adapterDuration.record(m.durationMs / 1000, { 'switchboard.hub.adapter.operation': m.operation, 'switchboard.result': m.error === null ? 'ok' : 'error' });
  });

  return {
    close: () => {
      for (const [name, listener] of subscriptions) unsubscribe(name, listener);
      subscriptions.length = 0;
    },
  };
}
