// HTTP fallback with no sticky sessions (docs/transports.md, "No sticky
// sessions"): a request for a session held by another node is passed to that
// node through the adapter (Adapter.forward), which answers it; the session
// never moves. A session id ends with its owner's node name, so any node
// knows where to send it without asking around; the owner alone checks the
// id's random part (144 bits), so no secret needs sharing between nodes.
//   uplink (send, close): one forwarded request, the owner's answer relayed;
//   poll: one forwarded poll, held by the owner as a local poll would be;
//   sse: the stream is held here and fed by forwarded polls, one after the
//   other, each acknowledging what the previous one brought (`last`), so
//   that an answer lost between the nodes is sent again by the next poll.
// Bounded: at most `maxForwarded` requests in flight per node (503 past it),
// each answered within `forwardTimeout` ms (plus `pollTimeout` for a poll).
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Adapter, ForwardedAnswer, ForwardedRequest } from './adapter.js';
import type { HttpSession } from './http-session.js';

/** A session id: 24 base64url characters (18 random bytes), then `.` and the owner's node name when the adapter has one. */
export const SESSION_ID = /^[A-Za-z0-9_-]{24}(?:\.([A-Za-z0-9_-]{1,64}))?$/;

/** Whether `node` can end a session id (Adapter.node). */
export const NODE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export interface ForwardingLimits {
  /** ms a forwarded request waits for the owner's answer (a poll: on top of pollTimeout). */
  forwardTimeout: number;
  /** Forwarded requests in flight from this node at once (an emulated stream holds one). */
  maxForwarded: number;
  pollTimeout: number;
}

type Json = { error: string; message: string };

const UNKNOWN_SESSION: Json = { error: 'unknown_session', message: 'No such session (expired or closed)' };
const NODE_GONE: Json = { error: 'unknown_session', message: 'The node that held this session is gone' };

