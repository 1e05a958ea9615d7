import { WebSocket } from './websocket.js';

/**
 * Closes every connection in `connections` with `code` and `reason` and
 * resolves once all are closed; any still open after `timeout` ms is
 * terminated (a peer that never answers the close frame cannot hold a
 * shutdown up). What WebSocketServer.shutdown() and Hub.close() share.
 */
export function closeAll(connections: Iterable<WebSocket>, code: number, reason: string | undefined, timeout: number): Promise<void> {
  const open = [...connections];
  const gone = open.map(
    (ws) =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        try {
          ws.close(code, reason);
        } catch {
          ws.terminate();
        }
      }),
  );
  const timer = setTimeout(() => {
    for (const ws of open) ws.terminate();
  }, timeout);
  timer.unref?.();
  return Promise.all(gone).then(
    () => clearTimeout(timer),
    () => clearTimeout(timer),
  );
}
