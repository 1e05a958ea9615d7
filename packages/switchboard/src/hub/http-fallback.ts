// The HTTP fallback endpoints (HubOptions.fallback, docs/transports.md), next
// to the WebSocket path, for networks that break WebSockets:
//   POST {path}/open               a session: {"session": id} (201)
//   GET  {path}/sse?session=ID     Server-Sent Events downlink
//   GET  {path}/poll?session=ID&last=N   long-polling downlink (last resort)
//   POST {path}/send?session=ID    uplink: switchboard.v1 messages, one per line
//   POST {path}/close?session=ID   the client leaves (the hub sees a 1000 close)
// A session is a virtual connection (http-session.ts) handed to the hub as a
// WebSocket would be; its id (144 random bits) is the only credential the
// later requests carry, as a WebSocket's TCP connection is for its frames.
// A session lives on the node that opened it; a request for it that reaches
// another node is passed to that one through the adapter
// (fallback-forwarding.ts): no sticky sessions.
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { codedError } from '../protocol/switchboard-error.js';
import { HttpSession } from './http-session.js';
import type { Adapter, ForwardedAnswer, ForwardedRequest } from './adapter.js';
import { Forwarder, NODE_NAME, SESSION_ID, serveForwarded } from './fallback-forwarding.js';
import { answerJson as answer, readBoundedBody } from './read-body.js';

export interface HttpFallbackOptions {
  /** The Server-Sent Events downlink (default true). */
  sse?: boolean;
  /** The long-polling downlink (default true). */
  polling?: boolean;
  /** Milliseconds a poll is held open with nothing to answer (default 25,000). */
  pollTimeout?: number;
  /** Milliseconds a session lives with no downlink attached (default 30,000); it is then closed (1001). */
  sessionTimeout?: number;
  /** Messages queued for a session before it is closed as a slow consumer (1013; default 10,000). The bytes bound is `disconnectBufferedAmount`, as on WebSockets. */
  maxQueuedMessages?: number;
  /** Sessions open at once on this hub (default 10,000): past it `open` gets 503. */
  maxSessions?: number;
  /**
   * Origins allowed to use the endpoints from a browser (CORS). Default: the
   * same origin only (the `Origin` header's host is the request's `Host`);
   * '*' allows any. A request from another origin gets 403. Requests without
   * `Origin` (not from a browser) are allowed.
   */
  origins?: readonly string[] | '*';
  /** Send `Access-Control-Allow-Credentials` to allowed origins (cookies across origins; default false). */
  credentials?: boolean;
  /** Milliseconds a request forwarded to the node holding its session waits for the answer (default 10,000; a poll waits `pollTimeout` more); then 504. */
  forwardTimeout?: number;
  /** Requests forwarded to other nodes in flight at once from this node (default 10,000; an SSE stream for a session held elsewhere holds one); past it 503. */
  maxForwarded?: number;
}

interface ResolvedFallback {
  sse: boolean;
  polling: boolean;
  pollTimeout: number;
  sessionTimeout: number;
  maxQueuedMessages: number;
  maxSessions: number;
  origins: ReadonlySet<string> | '*' | null;
  credentials: boolean;
  forwardTimeout: number;
  maxForwarded: number;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw codedError(new RangeError(`fallback.${name} must be a positive integer (got ${String(value)})`), 'WS_ERR_INVALID_OPTION');
  return value;
}

export class HttpFallback {
  private readonly options: ResolvedFallback;
  private readonly sessions = new Map<string, HttpSession>();
  private readonly maxBody: number;
  /** This node's name, ending its session ids; null when the adapter cannot forward (then sessions are served where they were opened). */
  private readonly node: string | null;
  private readonly forwarder: Forwarder | null;

  constructor(
    readonly path: string,
    options: HttpFallbackOptions,
    maxMessageSize: number,
    /** Hands a new session to the hub, as a new WebSocket with its upgrade request. */
    private readonly connect: (session: HttpSession, req: IncomingMessage) => void,
    adapter?: Adapter,
  ) {
    this.options = {
      sse: options.sse ?? true,
      polling: options.polling ?? true,
      pollTimeout: positive('pollTimeout', options.pollTimeout, 25_000),
      sessionTimeout: positive('sessionTimeout', options.sessionTimeout, 30_000),
      maxQueuedMessages: positive('maxQueuedMessages', options.maxQueuedMessages, 10_000),
      maxSessions: positive('maxSessions', options.maxSessions, 10_000),
      origins: options.origins === '*' ? '*' : options.origins === undefined ? null : new Set(options.origins),
      credentials: options.credentials === true,
      forwardTimeout: positive('forwardTimeout', options.forwardTimeout, 10_000),
      maxForwarded: positive('maxForwarded', options.maxForwarded, 10_000),
    };
    const node = adapter?.node;
    this.node = adapter?.forward !== undefined && node !== undefined && NODE_NAME.test(node) ? node : null;
    this.forwarder = this.node === null ? null : new Forwarder(adapter!, this.options);
    // A batch of messages: one at the size limit plus room for the small ones sent with it (each line still meets the limit).
    this.maxBody = maxMessageSize + 64 * 1024;
  }

  /** Sessions open now. */
  get size(): number {
    return this.sessions.size;
  }

  /** Every session, for the hub's shutdown. */
  all(): HttpSession[] {
    return [...this.sessions.values()];
  }