/** Answers `res` with a JSON error (nothing if an answer already started). */
function answer(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

const jsonAnswer = (status: number, body: Json): ForwardedAnswer => ({ status, body: Buffer.from(JSON.stringify(body)) });

/** The sending side: a node that received a request for a session it does not hold. */
export class Forwarder {
  private inFlight = 0;

  constructor(
    private readonly adapter: Adapter,
    private readonly limits: ForwardingLimits,
  ) {}

  /** The uplink: answered as the owner answers. */
  forwardUplink(node: string, session: string, kind: 'send' | 'close', body: Buffer | undefined, res: ServerResponse): void {
    const request: ForwardedRequest = body === undefined ? { kind, session } : { kind, session, body };
    void this.call(node, request, this.limits.forwardTimeout, res).then((reply) => {
      if (reply !== null) relay(res, reply);
    });
  }

  /** One long poll, held by the owner. */
  forwardPoll(node: string, session: string, last: number, res: ServerResponse): void {
    res.on('error', () => {});
    void this.call(node, { kind: 'poll', session, last, wait: this.limits.pollTimeout }, this.limits.pollTimeout + this.limits.forwardTimeout, res).then((reply) => {
      if (reply !== null) relay(res, reply);
    });
  }

  /**
   * An event stream for a session held elsewhere: held here, fed by one forwarded poll after
   * the other. It ends (and the client opens it again with what it has seen) when a poll fails.
   */
  forwardStream(node: string, session: string, last: number, res: ServerResponse): void {
    res.on('error', () => {});
    let open = true;
    res.on('close', () => (open = false));
    const first = (reply: ForwardedAnswer | null): void => {
      // The first poll decides the status: an unknown session gets its 404 as a direct stream would.
      if (reply === null) return;
      if (reply.status !== 200) {
        relay(res, reply);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
      res.socket?.setNoDelay(true);
      // A comment first, as a direct stream: the client can tell a stream that delivers from a proxy that buffers.
      res.write(':\n\n');
      next(reply);
    };
    const next = (reply: ForwardedAnswer | null): void => {
      if (!open) return;
      if (reply === null || reply.status !== 200) {
        res.end();
        return;
      }
      const body = reply.body ?? EMPTY;
      const poll = (): void => {
        if (open) void this.call(node, { kind: 'poll', session, last, wait: this.limits.pollTimeout }, this.limits.pollTimeout + this.limits.forwardTimeout, res).then(next);
      };
      if (body.length === 0) {
        poll();
        return;
      }
      const flowing = res.write(body);
      if (endsSession(body)) {
        res.end();
        return;
      }
      last = lastId(body, last);
      // A client that does not read: the next poll waits, so what comes queues at the owner, under its limits (slow consumer).
      if (flowing) poll();
      else res.once('drain', poll);
    };
    // The first poll does not wait: the stream's headers go out at once.
    void this.call(node, { kind: 'poll', session, last, wait: 1 }, this.limits.forwardTimeout, res).then(first);
  }

  /** Passes `request` on; null when it failed and `res` was answered (or can no longer be). */
  private async call(node: string, request: ForwardedRequest, timeout: number, res: ServerResponse): Promise<ForwardedAnswer | null> {
    if (this.inFlight >= this.limits.maxForwarded) {
      answer(res, 503, { error: 'forward_busy', message: 'Too many requests forwarded to other nodes' }, { 'Retry-After': '1' });
      return null;
    }
    this.inFlight++;
    try {
      return await this.adapter.forward!(node, request, timeout);
    } catch (error) {
      const code = (error as { code?: unknown })?.code;
      if (code === 'unknown_node') answer(res, 404, NODE_GONE);
      else if (code === 'forward_timeout') answer(res, 504, { error: 'forward_timeout', message: `The node holding this session did not answer within ${timeout} ms` });
      else answer(res, 503, { error: 'unavailable', message: `The node holding this session cannot be reached: ${(error as Error)?.message ?? String(error)}` }, { 'Retry-After': '1' });
      if (res.headersSent && !res.writableEnded) res.end();
      return null;
    } finally {
      this.inFlight--;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** The owner's answer, as this node's. */
function relay(res: ServerResponse, reply: ForwardedAnswer): void {
  if (res.headersSent || res.destroyed) return;
  const body = reply.body ?? EMPTY;
  if (reply.status === 204) res.writeHead(204, { 'Cache-Control': 'no-store' }).end();
  else {
    const type = reply.status === 200 ? 'text/plain; charset=utf-8' : 'application/json';
    res.writeHead(reply.status, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-store' }).end(body);
  }
}

const asBuffer = (bytes: Uint8Array): Buffer => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

/** Whether a poll answer ends with the session's `event: close` (data lines hold no raw newline, so the pattern is an event line). */
function endsSession(body: Uint8Array): boolean {
  const text = asBuffer(body);
  return text.indexOf('\nevent: close\n') !== -1 || text.subarray(0, 13).toString() === 'event: close\n';
}

/** The id of the last event in a poll answer (`id: N` lines; data lines hold no raw newline), or `last` when it has none. */
function lastId(body: Uint8Array, last: number): number {
  const text = asBuffer(body);
  const at = text.lastIndexOf('\nid: ');
  const start = at !== -1 ? at + 5 : text.subarray(0, 4).toString() === 'id: ' ? 4 : -1;
  if (start === -1) return last;
  const end = text.indexOf(10, start);
  const id = Number(text.subarray(start, end === -1 ? text.length : end).toString());
  return Number.isSafeInteger(id) && id > last ? id : last;
}

/**
 * A poll's response on the owner, for a poll forwarded by another node: what HttpSession.attach
 * uses of a ServerResponse in poll mode, resolving with the answer when the session ends it.
 */
class CapturedPoll extends EventEmitter {
  headersSent = false;
  writableFinished = false;
  private status = 200;

  constructor(private readonly done: (answer: ForwardedAnswer) => void) {
    super();
  }

  writeHead(status: number): this {
    this.status = status;
    this.headersSent = true;
    return this;
  }

  setHeader(): this {
    return this;
  }

  end(body?: Buffer | string): this {
    if (this.writableFinished) return this;
    this.headersSent = true;
    this.writableFinished = true;
    this.done({ status: this.status, body: body === undefined ? EMPTY : typeof body === 'string' ? Buffer.from(body) : body });
    this.emit('close');
    return this;
  }
}

/** The owning side: answers a request another node forwarded for one of `sessions`. */
export function serveForwarded(sessions: ReadonlyMap<string, HttpSession>, request: ForwardedRequest, pollTimeout: number): Promise<ForwardedAnswer> {
  const session = sessions.get(request.session);
  if (session === undefined) return Promise.resolve(jsonAnswer(404, UNKNOWN_SESSION));
  switch (request.kind) {
    case 'send':
      if (session.readyState !== 1) return Promise.resolve(jsonAnswer(410, { error: 'session_closed', message: 'The session is closed' }));
      if (request.body !== undefined) session.receive(asBuffer(request.body));
      return Promise.resolve({ status: 204 });
    case 'close':
      session.close(1000, '');
      session.terminate();
      return Promise.resolve({ status: 204 });
    case 'poll': {
      const last = request.last !== undefined && Number.isSafeInteger(request.last) && request.last >= 0 ? request.last : 0;
      const wait = Math.min(Math.max(1, request.wait ?? pollTimeout), pollTimeout);
      return new Promise((resolve) => session.attach(new CapturedPoll(resolve) as unknown as ServerResponse, true, last, wait));
    }
    default:
      return Promise.resolve(jsonAnswer(400, { error: 'bad_request', message: 'Unknown forwarded request' }));
  }
}
