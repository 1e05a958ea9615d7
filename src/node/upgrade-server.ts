import { Buffer } from 'node:buffer';
import { IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { errorResponse, findHeadEnd, hasToken, parseRequestHead } from '../protocol/index.js';
import { acceptWithSharedReads, hasSharedReads, kChunkSink } from './shared-reads.js';

/** Largest request head accepted (ws-style servers see small heads; this bounds what a client can make us hold). */
const MAX_HEAD_SIZE = 16 * 1024;

/**
 * The listening server a `WebSocketServer({ port })` creates: a TCP server
 * that reads just the request head and hands upgrade requests over as an
 * http server would (`'upgrade'`, (req, socket, head)), with none of the
 * per-connection machinery of a general HTTP server. Every connection
 * reads into one shared buffer (shared-reads.ts). Other requests get 426
 * (as ws answers them), malformed ones 400, and a client that does not send
 * its whole head within `handshakeTimeout` ms gets 408.
 */
export function createUpgradeServer(handshakeTimeout: number): Server {
  const server = createServer({ noDelay: true }, (socket) => readRequestHead(server, socket, handshakeTimeout));
  // Before any connection can arrive: 'listening' is emitted before the event loop polls the new handle.
  server.on('listening', () => acceptWithSharedReads(server));
  return server;
}

function readRequestHead(server: Server, socket: Socket, handshakeTimeout: number): void {
  let buffered: Buffer | null = null;
  const onTimeout = (): void => refuse(socket, 408, 'The request head did not arrive in time');
  // The chunk is lent (shared-reads.ts): whatever is kept is copied.
  const onChunk = (chunk: Buffer): void => {
    if (sharedReads) chunk = Buffer.from(chunk);
    const data = buffered === null ? chunk : Buffer.concat([buffered, chunk]);
    const end = findHeadEnd(data, buffered === null ? 0 : buffered.length);
    if (end === -1) {
      if (data.length > MAX_HEAD_SIZE) {
        stopReading();
        refuse(socket, 431, 'Request header fields too large');
      } else {
        buffered = data;
      }
      return;
    }
    stopReading();
    socket.removeListener('timeout', onTimeout);
    socket.setTimeout(0);
    const head = parseRequestHead(data.subarray(0, end));
    if (head === null) {
      refuse(socket, 400, 'Malformed HTTP request');
      return;
    }
    const req = new IncomingMessage(socket);
    req.method = head.method;
    req.url = head.target;
    req.httpVersionMajor = head.versionMajor;
    req.httpVersionMinor = head.versionMinor;
    req.httpVersion = `${head.versionMajor}.${head.versionMinor}`;
    req.rawHeaders = head.rawHeaders;
    const headers = headerObject(head.rawHeaders);
    req.headers = headers;
    req.complete = true;
    const isUpgrade = headers.upgrade !== undefined && hasToken(headers.connection, 'upgrade');
    if (!isUpgrade || server.listenerCount('upgrade') === 0) {
      refuse(socket, 426, 'Upgrade Required', { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' });
      return;
    }
    server.emit('upgrade', req, socket, data.subarray(end));
    // A WebSocket that took the socket over reads from it now. If none
    // did (an asynchronous verifyClient, a handler that upgrades later),
    // the socket waits paused, so that nothing is read and lost meanwhile.
    // Pausing only then spares the common case a pause and a resume.
    if (!socket.destroyed && !isTakenOver()) socket.pause();
  };
  const sharedReads = hasSharedReads(socket);
  const stopReading = (): void => {
    if (sharedReads) socket[kChunkSink] = ignoreChunk;
    else socket.removeListener('data', onChunk);
  };
  const isTakenOver = (): boolean => (sharedReads ? socket[kChunkSink] !== ignoreChunk : socket.listenerCount('data') > 0);
  socket.on('error', destroySelf);
  socket.setTimeout(handshakeTimeout);
  socket.once('timeout', onTimeout);
  if (sharedReads) socket[kChunkSink] = onChunk;
  else socket.on('data', onChunk);
}

function ignoreChunk(): void {}

/** `req.headers` as Node builds it: lower-case names, repeated fields joined with ", " (set-cookie as a list). */
function headerObject(rawHeaders: string[]): IncomingMessage['headers'] {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    const existing = headers[name];
    if (existing === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = `${existing}, ${value}`;
  }
  return headers;
}

function refuse(socket: Socket, status: number, message: string, headers?: Record<string, string>): void {
  socket.once('finish', destroySelf);
  if (socket.writable) socket.end(errorResponse(status, message, headers));
  else socket.destroy();
}

function destroySelf(this: Socket): void {
  this.destroy();
}
