import { Buffer } from 'node:buffer';
import { connect as http2Connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import { HandshakeError, checkUpgradeResponse, computeAcceptKey, type AcceptedUpgrade, type UpgradeOffer } from '../protocol/index.js';
import { WebSocketError, type WebSocketErrorCode } from './errors.js';

/**
 * The client's side of RFC 8441: WebSockets as extended CONNECT streams of
 * one HTTP/2 session per origin, shared by every `http2: true` WebSocket to
 * that origin and closed once it has carried no stream for `IDLE_TIMEOUT`.
 */

/** Milliseconds an HTTP/2 session with no WebSocket left stays open for the next one. */
export const HTTP2_IDLE_TIMEOUT = 5_000;
/**
 * Receive windows of our sessions: 1 MiB per stream and 16 MiB per session
 * (Node's default is 65,535 bytes, RFC 9113's initial value, which makes a
 * multi-MiB message wait for many WINDOW_UPDATE round trips).
 */
export const HTTP2_STREAM_WINDOW = 1024 * 1024;
export const HTTP2_SESSION_WINDOW = 16 * 1024 * 1024;
/** Most origins remembered as not offering WebSockets over HTTP/2 (then forgotten all at once). */
const MAX_REMEMBERED_ORIGINS = 1000;

interface SharedSession {
  session: ClientHttp2Session;
  /** Resolves true once the server's SETTINGS allow extended CONNECT, false if they do not or the session failed first. */
  ready: Promise<boolean>;
  streams: number;
  idleTimer: NodeJS.Timeout | null;
}

const sessions = new Map<string, SharedSession>();
/** Origins whose server answered without SETTINGS_ENABLE_CONNECT_PROTOCOL or without h2: straight to HTTP/1.1 next time. */
const http1Origins = new Set<string>();

/** What a stream handshake needs (client.ts prepares it as for HTTP/1.1). */
export interface StreamHandshake {
  url: URL;
  /** Request headers (lower case), without the ones HTTP/2 forbids. */
  headers: Record<string, string>;
  offer: UpgradeOffer;
  /** TLS options of the session (ca, rejectUnauthorized, servername...). */
  tls: SecureClientSessionOptions;
  /** Whether the session may be shared (no per-socket TLS identity or agent was given). */
  shared: boolean;
}

export type StreamOutcome =
  | { kind: 'open'; stream: ClientHttp2Stream; accepted: AcceptedUpgrade }
  | { kind: 'fallback' }
  | { kind: 'error'; error: Error };

/** A stream handshake in flight, so that close() while connecting can cancel it. */
export interface PendingStream {
  stream: ClientHttp2Stream | null;
  cancelled: boolean;
}

function originKey(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** Sessions are shared between sockets to one origin with the same certificate checks. */
function sessionKey(url: URL, tls: SecureClientSessionOptions): string {
  return `${originKey(url)} ${tls.rejectUnauthorized === false ? 'unchecked' : 'checked'} ${tls.servername ?? ''}`;
}

/** Connections that fail in ways a plain HTTP/1.1 server causes (no h2 in ALPN). */
function meansNoHttp2(error: Error & { code?: string }): boolean {
  const code = error.code ?? '';
  return code.includes('NO_APPLICATION_PROTOCOL') || code.includes('ALPN') || code === 'ERR_HTTP2_ERROR';
}

function openSession(url: URL, tls: SecureClientSessionOptions, key: string | null): SharedSession {
  const session = http2Connect(url.origin.replace(/^wss:/, 'https:'), {
    ...tls,
    settings: { initialWindowSize: HTTP2_STREAM_WINDOW },
  });
  const entry: SharedSession = { session, ready: Promise.resolve(false), streams: 0, idleTimer: null };
  entry.ready = new Promise<boolean>((resolve) => {
    const onError = (error: Error): void => {
      if (meansNoHttp2(error)) rememberHttp1(url);
      resolve(false);
    };
    session.once('error', onError);
    session.once('close', () => resolve(false));
    session.once('remoteSettings', (settings) => {
      session.removeListener('error', onError);
      if (settings.enableConnectProtocol !== true) rememberHttp1(url);
      resolve(settings.enableConnectProtocol === true);
    });
  });
  // From now on a session error is reported through its streams (each stream then gets 'error' or 'close').
  session.on('error', ignore);
  session.once('connect', () => session.setLocalWindowSize(HTTP2_SESSION_WINDOW));
  session.once('close', () => {
    if (key !== null && sessions.get(key) === entry) sessions.delete(key);
    if (entry.idleTimer !== null) clearTimeout(entry.idleTimer);
  });
  return entry;
}

function rememberHttp1(url: URL): void {
  if (http1Origins.size >= MAX_REMEMBERED_ORIGINS) http1Origins.clear();
  http1Origins.add(originKey(url));
}

function ignore(): void {}

/** The session is in use: it keeps the process alive and is not closed for idleness. */
function retain(entry: SharedSession): void {
  entry.streams++;
  if (entry.idleTimer !== null) {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = null;
  }
  entry.session.ref();
}

/** A stream closed: a shared session with no stream left closes after the idle timeout, a private one at once. */
function release(entry: SharedSession, shared: boolean): void {
  if (--entry.streams > 0) return;
  if (!shared) {
    entry.session.close();
    return;
  }
  entry.session.unref();
  entry.idleTimer = setTimeout(() => entry.session.close(), HTTP2_IDLE_TIMEOUT);
  entry.idleTimer.unref();
}

/**
 * Opens a WebSocket as an extended CONNECT stream (RFC 8441 sections 4-5)
 * and reports the outcome: open (the stream and what was agreed), fallback
 * (the server does not offer it: use HTTP/1.1), or the error that refused it.
 */
export function openStream(handshake: StreamHandshake, pending: PendingStream, done: (outcome: StreamOutcome) => void): void {
  const { url } = handshake;
  const key = sessionKey(url, handshake.tls);
  if (http1Origins.has(originKey(url))) {
    done({ kind: 'fallback' });
    return;
  }
  let entry = handshake.shared ? sessions.get(key) : undefined;
  if (entry === undefined || entry.session.closed || entry.session.destroyed) {
    entry = openSession(url, handshake.tls, handshake.shared ? key : null);
    if (handshake.shared) sessions.set(key, entry);
  }
  const session = entry;
  retain(session);
  void session.ready.then((supported) => {
    if (pending.cancelled) {
      release(session, handshake.shared);
      return;
    }
    if (!supported || session.session.closed || session.session.destroyed) {
      release(session, handshake.shared);
      done({ kind: 'fallback' });
      return;
    }
    let stream: ClientHttp2Stream;
    try {
      stream = session.session.request({
        ...handshake.headers,
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': 'https',
        ':authority': url.host,
        ':path': (url.pathname || '/') + url.search,
        'sec-websocket-version': '13',
      });
    } catch (error) {
      release(session, handshake.shared);
      done({ kind: 'error', error: error as Error });
      return;
    }
    pending.stream = stream;
    stream.once('close', () => release(session, handshake.shared));
    let answered = false;
    stream.on('error', (error: Error) => {
      if (answered) return;
      answered = true;
      done({ kind: 'error', error });
    });
    stream.once('response', (headers: IncomingHttpHeaders) => {
      if (answered) return;
      answered = true;
      const status = Number(headers[':status']);
      if (status !== 200) {
        stream.close(constants.NGHTTP2_CANCEL);
        done({ kind: 'error', error: new WebSocketError('WS_ERR_UNEXPECTED_RESPONSE', `Unexpected server response: ${status}`) });
        return;
      }
      try {
        done({ kind: 'open', stream, accepted: checkStreamResponse(headers, handshake.offer) });
      } catch (error) {
        stream.close(constants.NGHTTP2_CANCEL);
        if (!(error instanceof HandshakeError)) throw error;
        done({ kind: 'error', error: new WebSocketError(error.code as WebSocketErrorCode, error.message) });
      }
    });
    stream.once('end', () => {
      if (answered) return;
      answered = true;
      done({ kind: 'error', error: new WebSocketError('WS_ERR_UNEXPECTED_RESPONSE', 'The server ended the stream without an answer') });
    });
  });
}

/**
 * The subprotocol and extension checks of RFC 6455 section 4.1 on a 200
 * (RFC 8441 section 5), by the protocol layer's own check: the HTTP/1.1-only
 * fields (Upgrade, Connection, Sec-WebSocket-Accept) are filled in as a 101
 * would carry them, since HTTP/2 has none.
 */
function checkStreamResponse(headers: IncomingHttpHeaders, offer: UpgradeOffer): AcceptedUpgrade {
  return checkUpgradeResponse(
    {
      status: 101,
      headers: { ...headers, upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': computeAcceptKey(offer.key) },
    },
    offer,
  );
}

/** Request headers an HTTP/2 request must not carry (RFC 9113 section 8.2.2), or that the stream sets itself. */
const FORBIDDEN = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'host', 'sec-websocket-key', 'sec-websocket-version']);

/** The caller's headers as an HTTP/2 request carries them: lower case, connection-specific ones dropped. */
export function http2RequestHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!FORBIDDEN.has(lower)) out[lower] = value;
  }
  return out;
}

/** Closes every shared session now (tests, a process about to exit). */
export function closeHttp2Sessions(): void {
  for (const entry of sessions.values()) entry.session.close();
  sessions.clear();
  http1Origins.clear();
}

export const EMPTY_HEAD = Buffer.alloc(0);
