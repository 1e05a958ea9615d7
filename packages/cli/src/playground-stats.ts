// GET STATS_PATH on the `serve` port: the serving server's counters for the
// playground page's live panel (the page polls it once a second while it is
// connected to this server, and draws rates from the differences). Counts
// only: no address, room name or user id, as with /metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerStats } from 'switchboard';
import type { HubStats } from 'switchboard/hub';
import { STATS_PATH, type ServerStatsSnapshot } from '../shared/playground-protocol.js';

export function statsSnapshot(server: ServerStats, hub?: HubStats): ServerStatsSnapshot {
  const { connections, handshakesAccepted, handshakesRefused, messagesReceived, messagesSent, bytesReceived, bytesSent, bufferedBytes } = server;
  const snapshot: ServerStatsSnapshot = { time: Date.now(), connections, handshakesAccepted, handshakesRefused, messagesReceived, messagesSent, bytesReceived, bytesSent, bufferedBytes };
  if (hub !== undefined) snapshot.hub = { connections: hub.connections, rooms: hub.rooms, members: hub.members };
  return snapshot;
}

/** Answers GET/HEAD STATS_PATH with `snapshot()` as JSON and returns true; false (leaving it alone) for any other request. */
export function answerStats(req: IncomingMessage, res: ServerResponse, snapshot: () => ServerStatsSnapshot): boolean {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  if ((query === -1 ? url : url.slice(0, query)) !== STATS_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const body = JSON.stringify(snapshot());
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
