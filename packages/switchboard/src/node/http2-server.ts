import { Http2ServerRequest, constants, type Http2SecureServer, type Http2Server, type Http2ServerResponse, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { HandshakeError, parseProtocolList } from '../protocol/index.js';
import { destroySelf } from './refuse.js';

/** An HTTP/2 server (TLS or cleartext) a WebSocketServer can accept extended CONNECT streams from. */
export type AnyHttp2Server = Http2SecureServer | Http2Server;

/** What the server needs from an RFC 8441 request to answer it. */
export interface ValidatedStreamHandshake {
  /** Subprotocols offered, in the client's order of preference. */
  protocols: Set<string>;
  /** The raw sec-websocket-extensions offer, if any. */
  extensions: string | undefined;
}

/** Marks streams a WebSocketServer took, so that the 'stream' and the compatibility layer's 'connect' paths take each once. */
const kTaken = Symbol('switchboard.streamTaken');
type MarkedStream = ServerHttp2Stream & { [kTaken]?: true };

/** Gets each WebSocket stream once, with the request as an `Http2ServerRequest`. */
export type WebSocketStreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, req: Http2ServerRequest) => void;

export function isHttp2Server(server: object): server is AnyHttp2Server {
  // http.Server and https.Server have no updateSettings; both HTTP/2 server classes do (Node >= 15.1).
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
}

/** Whether a stream's request is an RFC 8441 extended CONNECT for a WebSocket (section 4: `:protocol` present). */
export function isWebSocketConnect(headers: IncomingHttpHeaders): boolean {
  return headers[':method'] === 'CONNECT' && headers[':protocol'] !== undefined;
}

/**
 * Hands the WebSocket streams (RFC 8441 extended CONNECT) of an HTTP/2
 * server to `listener`, for routing them yourself (`noServer` servers, with
 * `wss.handleStream`): advertises
 * SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 section 3) on the sessions it
 * opens from now on.
 *
 * Two listeners, because of Node's compatibility layer: a server with a
 * 'request' listener (which `allowHTTP1` needs) answers every CONNECT it sees
 * with 405 unless a 'connect' listener exists. Whichever of 'stream' and
 * 'connect' comes first takes the stream; a CONNECT that is not a WebSocket
 * gets the 405 Node would have given it, unless someone else listens.
 * Returns the function that detaches both.
 */
export function onWebSocketStreams(server: AnyHttp2Server, listener: WebSocketStreamListener): () => void {
  server.updateSettings({ enableConnectProtocol: true });
  const onStream = (stream: MarkedStream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]): void => {
    if (stream[kTaken] === true || !isWebSocketConnect(headers)) return;
    stream[kTaken] = true;
    listener(stream, headers, new Http2ServerRequest(stream, headers, {}, rawHeaders));
  };
  const onConnect = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
    const stream = req.stream as MarkedStream;
    if (stream[kTaken] === true) return;
    if (isWebSocketConnect(req.headers)) {
      stream[kTaken] = true;
      listener(stream, req.headers, req);
    } else if (server.listenerCount('connect') === 1) {
      res.statusCode = constants.HTTP_STATUS_METHOD_NOT_ALLOWED;
      res.end();
    }
  };
  server.on('stream', onStream);
  server.on('connect', onConnect);
  return () => {
    server.removeListener('stream', onStream);
    server.removeListener('connect', onConnect);
  };
}

/**
 * Checks an extended CONNECT request for a WebSocket (RFC 8441 sections 4
 * and 5): `:protocol` websocket and `sec-websocket-version: 13`; no key and
 * no Upgrade/Connection headers (HTTP/2 has none). Throws a HandshakeError
 * with the status to refuse it with.
 */
export function validateExtendedConnect(headers: IncomingHttpHeaders): ValidatedStreamHandshake {
  const protocol = headers[':protocol'];
  if (typeof protocol !== 'string' || protocol.toLowerCase() !== 'websocket') {
    throw new HandshakeError('WS_ERR_INVALID_UPGRADE_HEADER', 400, 'Invalid :protocol pseudo-header: only websocket is served');
  }
  const version = headers['sec-websocket-version'];
  if (typeof version !== 'string' || version.trim() !== '13') {
    throw new HandshakeError('WS_ERR_INVALID_VERSION', 426, 'Missing or invalid Sec-WebSocket-Version header', { 'sec-websocket-version': '13' });
  }
  const protocolHeader = headers['sec-websocket-protocol'];
  const protocols = protocolHeader === undefined ? new Set<string>() : parseProtocolList(String(protocolHeader));
  const extensions = headers['sec-websocket-extensions'];
  return { protocols, extensions: Array.isArray(extensions) ? extensions.join(', ') : extensions };
}

/**
 * Answers a refused extended CONNECT with an HTTP/2 status and a text body,
 * then resets the stream with NO_ERROR once the answer is flushed (RFC 9113
 * section 8.1: the client need not send the rest of its request).
 */
export function refuseStream(socket: Duplex, status: number, message: string, headers?: Record<string, string | number>): void {
  const stream = socket as ServerHttp2Stream;
  if (!stream.listeners('error').includes(destroySelf)) stream.on('error', destroySelf);
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_CANCEL);
    return;
  }
  const answer: Record<string, string | number> = { ':status': status, 'content-type': 'text/plain; charset=utf-8' };
  if (headers) for (const [name, value] of Object.entries(headers)) answer[name.toLowerCase()] = value;
  stream.respond(answer);
  stream.end(message);
  stream.close(constants.NGHTTP2_NO_ERROR);
}

/** Terminates a WebSocket stream (a failure, `terminate()`): RST_STREAM with CANCEL (RFC 8441 section 5 maps TCP resets onto it). */
export function resetStream(socket: Duplex): void {
  const stream = socket as ServerHttp2Stream;
  if (stream.closed || typeof stream.close !== 'function') socket.destroy();
  else stream.close(constants.NGHTTP2_CANCEL);
}

/** The `headers` event's lines for an HTTP/2 answer (as for HTTP/1.1: a status line, then `name: value`), and back. */
export function responseLines(protocol: string | undefined, extensions: string | undefined): string[] {
  const lines = ['HTTP/2 200'];
  if (protocol !== undefined) lines.push(`sec-websocket-protocol: ${protocol}`);
  if (extensions !== undefined) lines.push(`sec-websocket-extensions: ${extensions}`);
  return lines;
}

export function linesToHeaders(lines: string[]): Record<string, string | number> {
  const headers: Record<string, string | number> = { ':status': 200 };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    // Connection-specific fields are forbidden in HTTP/2 (RFC 9113 section 8.2.2).
    if (name === 'connection' || name === 'upgrade' || name === 'keep-alive' || name === 'transfer-encoding' || name === 'sec-websocket-accept') continue;
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}
