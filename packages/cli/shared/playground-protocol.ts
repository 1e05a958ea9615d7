// What the playground page and the relay in `switchboard serve`/`switchboard
// playground` say to each other over the WebSocket at RELAY_PATH. Shared by
// the server (src/cli/playground-relay.ts) and the page (playground/src), so
// it imports nothing from Node.
//
// Text frames carry control messages (JSON); binary frames carry the data of
// the upstream connection, after one tag byte: DATA_TEXT (the rest is UTF-8
// text) or DATA_BINARY (the rest is the binary message).
//
//   page  -> relay: {"type":"connect",...} first, then data, "close", "ping"
//   relay -> page:  "handshake" (the upstream's HTTP response), "open",
//                   data, "ping"/"pong" seen upstream, "error", and "close"
//                   (after which the relay closes the page's connection)

/** Where the relay listens, on the same port as the page. */
export const RELAY_PATH = '/__relay';

/** Headers that say a request was forwarded by a proxy (the relay refuses such requests). */
export const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via'] as const;
const RESERVED_HEADERS: ReadonlySet<string> = new Set(['connection', 'upgrade', 'content-length', 'transfer-encoding', 'host', 'origin', ...FORWARDING_HEADERS]);
const RESERVED_HEADER_PREFIXES = ['sec-websocket-', 'x-forwarded-'] as const;

/**
 * Why a page may not send request header `name` through the relay, or null
 * when it may: the client sets it itself, or the relay's own checks trust it
 * (Origin, Host, forwarding headers; with them a relayed request would pass
 * for a page of a relay, and relays could be chained).
 */
export function reservedHeaderProblem(name: string): string | null {
  const lower = name.toLowerCase();
  if (lower === 'sec-websocket-protocol') return `${name} is set by the WebSocket client itself; use the subprotocols field`;
  if (RESERVED_HEADERS.has(lower) || RESERVED_HEADER_PREFIXES.some((prefix) => lower.startsWith(prefix))) {
    return `${name} is set by the WebSocket client itself or trusted by the relay; a page may not send it`;
  }
  return null;
}

export const DATA_TEXT = 1;
export const DATA_BINARY = 2;

/** The page's first message: whom to connect to, and how. */
export interface RelayConnect {
  type: 'connect';
  url: string;
  protocols: string[];
  /** Request headers to add to the opening handshake, in order. */
  headers: Array<[string, string]>;
}

export interface RelayClose {
  type: 'close';
  code?: number;
  reason?: string;
}

export interface RelayPing {
  type: 'ping' | 'pong';
  /** Payload as lowercase hex (at most 125 bytes). */
  data: string;
}

export type PageToRelay = RelayConnect | RelayClose | RelayPing;

/** The upstream server's answer to the opening handshake: 101, or whatever it said instead. */
export interface RelayHandshake {
  type: 'handshake';
  status: number;
  statusText: string;
  httpVersion: string;
  /** Response headers as received (name, value), in order. */
  headers: Array<[string, string]>;
  /** The response body of a refused handshake (at most BODY_LIMIT bytes, as text). */
  body?: string;
}

export interface RelayOpen {
  type: 'open';
  url: string;
  protocol: string;
  extensions: string;
}

/** A ping or pong frame from upstream (pings are answered by the relay). */
export interface RelayControlFrame {
  type: 'ping' | 'pong';
  data: string;
}

export interface RelayError {
  type: 'error';
  /** e.g. RELAY_REFUSED, RELAY_BAD_REQUEST, ECONNREFUSED, WS_ERR_UNEXPECTED_RESPONSE */
  code: string;
  message: string;
}

export interface RelayClosed {
  type: 'close';
  code: number;
  reason: string;
  wasClean: boolean;
}

export type RelayToPage = RelayHandshake | RelayOpen | RelayControlFrame | RelayError | RelayClosed;

/** What the server puts in the page's <meta name="switchboard-playground"> (JSON). */
export interface PlaygroundConfig {
  /**
   * The URL the URL field starts with. A path ("/", "/chat") means the
   * WebSocket server that served the page: ws:// (or wss://) and the page's own host.
   */
  defaultUrl: string;
  /** Hosts the relay reaches besides loopback ("*": any), for the page to say so. */
  relayAllow: string[];
  /** "serve (tutorial)", "serve (echo)", "playground", to show in the header. */
  server: string;
  /** The serving process has a WebSocket server of its own and answers GET STATS_PATH (`switchboard serve`; not `switchboard playground`). */
  stats?: boolean;
}

/** Where `switchboard serve` answers the page's live panel with a `ServerStatsSnapshot` (JSON), on the page's port. */
export const STATS_PATH = '/__stats';

/**
 * The serving server's counters at one moment (its WebSocketServer's
 * `stats()`, and its hub's with --hub): the page draws rates from the
 * differences between two snapshots.
 */
export interface ServerStatsSnapshot {
  /** Milliseconds since the epoch, on the server. */
  time: number;
  connections: number;
  handshakesAccepted: number;
  handshakesRefused: number;
  messagesReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
  bufferedBytes: number;
  hub?: { connections: number; rooms: number; members: number };
}

/** Largest refused-handshake body passed on to the page. */
export const BODY_LIMIT = 4096;
