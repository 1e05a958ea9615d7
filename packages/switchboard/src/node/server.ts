// WebSocketServer: ws's server (options, events, handleUpgrade) plus RFC 8441
// streams on HTTP/2 servers, a heartbeat, stats() and a graceful shutdown.
// Its options are in server-options.ts; verifyClient and the deflate
// negotiation in server-handshake.ts.
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { Http2ServerRequest, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { CloseCode, DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_PAYLOAD, HandshakeError, acceptResponse, acceptResponseLines, validateUpgradeRequest } from '../protocol/index.js';
import { codedError } from '../protocol/switchboard-error.js';
import { closeAll } from './close-all.js';
import { PerMessageDeflate } from './deflate.js';
import { handshakeChannel, publishHandshake, startHandshake, type ServerStats } from './diagnostics.js';
import { ServerTotals } from './server-stats.js';
import { Heartbeat } from './heartbeat.js';
import { isHttp2Server, linesToHeaders, onWebSocketStreams, refuseStream, responseLines, validateExtendedConnect, type AnyHttp2Server } from './http2-server.js';
import { destroySelf, refuseUpgrade } from './refuse.js';
import { negotiateDeflate, verifyThen, type Negotiated } from './server-handshake.js';
import type { ShutdownOptions, WebSocketServerOptions } from './server-options.js';
import { createUpgradeServer } from './upgrade-server.js';
import { DEFAULT_DISCONNECT_BUFFERED_AMOUNT, DEFAULT_MAX_PENDING_AUTO_PONGS, WebSocket } from './websocket.js';

export type { ShutdownOptions, VerifyClient, VerifyClientCallback, VerifyClientInfo, WebSocketServerOptions } from './server-options.js';

const EMPTY = Buffer.alloc(0);

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

/** Marks sockets that were already upgraded, to refuse a second handleUpgrade on them. */
const kUpgraded = Symbol('switchboard.upgraded');
type MarkedSocket = Duplex & { [kUpgraded]?: true };

/**
 * A WebSocket server with ws's options, events and behaviour, plus a
 * heartbeat, a graceful `shutdown`, and a handshake timeout.
 */
export class WebSocketServer extends EventEmitter {
  readonly options: Required<
    Pick<
      WebSocketServerOptions,
      'maxPayload' | 'maxFragments' | 'maxPendingAutoPongs' | 'disconnectBufferedAmount' | 'clientTracking' | 'skipUTF8Validation' | 'autoPong'
    >
  > &
    WebSocketServerOptions;
  readonly clients: Set<WebSocket>;
  // Named as in ws (`_server`, `_state` with ws's values), which code written for ws reads.
  private _server: HttpServer | HttpsServer | AnyHttp2Server | NetServer | null = null;
  private _state = RUNNING;
  private shouldEmitClose = false;
  private heartbeat: Heartbeat | null = null;
  private removeServerListeners: (() => void) | null = null;
  /** Every open connection, kept even with clientTracking: false, so that shutdown() can close them all. */
  private readonly connections = new Set<WebSocket>();
  /** Handshakes answered, and what closed connections did (open ones are summed in `stats()`). */
  private readonly totals = new ServerTotals();

  constructor(options: WebSocketServerOptions = {}, callback?: () => void) {
    super();
    const given = [options.port != null, options.server != null, options.noServer === true].filter(Boolean).length;
    if (given !== 1) {
      throw codedError(new TypeError('One and only one of the "port", "server", or "noServer" options must be specified'), 'WS_ERR_INVALID_OPTION');
    }
    this.options = {
      maxPayload: DEFAULT_MAX_PAYLOAD,
      maxFragments: DEFAULT_MAX_FRAGMENTS,
      maxPendingAutoPongs: DEFAULT_MAX_PENDING_AUTO_PONGS,
      disconnectBufferedAmount: DEFAULT_DISCONNECT_BUFFERED_AMOUNT,
      clientTracking: true,
      skipUTF8Validation: false,
      autoPong: true,
      ...options,
    };
    this.clients = new Set();
    if (options.heartbeat) {
      if (!this.options.clientTracking) throw codedError(new TypeError('The heartbeat option needs clientTracking'), 'WS_ERR_INVALID_OPTION');
      this.heartbeat = new Heartbeat(this.clients, options.heartbeat);
    }

    if (options.port != null) {
      const server = createUpgradeServer(options.handshakeTimeout ?? 10_000, options.maxPartialHeadBytes);
      this._server = server;
      server.listen(options.port, options.host, options.backlog, callback);
    } else if (options.server) {
      this._server = options.server;
    }

    if (this._server) {
      const server = this._server;
      const onListening = (): void => {
        this.emit('listening');
      };
      const onError = (error: Error): void => {
        this.emit('error', error);
      };
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
        this.handleUpgrade(req, socket, head, (ws) => this.emit('connection', ws, req));
      };
      server.on('listening', onListening);
      server.on('error', onError);
      server.on('upgrade', onUpgrade);
      const detachHttp2 = isHttp2Server(server) && options.http2 !== false ? onWebSocketStreams(server, (stream, headers, req) => this.acceptStream(stream, headers, req, (ws) => this.emit('connection', ws, req))) : null;
      this.removeServerListeners = () => {
        detachHttp2?.();
        server.removeListener('listening', onListening);
        server.removeListener('error', onError);
        server.removeListener('upgrade', onUpgrade);
      };
    }
  }

  /** The address the server listens on, as `net.Server#address()` gives it. */
  address(): ReturnType<HttpServer['address']> {
    // ws's plain Error (with our code).
    if (this.options.noServer) throw codedError(new Error('The server is operating in "noServer" mode'), 'WS_ERR_INVALID_STATE');
    if (!this._server) return null;
    return this._server.address();
  }

  /** Whether a request is for this server (its `path`). Override to route differently. */
  shouldHandle(req: IncomingMessage): boolean {
    const path = this.options.path;
    if (path === undefined) return true;
    const url = req.url ?? '/';
    const queryStart = url.indexOf('?');
    return (queryStart === -1 ? url : url.slice(0, queryStart)) === path;
  }

  /** Completes (or refuses) the opening handshake on an upgraded socket. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, callback: (ws: WebSocket, req: IncomingMessage) => void): void {
    if (handshakeChannel.hasSubscribers) startHandshake(req);
    let upgrade;
    let deflate: Negotiated | null = null;
    try {
      upgrade = validateUpgradeRequest(req);
      deflate = this.checkPathAndDeflate(req, upgrade.extensions);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.refuse(error, socket, req);
      return;
    }

    if (this.options.verifyClient) {
      verifyThen(this.options.verifyClient, req, socket, refuseUpgrade, (status) => this.countHandshake(req, false, status, 'WS_ERR_CLIENT_REFUSED'), () => this.completeUpgrade(upgrade.key, upgrade.protocols, deflate, req, socket, head, callback));
      return;
    }
    this.completeUpgrade(upgrade.key, upgrade.protocols, deflate, req, socket, head, callback);
  }

  /**
   * Completes (or refuses) the opening handshake of an RFC 8441 extended
   * CONNECT stream (`:method CONNECT`, `:protocol websocket`) from an HTTP/2
   * server: for `noServer` mode, from your own 'stream' listener. The
   * answer is `:status 200`, and the connection runs over the stream.
   */
  handleStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    callback: (ws: WebSocket, req: Http2ServerRequest) => void,
    req: Http2ServerRequest = new Http2ServerRequest(stream, headers, {}, []),
  ): void {
    this.acceptStream(stream, headers, req, callback);
  }

  private acceptStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, req: Http2ServerRequest, callback: (ws: WebSocket, req: Http2ServerRequest) => void): void {
    // Before anything is written, and until the WebSocket has its own.
    stream.on('error', destroySelf);
    const request = req as unknown as IncomingMessage;
    if (handshakeChannel.hasSubscribers) startHandshake(request);
    let handshake;
    let deflate: Negotiated | null = null;
    try {
      handshake = validateExtendedConnect(headers);
      deflate = this.checkPathAndDeflate(request, handshake.extensions);
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      this.countHandshake(request, false, error.status, error.code);
      refuseStream(stream, error.status, error.message, error.headers);
      return;
    }
    const complete = (): void => this.completeStream(stream, handshake.protocols, deflate, request, callback as unknown as (ws: WebSocket, req: IncomingMessage) => void);
    const verifyClient = this.options.verifyClient;
    if (verifyClient) verifyThen(verifyClient, request, stream, refuseStream, (status) => this.countHandshake(request, false, status, 'WS_ERR_CLIENT_REFUSED'), complete);
    else complete();
  }

  /** What follows a valid request, over HTTP/1.1 and HTTP/2 alike: its path must be ours, then the deflate offer is taken (or a HandshakeError thrown). */
  private checkPathAndDeflate(req: IncomingMessage, extensions: string | undefined): Negotiated | null {
    if (!this.shouldHandle(req)) throw new HandshakeError('WS_ERR_INVALID_PATH', 400, `No WebSocket endpoint at ${req.url ?? '/'}`);
    return negotiateDeflate(this.options.perMessageDeflate, extensions);
  }

  private refuse(error: HandshakeError, socket: Duplex, req: IncomingMessage): void {
    this.countHandshake(req, false, error.status, error.code);
    if (this.listenerCount('wsClientError') > 0) {
      socket.on('error', destroySelf);
      // Once the listener has ended its answer, the socket goes: nobody reads it (it may be paused), so the
      // peer's end would never be seen and the socket would hold the server open.
      socket.once('finish', destroySelf);
      // ws's contract: the listener answers the socket itself.
      this.emit('wsClientError', error, socket, req);
      return;
    }
    refuseUpgrade(socket, error.status, error.message, error.headers);
  }

  private completeUpgrade(
    key: string,
    protocols: Set<string>,
    deflate: Negotiated | null,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (ws: WebSocket, req: IncomingMessage) => void,
  ): void {
    if (!socket.readable || !socket.writable) {
      // An error may be on its way (it made the socket unusable): someone has to handle it.
      socket.on('error', destroySelf);
      socket.destroy();
      return;
    }
    if ((socket as MarkedSocket)[kUpgraded] === true) {
      throw codedError(new Error('server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration'), 'WS_ERR_INVALID_STATE');
    }
    if (this._state !== RUNNING) {
      this.countHandshake(req, false, 503, 'WS_ERR_SERVER_CLOSING');
      refuseUpgrade(socket, 503, 'The server is shutting down');
      return;
    }

    const protocol = this.chooseProtocol(protocols, req);
    let response: string;
    if (this.listenerCount('headers') > 0) {
      const headers = acceptResponseLines(key, protocol, deflate?.response);
      this.emit('headers', headers, req);
      response = headers.concat('\r\n').join('\r\n');
    } else {
      response = acceptResponse(key, protocol, deflate?.response);
    }
    // Before anything is written: Node's http server removed its own listener before 'upgrade'; the WebSocket adds its own below.
    if (socket.listenerCount('error') === 0) socket.on('error', destroySelf);
    socket.write(response);
    (socket as MarkedSocket)[kUpgraded] = true;
    this.startConnection(socket, head, protocol, deflate, req, callback, false);
  }

  /** The stream's answer: `:status 200` (RFC 8441 section 5), with the subprotocol and extensions as ordinary headers. */
  private completeStream(stream: ServerHttp2Stream, protocols: Set<string>, deflate: Negotiated | null, req: IncomingMessage, callback: (ws: WebSocket, req: IncomingMessage) => void): void {
    if (stream.destroyed || stream.closed || !stream.writable) return;
    if (this._state !== RUNNING) {
      this.countHandshake(req, false, 503, 'WS_ERR_SERVER_CLOSING');
      refuseStream(stream, 503, 'The server is shutting down');
      return;
    }
    const protocol = this.chooseProtocol(protocols, req);
    let headers: Record<string, string | number>;
    if (this.listenerCount('headers') > 0) {
      const lines = responseLines(protocol, deflate?.response);
      this.emit('headers', lines, req);
      headers = linesToHeaders(lines);
    } else {
      headers = { ':status': 200 };
      if (protocol !== undefined) headers['sec-websocket-protocol'] = protocol;
      if (deflate !== null) headers['sec-websocket-extensions'] = deflate.response;
    }
    stream.respond(headers);
    this.startConnection(stream, EMPTY, protocol, deflate, req, callback, true);
  }

  private chooseProtocol(protocols: Set<string>, req: IncomingMessage): string | undefined {
    if (protocols.size === 0) return undefined;
    const chosen = this.options.handleProtocols ? this.options.handleProtocols(protocols, req) : protocols.values().next().value;
    return chosen ? chosen : undefined;
  }

  private startConnection(
    socket: Duplex,
    head: Buffer,
    protocol: string | undefined,
    deflate: Negotiated | null,
    req: IncomingMessage,
    callback: (ws: WebSocket, req: IncomingMessage) => void,
    overHttp2: boolean,
  ): void {
    const Class = this.options.WebSocket ?? WebSocket;
    const ws = new Class();
    if (protocol !== undefined) ws._protocol = protocol;
    if (deflate !== null) ws._extensions = deflate.response;
    ws._attach(socket, head, true, {
      transform: deflate === null ? null : new PerMessageDeflate(deflate.params, true, this.options.maxPayload, deflate.options),
      compressThreshold: deflate?.options.threshold ?? 1024,
      maxPayload: this.options.maxPayload,
      maxFragments: this.options.maxFragments,
      maxPendingAutoPongs: this.options.maxPendingAutoPongs,
      disconnectBufferedAmount: this.options.disconnectBufferedAmount,
      skipUTF8Validation: this.options.skipUTF8Validation,
      autoPong: this.options.autoPong,
      closeTimeout: this.options.closeTimeout,
      maxBufferedChunks: this.options.maxBufferedChunks,
      propagateListenerErrors: this.options.propagateListenerErrors,
      overHttp2,
    });
    // The connection's own listener handles the socket's errors from here.
    socket.removeListener('error', destroySelf);
    this.connections.add(ws);
    if (this.options.clientTracking) this.clients.add(ws);
    // One shared listener per connection (no closure): it finds the server through the connection.
    (ws as TrackedWebSocket)[kServer] = this;
    ws.on('close', forgetConnection);
    this.countHandshake(req, true, overHttp2 ? 200 : 101, null);
    callback(ws, req);
  }

  /** Counts an answered handshake and publishes it on `switchboard:server:handshake`. */
  private countHandshake(req: IncomingMessage, accepted: boolean, status: number, code: string | null): void {
    if (accepted) this.totals.handshakesAccepted++;
    else this.totals.handshakesRefused++;
    if (handshakeChannel.hasSubscribers) publishHandshake(req, accepted, status, code);
  }

  /**
   * A snapshot of what the server is doing (docs/observability.md): open
   * connections, bytes waiting to be sent, handshakes answered, messages and
   * bytes received and sent. Computed when asked, in one pass over the
   * connections: nothing is counted on the hot path but a few integers.
   */
  stats(): ServerStats {
    return this.totals.snapshot(this.connections);
  }

  /** A connection closed: drop it from the sets, and emit 'close' if close() was waiting for it. @internal */
  _forget(ws: WebSocket): void {
    this.connections.delete(ws);
    this.totals.addClosed(ws);
    if (!this.options.clientTracking) return;
    this.clients.delete(ws);
    if (this.shouldEmitClose && this.clients.size === 0) process.nextTick(emitClose, this);
  }

  /**
   * Stops accepting connections (ws 8 semantics: open connections are left
   * alone; 'close' is emitted once they are all gone). See `shutdown` to
   * close them too.
   */
  close(callback?: (error?: Error) => void): void {
    if (this._state === CLOSED) {
      // As in ws: 'close' again, and the callback learns the server was not running.
      if (callback) this.once('close', () => callback(codedError(new Error('The server is not running'), 'WS_ERR_INVALID_STATE')));
      process.nextTick(emitClose, this);
      return;
    }
    if (callback) this.once('close', callback);
    if (this._state === CLOSING) return;
    this._state = CLOSING;
    this.heartbeat?.stop();
    if (this.options.noServer || this.options.server) {
      this.removeServerListeners?.();
      this.removeServerListeners = null;
      this._server = null;
      if (this.clients.size === 0 || !this.options.clientTracking) process.nextTick(emitClose, this);
      else this.shouldEmitClose = true;
      return;
    }
    const server = this._server!;
    this.removeServerListeners?.();
    this.removeServerListeners = null;
    this._server = null;
    server.close(() => emitClose(this));
  }

  /**
   * Graceful shutdown: stops accepting, sends every client a close frame
   * (1001 by default), and resolves when all are gone; clients still open
   * after `timeout` ms are terminated.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const clients = [...this.connections];
    const closed = new Promise<void>((resolve) => this.close(() => resolve()));
    return closeAll(clients, options.code ?? CloseCode.GoingAway, options.reason, options.timeout ?? 5000).then(() => closed);
  }
}

const kServer = Symbol('switchboard.server');
type TrackedWebSocket = WebSocket & { [kServer]: WebSocketServer };

function forgetConnection(this: TrackedWebSocket): void {
  this[kServer]._forget(this);
}

function emitClose(server: WebSocketServer): void {
  (server as unknown as { _state: number })._state = CLOSED;
  server.emit('close');
}

