// What WebSocketServer#stats() reports: totals kept for handshakes and for
// closed connections, to which the open ones are added when asked.
import type { ServerStats } from './diagnostics.js';
import type { WebSocket } from './websocket.js';

export class ServerTotals {
  handshakesAccepted = 0;
  handshakesRefused = 0;
  messagesReceived = 0;
  messagesSent = 0;
  bytesReceived = 0;
  bytesSent = 0;

  /** A connection closed: what it did stays in the totals. */
  addClosed(ws: WebSocket): void {
    this.messagesReceived += ws._messagesReceived;
    this.messagesSent += ws._messagesSent;
    this.bytesReceived += ws._bytesReceived;
    this.bytesSent += ws._bytesSent;
  }

  /** The totals plus what the open `connections` did so far, in one pass over them. */
  snapshot(connections: ReadonlySet<WebSocket>): ServerStats {
    const stats: ServerStats = {
      connections: connections.size,
      bufferedBytes: 0,
      handshakesAccepted: this.handshakesAccepted,
      handshakesRefused: this.handshakesRefused,
      messagesReceived: this.messagesReceived,
      messagesSent: this.messagesSent,
      bytesReceived: this.bytesReceived,
      bytesSent: this.bytesSent,
    };
    for (const ws of connections) {
      stats.bufferedBytes += ws.bufferedAmount;
      stats.messagesReceived += ws._messagesReceived;
      stats.messagesSent += ws._messagesSent;
      stats.bytesReceived += ws._bytesReceived;
      stats.bytesSent += ws._bytesSent;
    }
    return stats;
  }
}
