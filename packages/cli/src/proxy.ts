// --proxy (and HTTPS_PROXY / HTTP_PROXY): reach the server through an HTTP
// proxy's CONNECT tunnel (RFC 9110 §9.3.6), as wscat's --proxy does. The
// agent opens the tunnel, then hands the socket (wrapped in TLS for wss://)
// to the library's handshake.
import { Agent, type AgentOptions } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

/** The proxy's answer to CONNECT must end within this many bytes. */
const MAX_PROXY_HEAD = 16 * 1024;

/** An error of the tunnel, with a stable code (PROXY_REFUSED, PROXY_BAD_RESPONSE). */
export class ProxyError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Parses --proxy: "host:port", "http://host:port" or "http://user:pass@host:port". */
export function parseProxyUrl(value: string): URL {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  if (url.protocol !== 'http:') throw new Error(`only http:// proxies are supported (got ${url.protocol}//)`);
  return url;
}

/** The proxy the environment names for `target` (HTTPS_PROXY for wss://, HTTP_PROXY for ws://), unless NO_PROXY excludes it. */
export function proxyFromEnv(target: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  const value = secure ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!value) return undefined;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const excluded = noProxy.some((entry) => {
    if (entry === '*') return true;
    const name = entry.replace(/^\*?\./, '').replace(/:\d+$/, '');
    return host === name || host.endsWith(`.${name}`);
  });
  return excluded ? undefined : value;
}

type OnCreate = (error: Error | null, socket?: Duplex) => void;

export class ConnectProxyAgent extends Agent {
  declare protocol: string;

  constructor(
    private readonly proxy: URL,
    private readonly secure: boolean,
    options: AgentOptions = {},
  ) {
    super({ ...options, keepAlive: false });
    // ClientRequest refuses an agent whose protocol is not the request's.
    this.protocol = secure ? 'https:' : 'http:';
  }

  override createConnection(options: ConnectionOptions & { host?: string; port?: number }, onCreate: OnCreate): undefined {
    const target = `${options.host?.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
    const socket = netConnect(Number(this.proxy.port || 80), this.proxy.hostname.replace(/^\[|\]$/g, ''));
    let done = false;
    const finish = (error: Error | null, result?: Duplex): void => {
      if (done) return;
      done = true;
      if (error) socket.destroy();
      onCreate(error, result);
    };
    socket.on('error', (error) => finish(new ProxyError((error as NodeJS.ErrnoException).code ?? 'PROXY_ERROR', `proxy ${this.proxy.host}: ${error.message}`)));
    const auth =
      this.proxy.username || this.proxy.password
        ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(this.proxy.password)}`).toString('base64')}\r\n`
        : '';
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > MAX_PROXY_HEAD) finish(new ProxyError('PROXY_BAD_RESPONSE', `proxy ${this.proxy.host}: no end to its response head within ${MAX_PROXY_HEAD} bytes`));
        return;
      }
      socket.removeListener('data', onData);
      const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (m === null || m[1]![0] !== '2') {
        const shown = m === null ? JSON.stringify(statusLine.slice(0, 100)) : `HTTP ${m[1]}${m[2] ? ` ${m[2]}` : ''}`;
        finish(new ProxyError('PROXY_REFUSED', `proxy ${this.proxy.host} refused CONNECT ${target}: ${shown}`));
        return;
      }
      socket.pause();
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      finish(null, this.secure ? wrapTls(socket, options) : socket);
      // Paused so that nothing is lost before the request's own listeners are on.
      setImmediate(() => socket.resume());
    };
    socket.on('data', onData);
    return undefined;
  }
}

function wrapTls(socket: Socket, options: ConnectionOptions): Duplex {
  const { ca, cert, key, passphrase, pfx, rejectUnauthorized, servername, host } = options;
  // `host` too: without it the certificate would be checked against "localhost".
  return tlsConnect({ socket, host, ca, cert, key, passphrase, pfx, rejectUnauthorized, servername, ALPNProtocols: ['http/1.1'] });
}
