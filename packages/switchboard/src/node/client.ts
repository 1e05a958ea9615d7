import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type Agent, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { unescape } from 'node:querystring';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions as TlsConnectionOptions, SecureContextOptions } from 'node:tls';
import { HandshakeError, checkUpgradeResponse, deflateOffer, parseProtocolList, type AcceptedUpgrade, type PerMessageDeflateOptions, type UpgradeOffer } from '../protocol/index.js';
import { PerMessageDeflate } from './deflate.js';
import { constants as http2Constants, type SecureClientSessionOptions } from 'node:http2';
import { EMPTY_HEAD, http2RequestHeaders, openStream, type PendingStream } from './http2-client.js';
import { codedError } from '../protocol/switchboard-error.js';
import { WebSocketError, type WebSocketErrorCode } from './errors.js';
import { CREDENTIAL_HEADERS, credentialsFollow, redirectOrigin, refusedRedirect, type RedirectOrigin } from './redirect-policy.js';
import type { ConnectionOptions, WebSocket } from './websocket.js';

/** Client options, named as ws names them. */
export interface ClientOptions extends ConnectionOptions, Pick<SecureContextOptions, 'ca' | 'cert' | 'key' | 'passphrase' | 'pfx'> {
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Value of the Origin header. */
  origin?: string;
  /** Milliseconds allowed for the opening handshake (default: no limit, as in ws). */
  handshakeTimeout?: number;
  followRedirects?: boolean;
  maxRedirects?: number;
  /** Only 13 is supported. */
  protocolVersion?: number;
  agent?: Agent;
  createConnection?: (options: Record<string, unknown>, oncreate?: (error: Error | null, socket: Duplex) => void) => Duplex;
  rejectUnauthorized?: boolean;
  servername?: string;
  /** Offer permessage-deflate (RFC 7692). On by default, as browsers do; false to not offer it. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Called with the handshake request before it is sent, instead of
   * `request.end()` (ws's `finishRequest`): set headers once the socket is
   * there, then call `request.end()` yourself.
   */
  finishRequest?: (request: ClientRequest, ws: WebSocket) => void;
  /**
   * Open a `wss:` WebSocket as a stream of an HTTP/2 connection (RFC 8441):
   * one session per origin, shared by every `http2: true` WebSocket to it
   * and closed 5 s after its last stream. Falls back to HTTP/1.1 when the
   * server does not speak h2 or does not advertise
   * SETTINGS_ENABLE_CONNECT_PROTOCOL. Ignored for `ws:` (browsers never
   * use cleartext HTTP/2), and with `followRedirects`, `agent` (a proxy) or
   * `createConnection`. Default false.
   */
  http2?: boolean;
  /** Any other option is passed to `http.request`/`https.request`. */
  [option: string]: unknown;
}

interface ClientState {
  options: ClientOptions;
  protocols: string[];
  redirects: number;
  request: ClientRequest | null;
  /** With followRedirects: where the first request went, and the caller's headers (lowercased, as ws does) for every hop. */
  origin?: RedirectOrigin;
  redirectHeaders?: Record<string, string>;
  /** With http2: the stream handshake in flight; `tried` once it fell back to HTTP/1.1. */
  http2?: PendingStream & { tried: boolean };
}

const state = new WeakMap<WebSocket, ClientState>();
/** `WebSocket.CLOSING` (client.ts cannot import the class it is imported by at load time). */
const WebSocket_CLOSING = 2;

/** A bad URL: ws's SyntaxError, with our code. */
function urlError(message: string): SyntaxError {
  return codedError(new SyntaxError(message), 'WS_ERR_INVALID_URL');
}

/**
 * Parses and checks a WebSocket URL the way ws does (http/https accepted and
 * mapped to ws/wss). A bad URL is a `SyntaxError`, as in ws; its `name` is
 * the one the WHATWG API's DOMException has, so browser-style checks of
 * `err.name === 'SyntaxError'` hold too.
 */
