// The playground's relay: what a browser cannot do, done by this process on
// the page's behalf. The page opens a WebSocket to RELAY_PATH on the server
// that served it and asks (first message) for a connection to a target URL
// with request headers of its choosing; the relay opens it with Switchboard's
// client, passes messages both ways, and reports what the browser's own
// WebSocket hides: the HTTP response to the opening handshake (101 or not),
// and the ping and pong frames. See playground-protocol.ts for the messages.
//
// A relay that connects anywhere for anyone is an open proxy: anybody who can
// reach it could use this machine to reach hosts on its network (or its own
// loopback-only services, with headers of their choosing). So:
// - targets are loopback only (127.0.0.0/8, ::1, localhost) unless listed
//   with --relay-allow (or "*" for any host);
// - only clients on this machine may use it (the peer address is loopback),
//   and not through a proxy on this machine (a request with Forwarded,
//   X-Forwarded-For, X-Real-IP or Via comes from somewhere else);
// - a request must come from a page of this server: an Origin (browsers
//   always send one with a WebSocket) equal to the Host it asked for, which
//   names it by IP address or "localhost"; that stops other web sites,
//   including through DNS rebinding, and clients that are not a page at all.
// - the relay cannot be pointed at itself, nor at any relay: a page may not
//   set the headers the relay's own checks trust (Origin, Host, forwarding
//   headers, Sec-WebSocket-*), and a target at RELAY_PATH is refused, so one
//   page connection cannot build a chain of relays inside this process.
// What a page asks for is bounded (URL length, header count and size, control
// message size, one upstream connection per page connection, MAX_RELAY_SESSIONS
// in all, bytes waiting to go upstream), and nothing the relay does with it is
// worse than linear.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, refuseStream, refuseUpgrade } from 'switchboard';
import {
  BODY_LIMIT,
  DATA_BINARY,
  DATA_TEXT,
  FORWARDING_HEADERS,
  RELAY_PATH,
  reservedHeaderProblem,
  type PageToRelay,
  type RelayConnect,
  type RelayToPage,
} from '../shared/playground-protocol.js';

