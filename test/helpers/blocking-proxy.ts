// A small HTTP proxy for the fallback tests, playing the networks that break
// WebSockets: it refuses upgrades (403) or swallows them (no answer), and it
// can buffer every response whole before passing it on (as proxies that
// buffer streamed responses do, so that an event stream never delivers).
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface BlockingProxy {
  url: string;
  /** Upgrade requests seen. */
  upgrades: number;
  /** What later upgrade requests meet: 'pass' lets them through to the target (the network got better). */
  upgrade: 'refuse' | 'hang' | 'pass';
  /** Uplink POSTs (`/send`) still to be answered 503 with `Retry-After: 1` without reaching the target (a busy node). */
  busySends: number;
  /** Uplink POSTs answered 503 so far. */
  refusedSends: number;
  close(): Promise<void>;
}

export async function startBlockingProxy(target: string, options: { upgrade: 'refuse' | 'hang' | 'pass'; buffer?: boolean; busySends?: number }): Promise<BlockingProxy> {
  const to = new URL(target);
  const hung = new Set<Duplex>();
  const server = http.createServer((req, res) => {
    if (proxy.busySends > 0 && req.method === 'POST' && /\/send\?/.test(req.url ?? '')) {
      proxy.busySends--;
      proxy.refusedSends++;
      req.resume();
      res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' }).end('{"error":"forward_busy"}');
      return;
    }
    const upstream = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: req.headers.host } }, (answer) => {
      if (!options.buffer) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers = { ...answer.headers, 'content-length': String(body.length) };
        delete headers['transfer-encoding'];
        res.writeHead(answer.statusCode ?? 502, headers);
        res.end(body);
      });
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  const proxy: BlockingProxy = {
    url: '',
    upgrades: 0,
    upgrade: options.upgrade,
    busySends: options.busySends ?? 0,
    refusedSends: 0,
    close: async () => {
      for (const s of hung) s.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    proxy.upgrades++;
    socket.on('error', () => {});
    if (proxy.upgrade === 'pass') {
      // The request as it came, then bytes both ways.
      const upstream = net.connect(Number(to.port), to.hostname);
      hung.add(socket).add(upstream);
      upstream.on('error', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
      let request = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) request += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      upstream.write(request + '\r\n');
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    } else if (proxy.upgrade === 'hang') hung.add(socket);
    else socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