export function parseWebSocketUrl(address: string | URL): URL {
  let url: URL;
  if (address instanceof URL) {
    url = new URL(address.href);
  } else {
    try {
      url = new URL(address);
    } catch {
      throw urlError(`Invalid URL: ${String(address)}`);
    }
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:' && url.protocol !== 'ws+unix:') {
    throw urlError(`The URL's protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"`);
  }
  if (url.hash) throw urlError('The URL contains a fragment identifier');
  if (url.protocol === 'ws+unix:' && !url.pathname) throw urlError("The URL's pathname is empty");
  return url;
}

/** `WebSocket.connect`; `WebSocketClass` is the class it was called on, so subclasses connect as themselves. */
export function connect(
  WebSocketClass: new (address: string | URL, protocols?: string | string[], options?: ClientOptions) => WebSocket,
  address: string | URL,
  options?: ClientOptions & { protocols?: string | string[] },
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const { protocols, ...rest } = options ?? {};
    const ws = new WebSocketClass(address, protocols as string | string[] | undefined, rest);
    const onError = (error: Error): void => {
      ws.removeListener('open', onOpen);
      reject(error);
    };
    const onOpen = (): void => {
      ws.removeListener('error', onError);
      resolve(ws);
    };
    ws.once('error', onError);
    ws.once('open', onOpen);
  });
}

/** Starts the opening handshake of a client WebSocket. Called from the WebSocket constructor. */
export function initAsClient(ws: WebSocket, address: string | URL, protocols: string | string[] | undefined, options: ClientOptions = {}): void {
  const protocolVersion = options.protocolVersion ?? 13;
  if (protocolVersion !== 13) {
    throw codedError(new RangeError(`Unsupported protocol version: ${String(protocolVersion)} (only 13 is supported)`), 'WS_ERR_INVALID_OPTION');
  }
  const url = parseWebSocketUrl(address);
  // As in ws, null is a subprotocol (an invalid one), not "none".
  const offered = protocols === undefined ? [] : typeof protocols === 'string' || protocols === null ? [protocols] : [...protocols];
  if (offered.length > 0) {
    try {
      const set = parseProtocolList(offered.join(','));
      // parseProtocolList trims around commas; a protocol must be a token as given (no surrounding whitespace).
      if (set.size !== offered.length || offered.some((p) => !set.has(p))) throw new Error('duplicate or not a token');
    } catch {
      throw codedError(new SyntaxError('An invalid or duplicated subprotocol was specified'), 'WS_ERR_INVALID_ARGUMENT');
    }
  }
  ws._url = url.href;
  ws._isServer = false;
  state.set(ws, { options, protocols: offered, redirects: 0, request: null });
  openHandshake(ws, url);
}

