// `serve --metrics [ADDR]`: Prometheus metrics of the server at /metrics,
// from @switchboard/metrics (imported only when asked for, as --redis
// imports @switchboard/redis, so that the command works without it). With
// no ADDR the serve port answers GET /metrics itself; with ADDR ([HOST:]PORT)
// an HTTP server of its own does, so that the metrics need not be exposed
// where the WebSocket clients are.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_HOST, listeningAddress } from './listen-address.js';
import { parseHostPort } from './tcp-bridge.js';

const METRICS_PACKAGE = '@switchboard/metrics';
export const METRICS_PATH = '/metrics';

/** What serve needs of @switchboard/metrics' SwitchboardMetrics. */
interface Metrics {
  handle(req: IncomingMessage, res: ServerResponse, path?: string): boolean;
  track(source: { stats(): object }): unknown;
  close(): void;
}

export interface MetricsEndpoint {
  /** Answers GET /metrics on the serve port (false: not a metrics request, or metrics on their own address). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Adds a server's or hub's `stats()` to the gauges. */
  track(source: { stats(): object }): void;
  /** `http://HOST:PORT/metrics` when on an address of its own. */
  readonly url: string | null;
  close(): Promise<void>;
}

/** Setting the metrics up failed (the package is missing, the address is taken): exit 1 with this message. */
export class MetricsSetupError extends Error {
  override readonly name = 'MetricsSetupError';
}

/** `address` true: on the serve port; a string: `[HOST:]PORT` of its own (HOST defaults to 127.0.0.1). */
export async function openMetrics(address: true | string): Promise<MetricsEndpoint> {
  let target: { host: string; port: number } | null = null;
  if (address !== true) {
    try {
      target = parseHostPort(address, DEFAULT_HOST);
    } catch (error) {
      throw new MetricsSetupError(`--metrics: ${(error as Error).message}`);
    }
  }
  const metrics = await loadMetrics();
  if (target === null) {
    return { handle: (req, res) => metrics.handle(req, res, METRICS_PATH), track: (s) => void metrics.track(s), url: null, close: async () => metrics.close() };
  }
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 15_000 }, (req, res) => {
    if (!metrics.handle(req, res, METRICS_PATH)) res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`Not Found: the metrics are at ${METRICS_PATH}`);
  });
  await listen(server, target).catch((error: NodeJS.ErrnoException) => {
    metrics.close();
    throw new MetricsSetupError(`--metrics ${address}: ${error.code ?? error.message}`);
  });
  return {
    handle: () => false,
    track: (s) => void metrics.track(s),
    url: `${listeningAddress('http', server.address() as AddressInfo).url}${METRICS_PATH}`,
    close: async () => {
      metrics.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: Server, { host, port }: { host: string; port: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

async function loadMetrics(): Promise<Metrics> {
  // A variable specifier: the package is optional, and neither TypeScript nor a bundler should require it.
  const specifier: string = METRICS_PACKAGE;
  let module: { SwitchboardMetrics?: new () => Metrics };
  try {
    module = (await import(specifier)) as typeof module;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new MetricsSetupError(`--metrics needs the metrics package, which is not installed: npm install ${METRICS_PACKAGE}`);
    }
    throw error;
  }
  if (typeof module.SwitchboardMetrics !== 'function') throw new MetricsSetupError(`${METRICS_PACKAGE} has no SwitchboardMetrics export: is it a matching version?`);
  return new module.SwitchboardMetrics();
}
