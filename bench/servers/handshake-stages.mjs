// Where a switchboard handshake's time goes: a server for ../shared/perf's
// conns-* scenarios that is net-echo's minimal handshake plus, by STAGE, the
// pieces switchboard adds, so that each piece's cost is the difference
// between two stages measured side by side (bench/RESULTS.md, "Handshakes"):
//
//   cd ../shared/perf && node run.mjs --rounds 2 --scenarios conns-10k \
//     s0='env STAGE=0 node /path/to/bench/servers/handshake-stages.mjs' ... s4='env STAGE=4 ...' \
//     switchboard='node /path/to/bench/servers/switchboard.mjs' ws
//
//  0: net-echo's handshake (a regular expression finds the key; SHA-1 answer)
//  1: + switchboard's request-head parser, header object and RFC 6455 checks (switchboard/protocol)
//  2: + an http.IncomingMessage as the request object (what ws's API hands out as `req`)
//  3: + the handshake timeout (socket.setTimeout while the head is read)
//  4: + a switchboard WebSocket attached to the socket (internal `_attach`), echoing
// The full server adds client tracking, verifyClient/handleProtocols hooks and the
// 'connection' event on top of stage 4.
import net from 'node:net';
import { IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { findHeadEnd, parseRequestHead, validateUpgradeRequest, acceptResponseLines } from 'switchboard/protocol';
import { WebSocket } from 'switchboard';
const STAGE = Number(process.env.STAGE || 0);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
function headerObject(rawHeaders) {
  const headers = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase(); const value = rawHeaders[i + 1];
    const existing = headers[name];
    if (existing === undefined) headers[name] = value; else headers[name] = `${existing}, ${value}`;
  }
  return headers;
}
function onHead(socket, data, end) {
  let response;
  if (STAGE === 0) {
    const text = data.subarray(0, end).toString('latin1');
    const key = /\r\nsec-websocket-key:\s*([^\r\n]+)/i.exec(text);
    const accept = createHash('sha1').update(key[1].trim() + GUID).digest('base64');
    response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
  } else {
    const head = parseRequestHead(data.subarray(0, end));
    let req = { method: head.method, url: head.target, httpVersionMajor: head.versionMajor, httpVersionMinor: head.versionMinor, headers: headerObject(head.rawHeaders) };
    if (STAGE >= 2) {
      const r = new IncomingMessage(socket);
      r.method = head.method; r.url = head.target; r.httpVersionMajor = head.versionMajor; r.httpVersionMinor = head.versionMinor;
      r.httpVersion = `${head.versionMajor}.${head.versionMinor}`; r.rawHeaders = head.rawHeaders; r.headers = req.headers; r.complete = true;
      req = r;
    }
    const upgrade = validateUpgradeRequest(req);
    response = acceptResponseLines(upgrade.key, undefined, undefined).concat('\r\n').join('\r\n');
  }
  socket.write(response);
  if (STAGE >= 4) {
    const ws = new WebSocket();
    ws._attach(socket, data.subarray(end), true, { maxPayload: 64 << 20 });
    ws.on('message', (d, b) => ws.send(d, { binary: b }));
  } else socket.on('data', (chunk) => socket.write(chunk));
}
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {});
  if (STAGE >= 3) socket.setTimeout(10000);
  let buffered = null;
  const onData = (chunk) => {
    const data = buffered === null ? chunk : Buffer.concat([buffered, chunk]);
    const end = findHeadEnd(data, 0);
    if (end === -1) { buffered = data; return; }
    socket.off('data', onData);
    if (STAGE >= 3) socket.setTimeout(0);
    onHead(socket, data, end);
  };
  socket.on('data', onData);
});
server.listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1', () => console.log('READY'));
process.on('SIGTERM', () => process.exit(0));