function openHandshake(ws: WebSocket, url: URL): void {
  const st = state.get(ws)!;
  const { options } = st;
  const isSecure = url.protocol === 'wss:';
  const isUnix = url.protocol === 'ws+unix:';
  const key = randomBytes(16).toString('base64');
  const [socketPath, route] = isUnix ? splitUnixPath(url.pathname) : [undefined, ''];
  // querystring's unescape, as ws: it leaves a malformed %-sequence as it is where decodeURIComponent would throw.
  let auth = url.username || url.password ? `${unescape(url.username)}:${unescape(url.password)}` : (options.auth as string | undefined);
  let userHeaders = options.headers;
  if (options.followRedirects) ({ userHeaders, auth } = headersForHop(ws, st, url, socketPath, auth));
  const headers: Record<string, string> = {
    ...userHeaders,
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': key,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
  };
  if (st.protocols.length > 0) headers['Sec-WebSocket-Protocol'] = st.protocols.join(',');
  if (options.origin !== undefined) headers.Origin = options.origin;
  const deflateOptions = options.perMessageDeflate === false ? null : options.perMessageDeflate === true || options.perMessageDeflate === undefined ? {} : options.perMessageDeflate;
  if (deflateOptions !== null) headers['Sec-WebSocket-Extensions'] = deflateOffer(deflateOptions);
  const offer: UpgradeOffer = { key, protocols: st.protocols, perMessageDeflate: deflateOptions };
  if (options.http2 === true && isSecure && !options.followRedirects && options.agent === undefined && options.createConnection === undefined && st.http2?.tried !== true) {
    openOverHttp2(ws, url, st, headers, offer, deflateOptions);
    return;
  }

  const {
    headers: _h,
    origin: _o,
    handshakeTimeout,
    followRedirects: _f,
    maxRedirects: _m,
    protocolVersion: _p,
    maxPayload: _mp,
    maxFragments: _mf,
    maxPendingAutoPongs: _mpp,
    disconnectBufferedAmount: _mb,
    skipUTF8Validation: _s,
    autoPong: _a,
    closeTimeout: _c,
    perMessageDeflate: _d,
    maxBufferedChunks: _mbc,
    propagateListenerErrors: _ple,
    generateMask: _gm,
    finishRequest,
    http2: _h2,
    ...requestOptions
  } = options;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const requestInit: Record<string, unknown> = {
    ...requestOptions,
    headers,
    method: 'GET',
    timeout: undefined,
  };
  if (isUnix) {
    // ws+unix:///path/to.sock:/route — the socket path, then the request path after ':'.
    requestInit.socketPath = socketPath;
    requestInit.path = route + url.search;
  } else {
    requestInit.host = host;
    // As ws passes it on (to `createConnection` too): the URL's port as written, else the default as a number.
    requestInit.port = url.port || (isSecure ? 443 : 80);
    requestInit.path = (url.pathname || '/') + url.search;
    if (isSecure && options.servername === undefined && isIP(host) === 0) requestInit.servername = host;
  }
  requestInit.auth = auth;
  const request = (isSecure ? httpsRequest : httpRequest)(requestInit as TlsConnectionOptions);
  st.request = request;
  // As in ws: 'redirect' gets the new request before it is sent, so a listener can still remove (or add) headers.
  if (st.redirects > 0) ws.emit('redirect', ws._url, request);

  if (handshakeTimeout !== undefined) {
    request.setTimeout(handshakeTimeout, () => {
      fail(ws, new WebSocketError('WS_ERR_HANDSHAKE_TIMEOUT', 'Opening handshake has timed out'));
    });
  }
  request.on('error', (error: Error & { code?: string }) => {
    if (st.request !== request) return;
    fail(ws, error);
  });
  request.on('response', (response: IncomingMessage) => {
    if (st.request !== request) return;
    const location = response.headers.location;
    const status = response.statusCode ?? 0;
    if (location && options.followRedirects && status >= 300 && status < 400) {
      response.resume();
      request.destroy();
      if (++st.redirects > (options.maxRedirects ?? 10)) {
        fail(ws, new WebSocketError('WS_ERR_TOO_MANY_REDIRECTS', 'Maximum redirects exceeded'));
        return;
      }
      let next: URL;
      try {
        next = new URL(location, url.href.replace(/^ws/, 'http'));
      } catch {
        fail(ws, urlError(`Invalid URL: ${location}`));
        return;
      }
      try {
        next = parseWebSocketUrl(next);
      } catch (error) {
        // ws's SyntaxErrors: the scheme is not a WebSocket one, a fragment, ...
        fail(ws, error as Error);
        return;
      }
      const refused = refusedRedirect(st.origin!, next);
      if (refused !== null) {
        fail(ws, new WebSocketError('WS_ERR_INVALID_URL', refused));
        return;
      }
      ws._url = next.href;
      openHandshake(ws, next);
      return;
    }
    // Node reports a 101 as 'response' (not 'upgrade') when Upgrade or Connection is missing: name which.
    const error =
      checkResponse(response, offer).error ?? new WebSocketError('WS_ERR_UNEXPECTED_RESPONSE', `Unexpected server response: ${status}`, response);
    if (ws.listenerCount('unexpected-response') > 0) {
      // ws's contract: the listener owns the response and decides what happens next: no 'error',
      // and the connection stays CONNECTING until it calls ws.terminate() (or close()) or destroys the request.
      ws.emit('unexpected-response', request, response);
      return;
    }
    response.resume();
    fail(ws, error);
  });
  request.on('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
    if (st.request !== request) {
      socket.destroy();
      return;
    }
    ws.emit('upgrade', response);
    if (ws.readyState !== 0) {
      socket.destroy();
      return;
    }
    st.request = null;
    const { accepted, error } = checkResponse(response, offer);
    if (accepted === undefined) {
      // As in ws: CLOSING at once, 'error' and 'close' on a later tick (a stream's end() in between still reaches _final).
      socket.destroy();
      ws._closing.state = WebSocket_CLOSING;
      process.nextTick(fail, ws, error);
      return;
    }
    const { deflate } = accepted;
    ws._protocol = accepted.protocol;
    ws._extensions = accepted.extensions;
    ws._attach(socket, head, false, connectionOptions(options, deflate, deflateOptions, false));
    ws.emit('open');
  });
  if (typeof finishRequest === 'function') finishRequest(request, ws);
  else request.end();
}