export interface RelayOptions {
  /** Hostnames (lowercase) the relay may connect to besides loopback; "*" allows any. */
  allow: string[];
  /** Largest message either way. */
  maxPayload: number;
  /**
   * The serving certificate (PEM) of the server the relay runs in, trusted
   * for upstream wss:// connections besides the system's CAs: with a
   * self-signed --tls-cert, the page can reach its own server through the relay.
   */
  trust?: Buffer;
  /** Reports relay sessions (opened, refused, closed) to the server's log. */
  log?: (event: string, fields: Record<string, string | number | undefined>) => void;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Upstream connections open at once through one relay (each page connection has at most one). More: `RELAY_BUSY`, close 1013. */
export const MAX_RELAY_SESSIONS = 32;
/** Bytes a page's messages may wait to be written upstream (a target that does not read): past it, the upstream connection fails (1013). */
export const MAX_RELAY_UPSTREAM_BUFFERED = 16 * 1024 * 1024; // the library's disconnectBufferedAmount default for servers
/** Largest control message (JSON text frame) from a page: a connect with its headers fits many times over. Larger: 1009. */
export const MAX_CONTROL_MESSAGE_BYTES = 256 * 1024;
/** Longest target URL a page may ask for (browsers and servers rarely take more than 8 KiB). */
export const MAX_TARGET_URL_CHARS = 8192;
/** Most request headers a page may add, and the most bytes of names and values together (a server's head limit is 8-16 KiB). */
export const MAX_RELAY_HEADERS = 100;
export const MAX_RELAY_HEADER_BYTES = 64 * 1024;
/** How much of a page's input a refusal message quotes. */
const QUOTE_CHARS = 200;

/** 127.0.0.0/8, ::1 (also IPv4-mapped), "localhost". `hostname` as in a URL (IPv6 in brackets or not). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) {
    if (host === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(host)) return true;
    // ::ffff:127.x.y.z, which URL parsing writes as ::ffff:7fxx:yyzz
    return /^::ffff:(127\.|7f[0-9a-f]{2}:)/.test(host);
  }
  return false;
}

/** Whether the relay may connect to `target`; the reason when not. */
export function checkTarget(target: string, allow: readonly string[]): { url: URL } | { refused: string } {
  if (target.length > MAX_TARGET_URL_CHARS) return { refused: `the URL is longer than ${MAX_TARGET_URL_CHARS} characters` };
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { refused: `not a URL: ${quote(target)}` };
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return { refused: `the relay connects to ws:// and wss:// URLs only, not ${url.protocol}` };
  if (url.hash) url.hash = '';
  // A relay's path, on this server or another: a relay reached through a relay would chain (each hop one more connection in this process).
  if (url.pathname === RELAY_PATH) return { refused: `the relay does not connect to a relay (${RELAY_PATH})` };
  const host = url.hostname.toLowerCase();
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (isLoopbackHost(host) || allow.includes('*') || allow.includes(host) || allow.includes(bare)) return { url };
  return {
    refused: `the relay connects only to this machine (127.0.0.0/8, ::1, localhost) and hosts allowed with --relay-allow; ${url.hostname} is neither (start the server with --relay-allow ${url.hostname} to allow it)`,
  };
}

/** Why a client may not use the relay, or null when it may. */
export function checkRelayClient(req: IncomingMessage, secure: boolean): string | null {
  const remote = req.socket.remoteAddress ?? '';
  if (!isLoopbackHost(remote)) return 'the relay serves only pages opened on this machine';
  // A proxy on this machine makes every client look local: a forwarded request is not from this machine.
  if (FORWARDING_HEADERS.some((name) => req.headers[name] !== undefined)) return 'the relay does not serve requests forwarded by a proxy';
  // Over HTTP/2 the Host header's part is played by :authority (RFC 9113 section 8.3.1), which browsers send instead.
  const authority = req.headers[':authority'];
  const hostHeader = (typeof authority === 'string' ? authority : req.headers.host) ?? '';
  let hostname: string;
  try {
    hostname = new URL(`http://${hostHeader}`).hostname;
  } catch {
    return 'bad Host header';
  }
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  if (hostname !== 'localhost' && isIP(bare) === 0) return 'the page must be opened as localhost or by IP address to use the relay';
  const origin = req.headers.origin;
  if (origin === undefined) return 'the relay serves only pages of this server (the request has no Origin)';
  if (origin !== `${secure ? 'https' : 'http'}://${hostHeader}`) return 'the relay serves only pages of this server';
  return null;
}

function parseConnect(message: unknown): RelayConnect | string {
  if (typeof message !== 'object' || message === null) return 'expected a JSON object';
  const m = message as Partial<RelayConnect>;
  if (typeof m.url !== 'string') return 'url must be a string';
  const protocols = m.protocols ?? [];
  if (!Array.isArray(protocols) || protocols.some((p) => typeof p !== 'string' || !TOKEN.test(p))) {
    return 'protocols must be tokens (letters, digits, !#$%&\'*+-.^_`|~)';
  }
  const headers = m.headers ?? [];
  if (!Array.isArray(headers)) return 'headers must be a list of [name, value]';
  if (headers.length > MAX_RELAY_HEADERS) return `at most ${MAX_RELAY_HEADERS} request headers`;
  let headerBytes = 0;
  for (const pair of headers) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return 'headers must be a list of [name, value]';
    headerBytes += pair[0].length + pair[1].length;
    if (headerBytes > MAX_RELAY_HEADER_BYTES) return `the request headers are larger than ${MAX_RELAY_HEADER_BYTES} bytes`;
    if (!TOKEN.test(pair[0])) return `not a header name: ${JSON.stringify(quote(pair[0]))}`;
    if (/[\r\n\0]/.test(pair[1])) return `the value of ${pair[0]} has a line break or NUL`;
    const reserved = reservedHeaderProblem(pair[0]);
    if (reserved !== null) return reserved;
  }
  return { type: 'connect', url: m.url, protocols: protocols as string[], headers: headers as Array<[string, string]> };
}

