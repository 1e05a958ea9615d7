// TCP bridging (websocat's tcp-l: and tcp:, websockify's job): the bytes of
// a TCP connection go out as binary WebSocket messages and every message
// received (binary, or the UTF-8 bytes of text) is written to the TCP
// connection. Both directions are bounded: the TCP socket stops being read
// while the WebSocket has more than HIGH_WATER bytes unsent, and the
// WebSocket stops being read while the TCP socket has as much unwritten.
//
// Closes carry over: the TCP peer's end (FIN) closes the WebSocket with 1000
// once everything it sent is out; a WebSocket close ends the TCP connection
// (FIN) after what was received is written; a TCP error closes with 1011
// (1014 when the TCP server cannot be reached, as a gateway would say),
// and a WebSocket that is lost (1006) resets the TCP connection.
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import type { WebSocket } from 'switchboard';

/** Bytes either side may hold unsent before the other side stops being read. */
export const TCP_BRIDGE_HIGH_WATER = 1024 * 1024;

export interface TcpBridgeEvents {
  /** The bridge is over: the WebSocket closed with `code`. */
  closed?(code: number, reason: string): void;
}

/** "HOST:PORT", "[::1]:PORT" or "PORT" (HOST defaults to `defaultHost`). */
export function parseHostPort(value: string, defaultHost: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (m === null || port > 65535) throw new Error(`expected HOST:PORT or PORT, got ${JSON.stringify(value)}`);
  return { host: m[1] ?? m[2] ?? defaultHost, port };
}

/**
 * Joins an open (or opening) WebSocket and a TCP socket. The socket must
 * be fresh: its error listener is put on here, before anything is written.
 */
export function bridgeTcp(ws: WebSocket, socket: Socket, events: TcpBridgeEvents = {}): void {
  let wsPaused = false;
  let connected = !socket.connecting;
  socket.setNoDelay(true);

  socket.on('connect', () => (connected = true));
  socket.on('error', (error: NodeJS.ErrnoException) => {
    const code = connected ? 1011 : 1014;
    const reason = `${connected ? 'tcp' : 'cannot reach the TCP server'}: ${error.code ?? error.message}`.slice(0, 123);
    if (ws.readyState === ws.OPEN) ws.close(code, reason);
    else if (ws.readyState === ws.CONNECTING) ws.terminate();
  });

  // TCP → WebSocket.
  const resumeSocket = (): void => {
    if (socket.isPaused() && ws.bufferedAmount < TCP_BRIDGE_HIGH_WATER) socket.resume();
  };
  socket.on('data', (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(chunk, { binary: true }, resumeSocket);
    if (ws.bufferedAmount >= TCP_BRIDGE_HIGH_WATER) socket.pause();
  });
  socket.on('end', () => {
    // After the data already handed to the socket: close frames queue behind messages.
    if (ws.readyState === ws.OPEN) ws.close(1000);
  });
  socket.on('close', () => {
    if (ws.readyState === ws.OPEN) ws.close(1000);
    else if (ws.readyState === ws.CONNECTING) ws.terminate();
  });

  // WebSocket → TCP.
  const onOpen = (): void => {
    // Before the WebSocket is open nothing is read from the TCP side.
    if (socket.isPaused()) socket.resume();
  };
  if (ws.readyState === ws.OPEN) onOpen();
  else {
    socket.pause();
    ws.once('open', onOpen);
  }
  ws.on('message', (data: Buffer) => {
    if (!socket.writable) return;
    if (!socket.write(data) && !wsPaused) {
      wsPaused = true;
      ws.pause();
      socket.once('drain', () => {
        wsPaused = false;
        ws.resume();
      });
    }
  });
  ws.on('close', (code: number, reason: Buffer) => {
    if (code === 1006) socket.resetAndDestroy();
    else socket.end();
    events.closed?.(code, reason.toString());
  });
}

/** serve --tcp-connect: each WebSocket connection gets its own TCP connection to `target`. */
export function bridgeToTcpServer(ws: WebSocket, target: { host: string; port: number }, events: TcpBridgeEvents = {}): void {
  // Half-open: after the TCP server's FIN, what the client still sends is written until the WebSocket closes.
  const socket = netConnect({ host: target.host, port: target.port, allowHalfOpen: true });
  bridgeTcp(ws, socket, events);
}

/**
 * connect --tcp-listen: a TCP server; each connection it accepts is bridged
 * to a new WebSocket made by `open()`.
 */
export function listenTcp(address: { host: string; port: number }, open: (socket: Socket) => WebSocket): Server {
  // Half-open: after the TCP client's FIN, the server's replies are still written until the WebSocket closes.
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    bridgeTcp(open(socket), socket);
  });
  server.listen(address.port, address.host);
  return server;
}
