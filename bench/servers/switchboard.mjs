// Server under test for ../shared/perf (see its README, "Server convention"):
// echo on any path, one broadcast group on /broadcast, READY when listening.
import { WebSocketServer, broadcast } from 'switchboard';

const port = Number(process.env.PORT);
if (!port) throw new Error('PORT is required');
const wss = new WebSocketServer({
  host: process.env.HOST || '127.0.0.1',
  port,
  maxPayload: 64 * 1024 * 1024,
  // The harness keeps up to 16 MiB in flight per connection (1 conn x 16 x 1 MiB): with the
  // default limit (16 MiB) the replies' headers alone could push a slow-reading generator's
  // connection over it (WS_ERR_BUFFERED_AMOUNT_EXCEEDED, seen in echo-1c-1m-bin). ws and uws
  // never disconnect for this.
  disconnectBufferedAmount: 256 * 1024 * 1024,
  ...(process.env.DEFLATE === '1' ? { perMessageDeflate: true } : {}),
});
const room = new Set();
wss.on('connection', (ws, req) => {
  if (req.url === '/broadcast') {
    room.add(ws);
    ws.on('close', () => room.delete(ws));
    // One frame built per message and the same bytes written to every member.
    ws.on('message', (data, isBinary) => broadcast(room, data, { binary: isBinary }));
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on('listening', () => console.log('READY'));
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