/** The options of an opened client connection, over a TCP socket or an HTTP/2 stream. */
function connectionOptions(options: ClientOptions, deflate: AcceptedUpgrade['deflate'], deflateOptions: PerMessageDeflateOptions | null, overHttp2: boolean): ConnectionOptions {
  return {
    transform: deflate === null ? null : new PerMessageDeflate(deflate, false, options.maxPayload ?? 100 * 1024 * 1024, deflateOptions!),
    compressThreshold: deflateOptions?.threshold ?? 1024,
    maxPayload: options.maxPayload,
    maxFragments: options.maxFragments,
    maxPendingAutoPongs: options.maxPendingAutoPongs,
    disconnectBufferedAmount: options.disconnectBufferedAmount,
    skipUTF8Validation: options.skipUTF8Validation,
    autoPong: options.autoPong,
    closeTimeout: options.closeTimeout,
    maxBufferedChunks: options.maxBufferedChunks,
    propagateListenerErrors: options.propagateListenerErrors,
    generateMask: options.generateMask,
    overHttp2,
  } as ConnectionOptions;
}

/** The opening handshake as an RFC 8441 stream (http2-client.ts); HTTP/1.1 again if the server does not offer it. */
function openOverHttp2(ws: WebSocket, url: URL, st: ClientState, headers: Record<string, string>, offer: UpgradeOffer, deflateOptions: PerMessageDeflateOptions | null): void {
  const { options } = st;
  const pending = { stream: null, cancelled: false, tried: true };
  st.http2 = pending;
  const tls: SecureClientSessionOptions = {};
  for (const name of ['ca', 'cert', 'key', 'passphrase', 'pfx', 'rejectUnauthorized', 'servername'] as const) {
    if (options[name] !== undefined) (tls as Record<string, unknown>)[name] = options[name];
  }
  const shared = options.ca === undefined && options.cert === undefined && options.key === undefined && options.pfx === undefined;
  let timer: NodeJS.Timeout | null = null;
  if (options.handshakeTimeout !== undefined) {
    timer = setTimeout(() => fail(ws, new WebSocketError('WS_ERR_HANDSHAKE_TIMEOUT', 'Opening handshake has timed out')), options.handshakeTimeout);
  }
  openStream({ url, headers: http2RequestHeaders(headers), offer, tls, shared }, pending, (outcome) => {
    if (timer !== null) clearTimeout(timer);
    if (pending.cancelled || ws.readyState !== 0) {
      if (outcome.kind === 'open') outcome.stream.close(http2Constants.NGHTTP2_CANCEL);
      return;
    }
    pending.stream = null;
    if (outcome.kind === 'fallback') {
      openHandshake(ws, url);
    } else if (outcome.kind === 'error') {
      fail(ws, outcome.error);
    } else {
      const { accepted, stream } = outcome;
      ws._protocol = accepted.protocol;
      ws._extensions = accepted.extensions;
      ws._attach(stream, EMPTY_HEAD, false, connectionOptions(options, accepted.deflate, deflateOptions, true));
      ws.emit('open');
    }
  });
}

