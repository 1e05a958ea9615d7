// A request body read whole into memory, up to a limit: what the hub's HTTP
// endpoints (publish-api.ts, http-fallback.ts) accept. Past the limit the
// request gets 413 and its connection is closed once the answer is out, so
// that the rest of the body is never read (RFC 9110 section 15.5.14).
import { Buffer } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Reads `req`'s body and hands it to `onBody` (not called when the body is
 * over `maxBytes` or the request is aborted). Over the limit, declared by
 * Content-Length or streamed: `413 {"error": "too_large", "message": tooLargeMessage}`
 * with `Connection: close`, then the socket is destroyed.
 */
export function readBoundedBody(req: IncomingMessage, res: ServerResponse, maxBytes: number, tooLargeMessage: string, onBody: (body: Buffer) => void): void {
  if (Number(req.headers['content-length']) > maxBytes) {
    tooLarge(req, res, tooLargeMessage);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  req.on('data', (chunk: Buffer) => {
    if (over) return;
    size += chunk.length;
    if (size > maxBytes) {
      over = true;
      chunks.length = 0;
      tooLarge(req, res, tooLargeMessage);
    } else chunks.push(chunk);
  });
  req.on('error', () => {}); // an aborted request: nobody is left to answer
  req.on('end', () => {
    if (over) return;
    // One chunk (the usual small body) is handed on as it is, not copied.
    onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  });
}

function tooLarge(req: IncomingMessage, res: ServerResponse, message: string): void {
  answerJson(res, 413, { error: 'too_large', message }, { Connection: 'close' });
  res.on('finish', () => req.destroy());
}

/** A JSON answer, not cached; nothing when an answer has already started. */
export function answerJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}
