import { Buffer } from 'node:buffer';
import { IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { MAX_HEAD_BYTES, MAX_HEADER_FIELDS, TOO_MANY_FIELDS, findHeadEnd, hasToken, parseRequestHead } from '../protocol/index.js';
import { destroySelf, refuseUpgrade } from './refuse.js';
import { acceptWithSharedReads, hasSharedReads, kChunkSink, type SharedReadSocket } from './shared-reads.js';

/** How often at most the handshake deadlines are checked, in ms. */
const MAX_SWEEP_INTERVAL = 1000;

/**
 * The part of a head that arrived so far, when it came in several reads:
 * a buffer grown geometrically (so a head sent a byte at a time costs
 * linear copying), of which the first `kHeadLength` bytes are the head.
 */
const kHeadSoFar = Symbol('switchboard.headSoFar');
const kHeadLength = Symbol('switchboard.headLength');
/** The 'data' listener of a socket without shared reads, to remove once its head is read. */
const kHeadListener = Symbol('switchboard.headListener');
/** The reader a socket still sending its head is listed in, so that closing forgets it. */
const kHeadReader = Symbol('switchboard.headReader');
type HeadSocket = Socket & { [kHeadSoFar]?: Buffer; [kHeadLength]?: number; [kHeadListener]?: (chunk: Buffer) => void; [kHeadReader]?: RequestHeadReader };

/** The first buffer a partial head is held in (unless the head is larger); doubled as it fills, up to MAX_HEAD_BYTES. */
const MIN_HEAD_CAPACITY = 1024;
/** Default of `maxPartialHeadBytes`: 512 heads of the largest size, or thousands of ordinary ones. */
export const DEFAULT_MAX_PARTIAL_HEAD_BYTES = 8 * 1024 * 1024;
/** Seconds a client refused for want of room for its partial head is told to wait (Retry-After). */
const PARTIAL_HEAD_RETRY_AFTER = 5;

/** The `head` of an upgrade that came with no bytes after its request head (most of them); empty, so safe to share. */
const NO_BYTES = Buffer.alloc(0);

/**
 * The listening server a `WebSocketServer({ port })` creates: a TCP server
 * that reads just the request head and hands upgrade requests over as an
 * http server would (`'upgrade'`, (req, socket, head)), with none of the
 * per-connection machinery of a general HTTP server. Every connection
 * reads into one shared buffer (shared-reads.ts). Other requests get 426
 * (as ws answers them), malformed ones 400, heads over MAX_HEAD_BYTES or
 * with more than MAX_HEADER_FIELDS fields 431, and a client whose whole head
 * has not arrived `handshakeTimeout` ms after it connected gets 408.
 *
 * A head that arrives in one read (nearly all of them) is never held. The
 * bytes of heads that arrive in pieces are held until complete, at most
 * `maxPartialHeadBytes` for all connections together: a client whose
 * partial head would cross that gets 503 with Retry-After, so that many
 * connections trickling large heads cannot fill the process.
 */
export function createUpgradeServer(handshakeTimeout: number, maxPartialHeadBytes = DEFAULT_MAX_PARTIAL_HEAD_BYTES): Server {
  const server = createServer({ noDelay: true }, (socket) => reader.accept(socket));
  const reader = new RequestHeadReader(server, handshakeTimeout, maxPartialHeadBytes);
  // Before any connection can arrive: 'listening' is emitted before the event loop polls the new handle.
  server.on('listening', () => acceptWithSharedReads(server));
  return server;
}

/**
 * Reads the request head of every connection of one server. One instance
 * and one chunk function serve all connections, and the handshake timeout
 * is one periodic sweep rather than a timer per connection (as Node's http
 * server checks its headersTimeout): accepting a connection costs its
 * place in `waiting` and shared listener functions, no timer and no closure.
 */
class RequestHeadReader {
  /**
   * Connections still sending their head, each with the time its head is
   * due by (a monotonic clock: setting the system clock moves no deadline);
   * in order of arrival, so of deadline.
   */
  private readonly waiting = new Map<HeadSocket, number>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly sweepInterval: number;
  /** 0 (or anything not a positive finite number) turns the deadline off, as `socket.setTimeout(0)` does. */
  private readonly timeout: number;
  /** Bytes of the buffers partial heads are held in, all connections together. */
  private heldHeadBytes = 0;

  constructor(
    private readonly server: Server,
    timeout: number,
    private readonly maxHeldHeadBytes: number,
  ) {
    this.timeout = timeout > 0 && Number.isFinite(timeout) ? timeout : 0;
    this.sweepInterval = Math.min(MAX_SWEEP_INTERVAL, Math.max(10, Math.ceil(this.timeout / 4)));
  }

  accept(socket: HeadSocket): void {
    socket.on('error', destroySelf);
    if (this.timeout > 0) {
      this.waiting.set(socket, performance.now() + this.timeout);
      socket[kHeadReader] = this;
      // One function for every connection: a socket that closes before its head is complete is forgotten at once.
      socket.on('close', forgetClosedSocket);
      if (this.sweepTimer === null) {
        this.sweepTimer = setInterval(this.sweep, this.sweepInterval);
        this.sweepTimer.unref();
      }
    }
    if (hasSharedReads(socket)) {
      socket[kChunkSink] = this.onChunk;
    } else {
      const listener = (chunk: Buffer): void => this.onChunk(chunk, socket);
      socket[kHeadListener] = listener;
      socket.on('data', listener);
    }
  }

  /** Shared-read chunks are lent (shared-reads.ts): whatever outlives this call is copied. */
  private readonly onChunk = (chunk: Buffer, socket: HeadSocket): void => {
    const soFar = socket[kHeadSoFar];
    let data = chunk;
    let end: number;
    if (soFar === undefined) {
      end = findHeadEnd(chunk);
    } else {
      const held = socket[kHeadLength]!;
      data = appendChunk(soFar, held, chunk);
      // The head did not end in the bytes held: only the seam and the new bytes are searched.
      end = findHeadEnd(data, held);
    }
    if (end === -1) {
      if (data.length > MAX_HEAD_BYTES) {
        this.stopReading(socket);
        refuseUpgrade(socket, 431, `The request head is larger than ${MAX_HEAD_BYTES} bytes`);
      } else {
        this.holdPartialHead(socket, data);
      }
      return;
    }
    this.stopReading(socket);
    // A whole head that came in one read is held to the same limit as one that came in pieces.
    if (end > MAX_HEAD_BYTES) {
      refuseUpgrade(socket, 431, `The request head is larger than ${MAX_HEAD_BYTES} bytes`);
      return;
    }
    // Every string taken from the head is a copy; only the bytes after it are kept as bytes.
    const head = parseRequestHead(data.subarray(0, end), MAX_HEADER_FIELDS);
    if (head === TOO_MANY_FIELDS) {
      refuseUpgrade(socket, 431, `The request head has more than ${MAX_HEADER_FIELDS} header fields`);
      return;
    }
    if (head === null) {
      refuseUpgrade(socket, 400, 'Malformed HTTP request');
      return;
    }
    const req = new IncomingMessage(socket);
    req.method = head.method;
    req.url = head.target;
    req.httpVersionMajor = head.versionMajor;
    req.httpVersionMinor = head.versionMinor;
    req.httpVersion = `${head.versionMajor}.${head.versionMinor}`;
    req.rawHeaders = head.rawHeaders;
    req.headers = head.headers;
    req.complete = true;
    const headers = head.headers;
    // Only set-cookie is ever a list in parseRequestHead's headers.
    const isUpgrade = headers.upgrade !== undefined && hasToken(headers.connection as string | undefined, 'upgrade');
    if (!isUpgrade || this.server.listenerCount('upgrade') === 0) {
      refuseUpgrade(socket, 426, 'Upgrade Required', { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' });
      return;
    }
    // A copy either way: a lent chunk is reused, and a held head's buffer is freed with it.
    const rest = end === data.length ? NO_BYTES : Buffer.from(data.subarray(end));
    this.server.emit('upgrade', req, socket, rest);
    // A WebSocket that took the socket over reads from it now. If none
    // did (an asynchronous verifyClient, a handler that upgrades later),
    // the socket waits paused, so that nothing is read and lost meanwhile.
    // Pausing only then spares the common case a pause and a resume.
    if (!socket.destroyed && !isTakenOver(socket)) socket.pause();
  };

  /**
   * Keeps `data` (the head so far, at most MAX_HEAD_BYTES) until more
   * arrives: in the socket's buffer if `data` is a view of it, else in a
   * new one with room to grow. Refuses the connection (503) instead if
   * the buffer would take the bytes held for all connections past
   * `maxPartialHeadBytes` (RFC 9110 15.6.4: the server is out of room for
   * now, the request itself may be fine, so not 431).
   */
  private holdPartialHead(socket: HeadSocket, data: Buffer): void {
    const soFar = socket[kHeadSoFar];
    if (soFar !== undefined && data.buffer === soFar.buffer) {
      socket[kHeadLength] = data.length;
      return;
    }
    const capacity = Math.min(MAX_HEAD_BYTES, Math.max(MIN_HEAD_CAPACITY, 2 * (soFar?.length ?? 0), data.length));
    const growth = capacity - (soFar?.length ?? 0);
    if (this.heldHeadBytes + growth > this.maxHeldHeadBytes) {
      this.stopReading(socket);
      refuseUpgrade(socket, 503, 'Too many request heads are arriving in pieces; try again later', { 'Retry-After': PARTIAL_HEAD_RETRY_AFTER });
      return;
    }
    const buffer = Buffer.allocUnsafeSlow(capacity);
    buffer.set(data);
    if (soFar === undefined && socket[kHeadReader] === undefined) {
      // Without a deadline no 'close' listener was added on accept: one is needed now to give the bytes back.
      socket[kHeadReader] = this;
      socket.on('close', forgetClosedSocket);
    }
    this.heldHeadBytes += growth;
    socket[kHeadSoFar] = buffer;
    socket[kHeadLength] = data.length;
  }

  /** @internal The socket is gone: nothing left to wait for. */
  forget(socket: HeadSocket): void {
    this.waiting.delete(socket);
    this.dropPartialHead(socket);
  }

  private dropPartialHead(socket: HeadSocket): void {
    const soFar = socket[kHeadSoFar];
    if (soFar === undefined) return;
    this.heldHeadBytes -= soFar.length;
    socket[kHeadSoFar] = undefined;
    socket[kHeadLength] = undefined;
  }

  private stopReading(socket: HeadSocket): void {
    this.waiting.delete(socket);
    this.dropPartialHead(socket);
    if (hasSharedReads(socket)) {
      socket[kChunkSink] = ignoreChunk;
    } else {
      socket.removeListener('data', socket[kHeadListener]!);
      socket[kHeadListener] = undefined;
    }
  }

  /** Refuses the connections whose head is overdue. */
  private readonly sweep = (): void => {
    const now = performance.now();
    for (const [socket, deadline] of this.waiting) {
      if (deadline > now) break;
      this.stopReading(socket);
      if (!socket.destroyed) refuseUpgrade(socket, 408, 'The request head did not arrive in time');
    }
    // Until the last connection accepted has its head (even after the server closed): then no timer is left behind.
    if (this.waiting.size === 0) {
      clearInterval(this.sweepTimer!);
      this.sweepTimer = null;
    }
  };
}

/**
 * `held` bytes of `soFar` followed by `chunk`: in `soFar` itself when they
 * fit (no copy of what is held), else in a new buffer, to be kept by
 * holdPartialHead if the head is still not complete.
 */
function appendChunk(soFar: Buffer, held: number, chunk: Buffer): Buffer {
  const length = held + chunk.length;
  if (length <= soFar.length) {
    soFar.set(chunk, held);
    return soFar.subarray(0, length);
  }
  return Buffer.concat([soFar.subarray(0, held), chunk], length);
}

function forgetClosedSocket(this: HeadSocket): void {
  this[kHeadReader]?.forget(this);
}

function isTakenOver(socket: HeadSocket): boolean {
  return hasSharedReads(socket) ? (socket as SharedReadSocket)[kChunkSink] !== ignoreChunk : socket.listenerCount('data') > 0;
}

function ignoreChunk(): void {}