/** Pairs of raw headers, as received. */
function headerPairs(res: IncomingMessage): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
  return pairs;
}

/** At most QUOTE_CHARS characters of a page's input, for a message about it. */
function quote(text: string): string {
  return text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text;
}

/** A close reason of at most 123 bytes (RFC 6455 section 5.5): whole code points, then "…" when cut. Linear in the kept part. */
export function shortReason(text: string): string {
  const limit = 123;
  if (text.length <= limit / 3 || Buffer.byteLength(text) <= limit) return text;
  const room = limit - 3; // "…" is 3 bytes of UTF-8
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > room) break;
    bytes += size;
    end += char.length;
  }
  return `${text.slice(0, end)}…`;
}

export class PlaygroundRelay {
  private readonly wss: WebSocketServer;
  private readonly upstreams = new Set<WebSocket>();
  private nextId = 0;

  /** The CAs upstream connections trust: the system's plus options.trust (Node's `ca` replaces the defaults, so they are listed). */
  private readonly trusted: string[] | undefined;

  constructor(private readonly options: RelayOptions) {
    this.trusted = options.trust === undefined ? undefined : [...rootCertificates, options.trust.toString('utf8')];
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload + 1, perMessageDeflate: false });
  }

  /** Takes an upgrade request for RELAY_PATH. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, secure: boolean): void {
    const problem = checkRelayClient(req, secure);
    if (problem !== null) {
      this.options.log?.('relay-refused', { remote: req.socket.remoteAddress, reason: problem });
      refuseUpgrade(socket, 403, `Forbidden: ${problem}\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (page) => this.session(page));
  }

  /** Takes an RFC 8441 WebSocket stream for RELAY_PATH: a page loaded over HTTP/2 opens its relay connection so. */
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, req: Http2ServerRequest): void {
    const request = req as unknown as IncomingMessage;
    // Only TLS serves HTTP/2 here (browsers speak it over TLS only).
    const problem = checkRelayClient(request, true);
    if (problem !== null) {
      this.options.log?.('relay-refused', { remote: req.socket.remoteAddress, reason: problem });
      refuseStream(stream, 403, `Forbidden: ${problem}\n`);
      return;
    }
    this.wss.handleStream(stream, headers, (page) => this.session(page, true), req);
  }

  /** Closes every relayed connection (1001) and every page connected to the relay. */
  async shutdown(timeout: number): Promise<void> {
    for (const upstream of this.upstreams) {
      if (upstream.readyState === WebSocket.OPEN) upstream.close(1001, 'relay shutting down');
      else upstream.terminate();
    }
    await this.wss.shutdown({ code: 1001, reason: 'server shutting down', timeout });
    for (const upstream of this.upstreams) upstream.terminate();
  }

  /** `pageOverHttp2`: the page's connection is an HTTP/2 stream (shown in the log as `page HTTP/2`). */
  private session(page: WebSocket, pageOverHttp2 = false): void {
    const id = ++this.nextId;
    const log = this.options.log;
    let upstream: WebSocket | null = null;
    let target = '';
    let finished = false;
    let bodyRead: Promise<void> = Promise.resolve();
    const send = (message: RelayToPage): void => {
      if (page.readyState === WebSocket.OPEN) page.send(JSON.stringify(message));
    };
    /** Ends the session with an error of the relay's own (no upstream close to report): 1008, or 1009 for a message too big. */
    const refuse = (code: string, message: string, closeCode = 1008): void => {
      finished = true;
      log?.('relay-refused', { relay: id, target: target ? quote(target) : undefined, reason: message });
      send({ type: 'error', code, message });
      page.close(closeCode, shortReason(message));
      upstream?.terminate();
    };

    page.on('error', () => {});
    page.on('close', () => {
      if (upstream === null) return;
      if (upstream.readyState === WebSocket.OPEN) upstream.close(1000, '');
      else if (upstream.readyState === WebSocket.CONNECTING) upstream.terminate();
    });
    page.on('message', (data: Buffer, isBinary: boolean) => {
      if (finished) return;
      if (isBinary) {
        if (upstream === null || upstream.readyState !== WebSocket.OPEN) {
          send({ type: 'error', code: 'RELAY_NOT_OPEN', message: 'the upstream connection is not open; the message was not sent' });
          return;
        }
        const tag = data[0];
        if (tag !== DATA_TEXT && tag !== DATA_BINARY) {
          send({ type: 'error', code: 'RELAY_BAD_REQUEST', message: `unknown data tag ${String(tag)}` });
          return;
        }
        upstream.send(data.subarray(1), { binary: tag === DATA_BINARY });
        return;
      }
      if (data.length > MAX_CONTROL_MESSAGE_BYTES) {
        refuse('RELAY_BAD_REQUEST', `control messages are at most ${MAX_CONTROL_MESSAGE_BYTES} bytes`, 1009);
        return;
      }
      let message: PageToRelay;
      try {
        message = JSON.parse(data.toString('utf8')) as PageToRelay;
      } catch {
        refuse('RELAY_BAD_REQUEST', 'control messages are JSON');
        return;
      }
      if (message.type === 'connect') {
        if (upstream !== null) {
          send({ type: 'error', code: 'RELAY_BAD_REQUEST', message: 'already connected' });
          return;
        }
        const connect = parseConnect(message);
        if (typeof connect === 'string') {
          refuse('RELAY_BAD_REQUEST', connect);
          return;
        }
        target = connect.url;
        const checked = checkTarget(connect.url, this.options.allow);
        if ('refused' in checked) {
          refuse('RELAY_REFUSED', checked.refused);
          return;
        }
        if (this.upstreams.size >= MAX_RELAY_SESSIONS) {
          refuse('RELAY_BUSY', `the relay has ${MAX_RELAY_SESSIONS} connections open already; close one and try again`, 1013);
          return;
        }
        const sendData = (framed: Buffer): void => {
          if (page.readyState === WebSocket.OPEN) page.send(framed, { binary: true });
        };
        upstream = this.open(id, checked.url, connect, send, sendData, (p) => (bodyRead = p), pageOverHttp2);
        upstream.on('close', (code: number, reason: Buffer) => {
          this.upstreams.delete(upstream!);
          log?.('relay-close', { relay: id, target: checked.url.href, code });
          void Promise.race([bodyRead, new Promise((r) => setTimeout(r, 1000))]).then(() => {
            finished = true;
            send({ type: 'close', code, reason: reason.toString('utf8'), wasClean: code !== 1006 });
            page.close(1000, 'upstream closed');
          });
        });
      } else if (message.type === 'close') {
        if (upstream === null || upstream.readyState === WebSocket.CLOSED) return;
        try {
          if (upstream.readyState === WebSocket.CONNECTING) upstream.terminate();
          else upstream.close(message.code, message.reason);
        } catch (error) {
          send({ type: 'error', code: 'RELAY_BAD_REQUEST', message: (error as Error).message });
        }
      } else if (message.type === 'ping' || message.type === 'pong') {
        if (upstream === null || upstream.readyState !== WebSocket.OPEN) {
          send({ type: 'error', code: 'RELAY_NOT_OPEN', message: `the upstream connection is not open; the ${message.type} was not sent` });
          return;
        }
        const payload = Buffer.from(typeof message.data === 'string' ? message.data : '', 'hex');
        if (payload.length > 125) {
          send({ type: 'error', code: 'RELAY_BAD_REQUEST', message: `a ${message.type} carries at most 125 bytes` });
          return;
        }
        if (message.type === 'ping') upstream.ping(payload);
        else upstream.pong(payload);
      } else {
        send({ type: 'error', code: 'RELAY_BAD_REQUEST', message: `unknown message type ${JSON.stringify((message as { type?: unknown }).type)}` });
      }
    });
  }

  private open(
    id: number,
    url: URL,
    connect: RelayConnect,
    send: (message: RelayToPage) => void,
    sendData: (framed: Buffer) => void,
    onBody: (read: Promise<void>) => void,
    pageOverHttp2: boolean,
  ): WebSocket {
    // Repeated names (in any case) are joined under the first spelling; a Map keeps this linear.
    const byLowerName = new Map<string, [string, string]>();
    for (const [name, value] of connect.headers) {
      const existing = byLowerName.get(name.toLowerCase());
      if (existing !== undefined) existing[1] = `${existing[1]}, ${value}`;
      else byLowerName.set(name.toLowerCase(), [name, value]);
    }
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [name, value] of byLowerName.values()) headers[name] = value;
    this.options.log?.('relay-connect', { relay: id, target: url.href, headers: connect.headers.map(([n]) => n).join(', ') || undefined, page: pageOverHttp2 ? 'HTTP/2' : undefined });
    const upstream = new WebSocket(url.href, connect.protocols, {
      headers,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      maxPayload: this.options.maxPayload,
      // The page's side is a server connection, bounded by the same default; this bounds the other way.
      disconnectBufferedAmount: MAX_RELAY_UPSTREAM_BUFFERED,
      ...(this.trusted !== undefined ? { ca: this.trusted } : {}),
    });
    this.upstreams.add(upstream);
    upstream.on('upgrade', (res: IncomingMessage) => {
      send({ type: 'handshake', status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', httpVersion: res.httpVersion, headers: headerPairs(res) });
    });
    let refused = false;
    upstream.on('unexpected-response', (req: { destroy(): void }, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      onBody(
        new Promise<void>((resolve) => {
          const done = (): void => {
            const body = Buffer.concat(chunks).subarray(0, BODY_LIMIT).toString('utf8');
            send({ type: 'handshake', status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', httpVersion: res.httpVersion, headers: headerPairs(res), body });
            // The listener owns the failed handshake (as in ws): the page hears why, then the attempt ends (its abort is not news).
            send({ type: 'error', code: 'WS_ERR_UNEXPECTED_RESPONSE', message: `Unexpected server response: ${res.statusCode ?? 0}` });
            refused = true;
            req.destroy();
            upstream.terminate();
            resolve();
          };
          res.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            size += chunk.length;
            if (size >= BODY_LIMIT) {
              res.removeAllListeners('data');
              res.removeAllListeners('end');
              done();
            }
          });
          res.on('end', done);
          res.on('error', done);
          res.on('aborted', done);
        }),
      );
    });
    upstream.on('open', () => {
      this.options.log?.('relay-open', { relay: id, target: url.href, protocol: upstream.protocol || undefined });
      send({ type: 'open', url: upstream.url, protocol: upstream.protocol, extensions: upstream.extensions });
    });
    upstream.on('message', (data: Buffer, isBinary: boolean) => {
      const framed = Buffer.allocUnsafe(data.length + 1);
      framed[0] = isBinary ? DATA_BINARY : DATA_TEXT;
      data.copy(framed, 1);
      sendData(framed);
    });
    upstream.on('ping', (data: Buffer) => send({ type: 'ping', data: data.toString('hex') }));
    upstream.on('pong', (data: Buffer) => send({ type: 'pong', data: data.toString('hex') }));
    upstream.on('error', (error: Error & { code?: string }) => {
      if (refused && error.code === 'WS_ERR_ABORTED') return;
      send({ type: 'error', code: error.code ?? 'ERROR', message: error.message });
    });
    return upstream;
  }
}
