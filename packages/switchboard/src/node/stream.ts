import { Duplex, type DuplexOptions } from 'node:stream';
import type { WebSocket } from './websocket.js';

/**
 * A Node Duplex stream over a WebSocket, as ws's `createWebSocketStream`:
 * each message becomes a chunk on the readable side (the socket is paused
 * while the stream's buffer is full), each written chunk becomes a message,
 * and ending the writable side closes the WebSocket.
 */
export function createWebSocketStream(ws: WebSocket, options: DuplexOptions = {}): Duplex {
  let terminateOnDestroy = true;
  const duplex = new Duplex({ ...options, autoDestroy: false, emitClose: false, objectMode: false, writableObjectMode: false });

  ws.on('message', (data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean) => {
    const chunk = !isBinary && duplex.readableObjectMode ? data.toString() : data;
    if (!duplex.push(chunk)) ws.pause();
  });
  ws.once('error', (error: Error) => {
    if (duplex.destroyed) return;
    terminateOnDestroy = false;
    duplex.destroy(error);
  });
  ws.once('close', () => {
    if (duplex.destroyed) return;
    duplex.push(null);
  });

  duplex._destroy = (error, callback) => {
    if (ws.readyState === ws.CLOSED) {
      callback(error);
      process.nextTick(() => duplex.emit('close'));
      return;
    }
    let called = false;
    ws.once('error', (wsError: Error) => {
      called = true;
      callback(wsError);
    });
    ws.once('close', () => {
      if (!called) callback(error);
      process.nextTick(() => duplex.emit('close'));
    });
    if (terminateOnDestroy) ws.terminate();
  };

  duplex._final = (callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._final(callback));
      return;
    }
    if (ws._socket === null) return;
    if (ws._socket.writableFinished) {
      callback();
      if (duplex.readableEnded) duplex.destroy();
    } else {
      ws._socket.once('finish', () => callback());
      ws.close();
    }
  };

  duplex._read = () => {
    if (ws.isPaused) ws.resume();
  };

  duplex._write = (chunk, _encoding, callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._write(chunk, _encoding, callback));
      return;
    }
    ws.send(chunk, callback);
  };

  duplex.on('end', () => {
    if (!duplex.destroyed && duplex.writableFinished) duplex.destroy();
  });
  duplex.on('error', duplexOnError);
  return duplex;
}

/**
 * As in ws: an error (a write after close, the connection's own error)
 * destroys the stream, and one nobody listens to is thrown, as Node streams
 * do: a stream's user owns its errors (stream.pipeline and friends listen).
 */
function duplexOnError(this: Duplex, error: Error): void {
  this.removeListener('error', duplexOnError);
  this.destroy();
  if (this.listenerCount('error') === 0) this.emit('error', error);
}
