import type { Duplex } from 'node:stream';
import { errorResponse } from '../protocol/index.js';

/**
 * Answers a refused upgrade request with an HTTP error and closes the socket.
 *
 * Every refusal in Switchboard goes through here (the library's servers, the
 * hub, the CLI and the playground), because the socket is the peer's: Node's
 * http server removes its own 'error' listener before it emits 'upgrade', so
 * a peer that resets the connection right after our answer would otherwise
 * raise an unhandled 'error' and take the process down. The listener goes on
 * before anything is written.
 */
export function refuseUpgrade(socket: Duplex, status: number, message: string, headers?: Record<string, string | number>): void {
  if (!socket.listeners('error').includes(destroySelf)) socket.on('error', destroySelf);
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // A peer that never reads our answer cannot hold the socket: it goes once the answer is flushed, or on error.
  socket.once('finish', destroySelf);
  socket.end(errorResponse(status, message, headers));
}

/**
 * The error listener of a socket nobody else reads yet (a refusal, a head
 * being read, a 101 being written): the peer reset it, so it goes. One
 * shared function, so that refuseUpgrade sees it is already there.
 */
export function destroySelf(this: Duplex): void {
  this.destroy();
}
