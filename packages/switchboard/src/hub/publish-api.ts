// The HTTP publish endpoint (HubOptions.publishApi): a backend in any
// language publishes to a room, or to a user, with one POST and an API key,
// as with Centrifugo's HTTP API or Pusher's REST API. It answers only its own
// path; the hub's owner routes requests to it (hub.handleRequest).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { codedError } from '../protocol/switchboard-error.js';
import { isName } from '../wire/index.js';
import { answerJson as answer, readBoundedBody } from './read-body.js';

export interface PublishApiOptions {
  /**
   * The API key(s) a request must carry, as `Authorization: apikey KEY` or
   * `Authorization: Bearer KEY`. Several keys let one be rotated out while
   * the next is rolled in.
   */
  key: string | readonly string[];
  /** The endpoint's path (default '/api/publish'). */
  path?: string;
  /** Largest request body in bytes (default: the hub's maxMessageSize, 1 MiB); larger ones get 413. */
  maxBodySize?: number;
}

/** What a valid request asks for: `{room, event, data}` or `{user, event, data}`. */
export type PublishRequest = { room: string; user?: undefined; event: string; data: unknown } | { user: string; room?: undefined; event: string; data: unknown };

export const DEFAULT_PUBLISH_PATH = '/api/publish';

/** Compared keys are hashed first, so that the comparison takes the same time whatever their lengths. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Answers POST requests to one path: authenticates them (in constant time),
 * reads a bounded JSON body and hands a checked PublishRequest to `publish`.
 * Statuses: 200 `{id}` (a room message's id; `{}` for a user), 400 a body
 * that is not valid JSON or not a valid request, 401 no or a wrong key, 405
 * not POST, 413 a body over the limit, 415 not application/json, 503 the
 * publish failed (an adapter that cannot store it).
 */
export class PublishEndpoint {
  readonly path: string;
  private readonly keys: Buffer[];
  private readonly maxBodySize: number;

  constructor(
    options: PublishApiOptions,
    defaultMaxBodySize: number,
    private readonly publish: (request: PublishRequest) => Promise<number | undefined>,
  ) {
    const keys = typeof options.key === 'string' ? [options.key] : [...options.key];
    if (keys.length === 0 || keys.some((k) => typeof k !== 'string' || k.length === 0)) {
      throw codedError(new TypeError('publishApi.key must be a non-empty string or a list of them'), 'WS_ERR_INVALID_OPTION');
    }
    this.keys = keys.map(digest);
    this.path = options.path ?? DEFAULT_PUBLISH_PATH;
    if (!this.path.startsWith('/')) throw codedError(new TypeError(`publishApi.path must start with "/" (got ${JSON.stringify(this.path)})`), 'WS_ERR_INVALID_OPTION');
    this.maxBodySize = options.maxBodySize ?? defaultMaxBodySize;
    if (!Number.isSafeInteger(this.maxBodySize) || this.maxBodySize < 1) {
      throw codedError(new RangeError(`publishApi.maxBodySize must be a positive integer (got ${String(options.maxBodySize)})`), 'WS_ERR_INVALID_OPTION');
    }
  }

  /** Answers `req` when it is for this endpoint's path (true); false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    if ((query === -1 ? url : url.slice(0, query)) !== this.path) return false;
    if (req.method !== 'POST') {
      answer(res, 405, { error: 'method_not_allowed', message: 'Use POST' }, { Allow: 'POST' });
      return true;
    }
    // The key before the body: an unauthenticated caller never gets to make the process read or parse anything.
    if (!this.authorized(req.headers.authorization)) {
      answer(res, 401, { error: 'unauthorized', message: 'Send the API key as "Authorization: apikey KEY" or "Authorization: Bearer KEY"' }, { 'WWW-Authenticate': 'Bearer' });
      return true;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      answer(res, 415, { error: 'unsupported_media_type', message: 'The body must be application/json' });
      return true;
    }
    readBoundedBody(req, res, this.maxBodySize, `The body may be at most ${this.maxBodySize} bytes`, (body) => this.received(body, res));
    return true;
  }

  private authorized(header: string | undefined): boolean {
    const m = header === undefined ? null : /^(?:apikey|bearer)[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (m === null) return false;
    const given = digest(m[1]!);
    let match = false;
    // Every key is compared, whichever matches: the time taken says nothing about which one did.
    for (const key of this.keys) match = timingSafeEqual(given, key) || match;
    return match;
  }

  private received(body: Buffer, res: ServerResponse): void {
    const request = parseRequest(body.toString('utf8'));
    if (typeof request === 'string') {
      answer(res, 400, { error: 'bad_request', message: request });
      return;
    }
    this.publish(request).then(
      (id) => answer(res, 200, id === undefined ? {} : { id }),
      (error: unknown) => {
        const e = error as { code?: unknown; message?: unknown };
        // Data JSON.stringify refuses is the caller's fault; anything else is the adapter's (a store that is down).
        if (e?.code === 'WS_ERR_INVALID_ARGUMENT') answer(res, 400, { error: 'bad_request', message: String(e.message) });
        else answer(res, 503, { error: 'publish_failed', message: typeof e?.message === 'string' ? e.message : String(error) });
      },
    );
  }
}

/** The body, checked: `{room, event, data}` or `{user, event, data}` (data may be absent: null); or what is wrong with it. */
export function parseRequest(text: string): PublishRequest | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'The body is not valid JSON';
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'The body must be a JSON object';
  const o = body as Record<string, unknown>;
  if (!isName(o.event)) return '"event" must be a string of 1-256 characters';
  const data = o.data === undefined ? null : o.data;
  if (o.room !== undefined && o.user !== undefined) return 'Give "room" or "user", not both';
  if (o.room !== undefined) return isName(o.room) ? { room: o.room, event: o.event, data } : '"room" must be a string of 1-256 characters';
  if (o.user !== undefined) return isName(o.user) ? { user: o.user, event: o.event, data } : '"user" must be a string of 1-256 characters';
  return 'Give "room" (publish to a room) or "user" (send to every connection of a user)';
}
