// What `switchboard serve` does with each connection: the classic ws
// tutorial server, echo, or broadcast (a minimal group chat).
import type { WebSocket, WebSocketServer } from 'switchboard';
import type { ServerLog } from './server-log.js';

export type Mode = 'tutorial' | 'echo' | 'broadcast';

export interface ConnectionContext {
  id: number;
  log: ServerLog;
  wss: WebSocketServer;
}

export type ModeHandler = (ws: WebSocket, context: ConnectionContext) => void;

/** The ws tutorial server, line for line: its three stdout lines and its reply (typo included). */
const tutorial: ModeHandler = (ws, { id, log }) => {
  log.tutorialLine('New Client Connected');
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    log.message(id, data, isBinary);
    log.tutorialLine(`Client Has send us the data: ${data}`);
    ws.send(`We have recieved a message: ${data}`);
  });
  ws.on('close', () => log.tutorialLine('Client has disconnected!'));
};

/** Every message goes back to its sender unchanged, as text or binary as it came. */
const echo: ModeHandler = (ws, { id, log }) => {
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    log.message(id, data, isBinary);
    ws.send(data, { binary: isBinary });
  });
};

/** Every message goes to every other open connection (not back to its sender). */
const broadcast: ModeHandler = (ws, { id, log, wss }) => {
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    let relayed = 0;
    for (const peer of wss.clients) {
      if (peer === ws || peer.readyState !== peer.OPEN) continue;
      peer.send(data, { binary: isBinary });
      relayed++;
    }
    log.message(id, data, isBinary, relayed);
  });
};

export const MODES: Record<Mode, ModeHandler> = { tutorial, echo, broadcast };
