// A small HTTP proxy for the multi-node fallback tests: it refuses every
// WebSocket upgrade (403) and sends each HTTP request to the next of its
// targets in turn, with no stickiness at all, so that consecutive requests of
// one fallback session land on different nodes. A target that refuses the
// connection (a node that died) is skipped and the request goes to the next
// one, as a load balancer's health check would arrange. `local` may answer
// some requests itself (a test page, served from the same origin).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface RoundRobinProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Requests answered by each target (by port). */
  readonly served: Map<number, number>;
  upgrades: number;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(ports: readonly number[], local?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): Promise<RoundRobinProxy> {
  let next = 0;
  const served = new Map<number, number>();
  const server = http.createServer((req, res) => {
    if (local?.(req, res)) return;
    // The body is small (an uplink batch): kept so that it can go to another target if the first refuses.
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => attempt(Buffer.concat(chunks), 0));
    const attempt = (body: Buffer, tried: number): void => {
      const port = ports[next++ % ports.length]!;
      const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: { ...req.headers, 'content-length': String(body.length) } }, (answer) => {
        served.set(port, (served.get(port) ?? 0) + 1);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      });
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED' && tried + 1 < ports.length) attempt(body, tried + 1);
        else res.destroy();
      });
      res.on('close', () => upstream.destroy());
      upstream.end(body);
    };
  });
  const proxy: RoundRobinProxy = {
    url: '',
    served,
    upgrades: 0,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  server.on('upgrade', (_req, socket: Duplex) => {
    proxy.upgrades++;
    socket.on('error', () => {});
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
