// The client options `switchboard connect` (and `replay`) build from their
// flags: headers, TLS (--ca, --cert/--key/--passphrase, --insecure),
// --auth, redirects (-L, --max-redirects) and the proxy (--proxy or the
// environment's HTTPS_PROXY / HTTP_PROXY).
import type { ClientOptions } from 'switchboard';
import { UsageError } from './options.js';
import { ConnectProxyAgent, parseProxyUrl, proxyFromEnv } from './proxy.js';
import { readOption } from './serve.js';

export interface ClientFlags {
  headers: Array<[string, string]>;
  origin?: string;
  insecure: boolean;
  ca?: string;
  /** --cert / --key / --passphrase: a client certificate (PEM). */
  cert?: string;
  key?: string;
  passphrase?: string;
  /** --auth user:pass: HTTP Basic authentication. */
  auth?: string;
  /** --proxy: an HTTP proxy that speaks CONNECT; undefined: HTTPS_PROXY / HTTP_PROXY; false (--no-proxy): none. */
  proxy?: string | false;
  /** -L: follow redirects, at most maxRedirects of them. */
  location?: boolean;
  maxRedirects?: number;
  deflate: boolean;
  /** Seconds the opening handshake may take. */
  handshakeTimeout: number;
  /** --http2: open wss:// WebSockets as HTTP/2 streams (RFC 8441) where the server offers it. */
  http2?: boolean;
}

/** How long to wait for the server's answer to our close frame before dropping the connection. */
const CLOSE_TIMEOUT_MS = 5000;

export function buildClientOptions(flags: ClientFlags, url: string): ClientOptions {
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new UsageError('--cert and --key go together');
  if (flags.auth !== undefined && !flags.auth.includes(':')) throw new UsageError('--auth expects user:password');
  const options: ClientOptions = {
    headers: headerObject(flags.headers),
    perMessageDeflate: flags.deflate,
    handshakeTimeout: flags.handshakeTimeout * 1000,
    closeTimeout: CLOSE_TIMEOUT_MS,
    ...(flags.origin !== undefined ? { origin: flags.origin } : {}),
    ...(flags.insecure ? { rejectUnauthorized: false } : {}),
    ...(flags.ca !== undefined ? { ca: readOption('--ca', flags.ca) } : {}),
    ...(flags.cert !== undefined ? { cert: readOption('--cert', flags.cert), key: readOption('--key', flags.key!) } : {}),
    ...(flags.passphrase !== undefined ? { passphrase: flags.passphrase } : {}),
    ...(flags.auth !== undefined ? { auth: flags.auth } : {}),
    ...(flags.location ? { followRedirects: true, maxRedirects: flags.maxRedirects ?? 10 } : {}),
    ...(flags.http2 === true ? { http2: true } : {}),
  };
  let target: URL | null = null;
  try {
    target = new URL(url);
  } catch {
    // The WebSocket constructor reports the bad URL.
  }
  const proxy = flags.proxy === false || target === null || target.protocol === 'ws+unix:' ? undefined : (flags.proxy ?? proxyFromEnv(target));
  if (proxy !== undefined) {
    let proxyUrl: URL;
    try {
      proxyUrl = parseProxyUrl(proxy);
    } catch (error) {
      throw new UsageError(`invalid proxy ${proxy}: ${(error as Error).message}`);
    }
    options.agent = new ConnectProxyAgent(proxyUrl, target!.protocol === 'wss:' || target!.protocol === 'https:');
  }
  return options;
}

/** -H values as a headers object; a repeated name gets its values joined with ", ". */
export function headerObject(pairs: Array<[string, string]>): Record<string, string> {
  const headers: Record<string, string> = {};
  const names = new Map<string, string>();
  for (const [name, value] of pairs) {
    const key = names.get(name.toLowerCase()) ?? name;
    names.set(name.toLowerCase(), key);
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return headers;
}
