// The least a Node program can do per read, per write and per connection with Node's
// public socket API, for ../shared/perf (its server convention: PORT, HOST, READY).
// Like ../shared/perf's net-echo (a minimal opening handshake, then every chunk read is
// written straight back, no framing), but reading the way switchboard does: every
// accepted connection reads into one shared buffer (`onread`), so a read allocates
// nothing and reaches JavaScript in one call, with no readable stream and no 'data'
// event. What switchboard spends beyond this server is its own (framing, unmasking,
// events); what this server spends beyond uws is Node's (net.Socket, libuv streams,
// the JavaScript entry per read, the Writable per write).
//   echo path: each chunk is copied out of the shared buffer and written back (NOCOPY=1: not copied).
//   /broadcast: each chunk is copied once and written to every member.
import net from 'node:net';
import { createHash } from 'node:crypto';

const port = Number(process.env.PORT);
const host = process.env.HOST || '127.0.0.1';
if (!port) throw new Error('PORT is required');
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const room = new Set();
const shared = new Uint8Array(256 * 1024);
const kSink = Symbol('sink');

// NOCOPY=1 writes the view of the shared buffer itself: a write that libuv cannot finish at once
// would send bytes a later read has overwritten, so this is a measurement (what the copy costs), not
// a server (docs/performance.md, "The 64 KiB rows").
const echoCopies = process.env.NOCOPY !== '1';
function echo(chunk, socket) {
  socket.write(echoCopies ? Buffer.from(chunk) : chunk);
}
function fanout(chunk) {
  const copy = Buffer.from(chunk);
  for (const peer of room) peer.write(copy);
}
function head(chunk, socket) {
  const end = chunk.indexOf('\r\n\r\n');
  // The generator sends each request head in one write; a real server would hold partial heads.
  if (end === -1) return void socket.destroy();
  const text = chunk.latin1Slice(0, end + 4);
  const key = /\r\nsec-websocket-key:\s*([^\r\n]+)/i.exec(text);
  if (!key) return void socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  const path = text.slice(text.indexOf(' ') + 1, text.indexOf(' ', text.indexOf(' ') + 1));
  const accept = createHash('sha1').update(key[1].trim() + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  if (path === '/broadcast') {
    room.add(socket);
    socket.on('close', () => room.delete(socket));
    socket[kSink] = fanout;
  } else socket[kSink] = echo;
  if (end + 4 < chunk.length) socket[kSink](chunk.subarray(end + 4), socket);
}

const server = net.createServer({ noDelay: true });
server.listen(port, host, () => {
  // As switchboard's shared-reads.ts: wrap accepted handles in sockets that read into `shared`.
  server._handle.onconnection = (error, handle) => {
    if (error) return;
    handle.setNoDelay(true);
    const socket = new net.Socket({
      handle,
      readable: true,
      writable: true,
      onread: {
        buffer: shared,
        callback: (nread, buffer) => {
          socket[kSink](Buffer.from(buffer.buffer, buffer.byteOffset, nread), socket);
          return true;
        },
      },
    });
    socket[kSink] = head;
    socket.on('error', () => {});
  };
  console.log('READY');
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
