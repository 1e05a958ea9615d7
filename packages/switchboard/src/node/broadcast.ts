import { Blob } from 'node:buffer';
import { Opcode, encodeFrame } from '../protocol/index.js';
import { WebSocket, toBuffer, type WebSocketData } from './websocket.js';
import { codedError } from '../protocol/switchboard-error.js';

export interface BroadcastOptions {
  /** Send as a binary message. Default: binary unless `data` is a string. */
  binary?: boolean;
  /** A connection to leave out (typically the sender). */
  except?: WebSocket | null;
}

/**
 * Sends one message to every open connection in `clients` (for example
 * `wss.clients` or a room's Set) and returns how many it went to. The frame
 * is built once and the same bytes are written to every server-side
 * connection without permessage-deflate; the others (compressed or
 * client-side connections) get an ordinary `send`, so each still sees a
 * valid frame. Order with each connection's own sends is kept.
 */
export function broadcast(clients: Iterable<WebSocket>, data: Exclude<WebSocketData, Blob>, options?: BroadcastOptions): number {
  if (data instanceof Blob) throw codedError(new TypeError('broadcast does not take a Blob: read it into a Buffer first'), 'WS_ERR_INVALID_ARGUMENT');
  const payload = toBuffer(typeof data === 'number' || typeof data === 'boolean' ? String(data) : data);
  const binary = options?.binary ?? typeof data !== 'string';
  const except = options?.except ?? null;
  const frame = encodeFrame(payload, { opcode: binary ? Opcode.Binary : Opcode.Text });
  let count = 0;
  for (const ws of clients) {
    if (ws === except) continue;
    if (ws._writeSharedFrame(frame)) count++;
    else if (ws.readyState === WebSocket.OPEN) {
      ws.send(payload, { binary });
      count++;
    }
  }
  return count;
}