  /** Answers `req` when it is for one of the endpoints (true); false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    if (!pathname.startsWith(this.path) || pathname.charCodeAt(this.path.length) !== 47 /* / */) return false;
    const endpoint = pathname.slice(this.path.length + 1);
    if (endpoint !== 'open' && endpoint !== 'send' && endpoint !== 'close' && endpoint !== 'sse' && endpoint !== 'poll') return false;
    const cors = this.cors(req);
    if (cors === null) {
      answer(res, 403, { error: 'origin_refused', message: 'This origin may not use the hub (option fallback.origins)' });
      return true;
    }
    for (const [name, value] of Object.entries(cors)) res.setHeader(name, value as string);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, POST', 'Access-Control-Allow-Headers': 'Content-Type, Last-Event-ID', 'Access-Control-Max-Age': '600' });
      res.end();
      return true;
    }
    const wanted = endpoint === 'sse' || endpoint === 'poll' ? 'GET' : 'POST';
    if (req.method !== wanted) {
      answer(res, 405, { error: 'method_not_allowed', message: `Use ${wanted}` }, { Allow: wanted });
      return true;
    }
    if ((endpoint === 'sse' && !this.options.sse) || (endpoint === 'poll' && !this.options.polling)) {
      answer(res, 404, { error: 'not_found', message: `The ${endpoint} transport is turned off` });
      return true;
    }
    if (endpoint === 'open') {
      this.open(req, res);
      return true;
    }
    const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const id = params.get('session') ?? '';
    const valid = SESSION_ID.exec(id);
    const session = valid === null ? undefined : this.sessions.get(id);
    const owner = valid?.[1];
    if (session === undefined && owner !== undefined && owner !== this.node && this.forwarder !== null) {
      this.forward(owner, id, endpoint, params, req, res);
      return true;
    }
    if (session === undefined) {
      // Drained so that the connection can serve the next request (the client opens a new session).
      req.resume();
      answer(res, 404, { error: 'unknown_session', message: 'No such session (expired, closed, or opened on another node)' });
      return true;
    }
    if (endpoint === 'close') {
      req.resume();
      session.close(1000, '');
      session.terminate(); // nobody is left to tell
      res.writeHead(204, { 'Cache-Control': 'no-store' }).end();
    } else if (endpoint === 'send') {
      this.uplink(req, res, (body) => {
        if (session.readyState !== 1) {
          answer(res, 410, { error: 'session_closed', message: 'The session is closed' });
          return;
        }
        session.receive(body);
        res.writeHead(204, { 'Cache-Control': 'no-store' });
        res.end();
      });
    } else this.downlink(session, endpoint === 'poll', params, req, res);
    return true;
  }

  /** A request for a session another node holds: passed to it (fallback-forwarding.ts). */
  private forward(owner: string, id: string, endpoint: string, params: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const forwarder = this.forwarder!;
    if (endpoint === 'send') this.uplink(req, res, (body) => forwarder.forwardUplink(owner, id, 'send', body, res));
    else if (endpoint === 'close') {
      req.resume();
      forwarder.forwardUplink(owner, id, 'close', undefined, res);
    } else if (endpoint === 'poll') forwarder.forwardPoll(owner, id, lastSeen(params, req), res);
    else forwarder.forwardStream(owner, id, lastSeen(params, req), res);
  }

  /** A request another node forwarded for one of this node's sessions (AdapterSink.forwarded). */
  serveForwarded(request: ForwardedRequest): Promise<ForwardedAnswer> {
    return serveForwarded(this.sessions, request, this.options.pollTimeout);
  }

  /** The CORS headers for this request; null when its origin is refused. */
  private cors(req: IncomingMessage): OutgoingHttpHeaders | null {
    const origin = req.headers.origin;
    if (origin === undefined) return {};
    const allowed = this.options.origins;
    let ok: boolean;
    if (allowed === '*') ok = true;
    else if (allowed !== null && allowed.has(origin)) ok = true;
    else {
      try {
        ok = allowed === null && new URL(origin).host === req.headers.host;
      } catch {
        ok = false;
      }
    }
    if (!ok) return null;
    const headers: OutgoingHttpHeaders = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
    if (this.options.credentials) headers['Access-Control-Allow-Credentials'] = 'true';
    return headers;
  }

  private open(req: IncomingMessage, res: ServerResponse): void {
    req.resume(); // a body, if any, means nothing
    if (this.sessions.size >= this.options.maxSessions) {
      answer(res, 503, { error: 'too_many_sessions', message: 'Too many fallback sessions' }, { 'Retry-After': '5' });
      return;
    }
    const random = randomBytes(18).toString('base64url');
    const id = this.node === null ? random : `${random}.${this.node}`;
    const session = new HttpSession(id, this.options, (s) => {
      if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    });
    this.sessions.set(id, session);
    this.connect(session, req);
    answer(res, 201, { session: id, sse: this.options.sse, polling: this.options.polling });
  }

  /** Reads the uplink's body (bounded by maxBody: 413 past it) and hands it to `deliver`. */
  private uplink(req: IncomingMessage, res: ServerResponse, deliver: (body: Buffer) => void): void {
    readBoundedBody(req, res, this.maxBody, `A request may carry at most ${this.maxBody} bytes`, deliver);
  }

  private downlink(session: HttpSession, poll: boolean, params: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const acked = lastSeen(params, req);
    res.on('error', () => {});
    if (poll) {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
    } else {
      // X-Accel-Buffering: nginx passes the stream through even where proxy_buffering is on.
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
      res.socket?.setNoDelay(true);
    }
    session.attach(res, poll, acked, this.options.pollTimeout);
  }
}

/** What the client has seen: `last` (polling, and our client's streams) or EventSource's own Last-Event-ID. */
function lastSeen(params: URLSearchParams, req: IncomingMessage): number {
  const last = Number(params.get('last') ?? req.headers['last-event-id'] ?? 0);
  return Number.isSafeInteger(last) && last >= 0 ? last : 0;
}