/**
 * The caller's headers and credentials for one request of a handshake that
 * follows redirects, by ws 8's (and curl 7.77's) rules: on a redirect to
 * another host (or socket), or from wss: to ws:, `Authorization`, `Cookie`
 * and the userinfo/`auth` credentials are dropped (and `Host` too on another
 * host), unless a 'redirect' listener is there to decide for itself.
 */
function headersForHop(
  ws: WebSocket,
  st: ClientState,
  url: URL,
  socketPath: string | undefined,
  auth: string | undefined,
): { userHeaders: Record<string, string>; auth: string | undefined } {
  if (st.redirects === 0 || st.origin === undefined || st.redirectHeaders === undefined) {
    st.origin = redirectOrigin(url, socketPath);
    st.redirectHeaders = Object.create(null) as Record<string, string>;
    for (const [name, value] of Object.entries(st.options.headers ?? {})) st.redirectHeaders[name.toLowerCase()] = value;
  }
  const userHeaders = { ...st.redirectHeaders };
  if (st.redirects > 0 && ws.listenerCount('redirect') === 0) {
    const { sameHost, keep } = credentialsFollow(st.origin, url, socketPath);
    if (!keep) {
      for (const name of CREDENTIAL_HEADERS) delete userHeaders[name];
      auth = undefined;
    }
    if (!sameHost) delete userHeaders.host;
  }
  // The first Authorization wins (curl 7.77, ws); credentials from the URL or `auth` become that
  // header for the next hops, so that a redirect elsewhere drops them with it.
  if (auth && st.redirectHeaders.authorization === undefined) st.redirectHeaders.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  return { userHeaders, auth };
}

function splitUnixPath(pathname: string): [string, string] {
  const colon = pathname.indexOf(':');
  if (colon === -1) return [pathname, '/'];
  return [pathname.slice(0, colon), pathname.slice(colon + 1) || '/'];
}

/** The server's answer checked by protocol/handshake.ts; a refusal becomes the WebSocketError (with the response) the client reports. */
function checkResponse(response: IncomingMessage, offer: UpgradeOffer): { accepted: AcceptedUpgrade; error?: undefined } | { accepted?: undefined; error: WebSocketError } {
  try {
    return { accepted: checkUpgradeResponse({ status: response.statusCode ?? 0, headers: response.headers }, offer) };
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    return { error: new WebSocketError(error.code as WebSocketErrorCode, error.message, response) };
  }
}

/** The handshake request in flight (ws's `ws._req`), or null. */
export function handshakeRequest(ws: WebSocket): ClientRequest | null {
  return state.get(ws)?.request ?? null;
}

/** Redirects followed so far (ws's `ws._redirects`). */
export function redirectsFollowed(ws: WebSocket): number {
  return state.get(ws)?.redirects ?? 0;
}

/** Aborts a handshake in flight (close() or terminate() while connecting). */
export function abortHandshake(ws: WebSocket): void {
  const st = state.get(ws);
  const request = st?.request ?? null;
  if (st) st.request = null;
  destroyRequest(request);
  fail(ws, new WebSocketError('WS_ERR_ABORTED', 'WebSocket was closed before the connection was established'));
}

/**
 * Destroys a handshake request and its socket: a request whose response was
 * read already (an unexpected-response listener read the body) no longer
 * takes its socket down with it, and a keep-alive socket would hold the
 * server open (as ws does, nodejs/node#33237).
 */
function destroyRequest(request: ClientRequest | null): void {
  if (request === null) return;
  request.destroy();
  if (request.socket && !request.socket.destroyed) request.socket.destroy();
}

/** Fails a connection that never opened: 'error', then 'close' with 1006 (as browsers and ws do). */
function fail(ws: WebSocket, error: Error): void {
  const st = state.get(ws);
  if (st) {
    destroyRequest(st.request);
    st.request = null;
    if (st.http2 !== undefined && st.http2.stream === null && !st.http2.cancelled) st.http2.cancelled = true;
    else if (st.http2?.stream) {
      st.http2.cancelled = true;
      st.http2.stream.close(http2Constants.NGHTTP2_CANCEL);
      st.http2.stream = null;
    }
  }
  if (ws.readyState === 3) return;
  ws._failBeforeOpen(error);
}
