import { Buffer } from 'node:buffer';
import { channel } from 'node:diagnostics_channel';
import { Socket, type OnReadOpts, type Server, type SocketConstructorOpts } from 'node:net';
import { simdMaskBuffer } from '../protocol/index.js';

/**
 * What libuv reads per call at most without WebAssembly SIMD (the size of
 * the SIMD buffer): four times the 64 KiB Node reads by default, so that a
 * 64 KiB message usually arrives whole in one read and a 1 MiB one in four,
 * and the replies to several leave in one write (bench/echo-instructions.mjs
 * --tool strace: reads and writevs per 64 KiB echo 1.03 and 1.00 at 64 KiB,
 * 0.29 and 0.26 at 256 KiB).
 */
const READ_BUFFER_SIZE = 256 * 1024;

let readBuffer: Uint8Array | null = null;
/** Where readBuffer lies, kept apart: a view's `buffer` and `byteOffset` are getters, and a read should not pay for them. */
let readMemory: ArrayBufferLike = new ArrayBuffer(0);
let readOffset = 0;

/**
 * Where every connection that `WebSocketServer({ port })` accepts reads
 * into. The bytes are valid only during the sink call that reports them:
 * what has to outlive it is copied (the frame parser's `borrowedChunks`).
 * It is the protocol layer's SIMD buffer where WebAssembly SIMD runs:
 * payloads are unmasked where they were read, several times faster than
 * JavaScript can, and then copied out once.
 */
export function sharedReadBuffer(): Uint8Array {
  if (readBuffer === null) {
    readBuffer = simdMaskBuffer() ?? new Uint8Array(READ_BUFFER_SIZE);
    readMemory = readBuffer.buffer;
    readOffset = readBuffer.byteOffset;
  }
  return readBuffer;
}

/** Who gets the bytes a socket with shared reads has read (nothing is emitted as 'data'). */
export const kChunkSink = Symbol('switchboard.chunkSink');

/** Gets the socket too, so that one function can serve every connection (no closure per connection). */
export type ChunkSink = (chunk: Buffer, socket: SharedReadSocket) => void;
export type SharedReadSocket = Socket & { [kChunkSink]: ChunkSink | null };

export function hasSharedReads(socket: object): socket is SharedReadSocket {
  return kChunkSink in socket;
}

/** The parts of a listening net.Server's internals that accepting a connection goes through. */
interface ListeningServer extends Server {
  _handle: { onconnection?: (error: number, clientHandle: ClientHandle) => void } | null;
  _connections: number;
  allowHalfOpen?: boolean;
}
interface ClientHandle {
  useUserBuffer?: unknown;
  setNoDelay?: (enable: boolean) => void;
  close(): void;
}

const serverSocketChannel = channel('net.server.socket');

/**
 * Makes a listening `net.Server` (created with `noDelay: true`) wrap the
 * connections it accepts in sockets whose reads go to one buffer shared by
 * all of them (Node's `onread` option), and from there to
 * `socket[kChunkSink]`, which the 'connection' listener must set at once.
 * Everything else is what net.Server does on accept: the connection
 * limit, the connection count, the 'connection' event.
 *
 * Why: with ordinary reads, Node allocates a buffer for every read and
 * pushes it through the readable stream ('data'); at one small message per
 * read (many connections, one message in flight each) that costs more than
 * parsing, answering and framing the message. Here a read allocates nothing
 * and reaches the parser in one call. Wrapping an ordinary socket's handle
 * afterwards would cost a second socket object per connection.
 *
 * Returns false, changing nothing, where net.Server's internals are not
 * as expected (another Node version); connections are then ordinary
 * sockets. Pause and resume stop and restart reading, as for any socket.
 */
export function acceptWithSharedReads(server: Server): boolean {
  const listening = server as ListeningServer;
  const handle = listening._handle;
  if (handle === null || typeof handle.onconnection !== 'function' || typeof listening._connections !== 'number') return false;
  const acceptOrdinarily = handle.onconnection;
  handle.onconnection = function onConnection(this: unknown, error: number, clientHandle: ClientHandle): void {
    if (error || typeof clientHandle?.useUserBuffer !== 'function' || (server.maxConnections && listening._connections >= server.maxConnections)) {
      // Errors and refusals as net.Server reports them.
      acceptOrdinarily.call(this, error, clientHandle);
      return;
    }
    clientHandle.setNoDelay?.(true);
    const socket = withSharedReads(clientHandle, listening.allowHalfOpen ?? false);
    listening._connections++;
    const counted = socket as unknown as { server: Server; _server: Server };
    counted.server = server;
    counted._server = server;
    server.emit('connection', socket);
    if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket });
  };
  return true;
}

function withSharedReads(clientHandle: ClientHandle, allowHalfOpen: boolean): SharedReadSocket {
  // `handle` is how net.Server itself wraps an accepted connection; @types/node 20 lists neither
  // it nor `noDelay` (which only records that TCP_NODELAY is set) for the constructor, and
  // `onread` only for net.connect().
  const options: SocketConstructorOpts & { handle: unknown; noDelay: boolean; onread: OnReadOpts } = {
    handle: clientHandle,
    allowHalfOpen,
    readable: true,
    writable: true,
    noDelay: true,
    onread: {
      buffer: sharedReadBuffer(),
      // Node passes the buffer given above, always sharedReadBuffer().
      callback: (nread: number): boolean => {
        const sink = socket[kChunkSink];
        if (sink !== null) sink(Buffer.from(readMemory, readOffset, nread), socket);
        // false would stop reading; pause() is how that is asked for.
        return true;
      },
    },
  };
  const socket = new Socket(options) as SharedReadSocket;
  socket[kChunkSink] = null;
  return socket;
}
