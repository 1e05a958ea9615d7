// The reference server: `ws` (devDependency), written like servers/switchboard.mjs
// to the convention of ../shared/perf: PORT/HOST/DEFLATE from the environment, echo
// on any path, one broadcast group on /broadcast, READY when listening, exit on
// SIGTERM. bench/run.mjs starts it with WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1
// (pure-JavaScript ws; the native add-ons are not installed here anyway).
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT);
if (!port) throw new Error('PORT is required');
const wss = new WebSocketServer({
  host: process.env.HOST || '127.0.0.1',
  port,
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: process.env.DEFLATE === '1',
});
const room = new Set();
wss.on('connection', (ws, req) => {
  if (req.url === '/broadcast') {
    room.add(ws);
    ws.on('close', () => room.delete(ws));
    ws.on('message', (data, isBinary) => {
      for (const peer of room) peer.send(data, { binary: isBinary });
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
  ws.on('error', () => {});
});
wss.on('listening', () => console.log('READY'));
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
