// A connection from the page: the browser's own WebSocket ("direct"), or one
// opened by the serving switchboard process on the page's behalf ("relay"),
// for what a browser cannot do: send request headers, see the handshake
// response, send and see pings and pongs.
import {
  DATA_BINARY,
  DATA_TEXT,
  RELAY_PATH,
  type PageToRelay,
  type RelayHandshake,
  type RelayToPage,
} from '../../shared/playground-protocol';
import { encodeUtf8 } from './codec';

export type Via = 'direct' | 'relay';

export interface ConnectRequest {
  url: string;
  protocols: string[];
  headers: Array<[string, string]>;
  via: Via;
}

export interface OpenInfo {
  url: string;
  protocol: string;
  extensions: string;
}

export interface CloseInfo {
  code: number;
  reason: string;
  wasClean: boolean;
}

export interface ConnectionEvents {
  open(info: OpenInfo): void;
  message(data: string | Uint8Array): void;
  control(kind: 'ping' | 'pong', hex: string): void;
  handshake(response: RelayHandshake): void;
  error(message: string): void;
  close(info: CloseInfo): void;
}

export interface Connection {
  readonly via: Via;
  /** Sends a message; false when the connection is not open. */
  send(data: string | Uint8Array): boolean;
  close(code?: number, reason?: string): void;
  /** Relay only: a ping or pong frame with this payload (hex). */
  control?(kind: 'ping' | 'pong', hex: string): void;
}

/** The relay's URL on the server that served this page. */
export function relayUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${RELAY_PATH}`;
}

/** Opens a connection; throws (SyntaxError) for a URL or subprotocol the browser refuses outright. */
export function openConnection(request: ConnectRequest, events: ConnectionEvents): Connection {
  return request.via === 'relay' ? openRelay(request, events) : openDirect(request, events);
}

function openDirect(request: ConnectRequest, events: ConnectionEvents): Connection {
  const ws = new WebSocket(request.url, request.protocols);
  ws.binaryType = 'arraybuffer';
  let opened = false;
  ws.onopen = () => {
    opened = true;
    events.open({ url: ws.url, protocol: ws.protocol, extensions: ws.extensions });
  };
  ws.onmessage = (e: MessageEvent) => events.message(typeof e.data === 'string' ? e.data : new Uint8Array(e.data as ArrayBuffer));
  ws.onerror = () =>
    events.error(
      opened
        ? 'The connection failed'
        : 'The connection could not be opened (the browser does not say why: turn on "Relay" to see the server\'s handshake response)',
    );
  ws.onclose = (e: CloseEvent) => events.close({ code: e.code, reason: e.reason, wasClean: e.wasClean });
  return {
    via: 'direct',
    send(data) {
      if (ws.readyState !== WebSocket.OPEN) return false;
      ws.send(data);
      return true;
    },
    close(code = 1000, reason = '') {
      if (ws.readyState === WebSocket.CONNECTING) ws.close();
      else if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    },
  };
}

const decoder = new TextDecoder();

function openRelay(request: ConnectRequest, events: ConnectionEvents): Connection {
  const ws = new WebSocket(relayUrl());
  ws.binaryType = 'arraybuffer';
  let upstreamOpen = false;
  let upstreamClose: CloseInfo | null = null;
  let relayError: string | null = null;
  const control = (message: PageToRelay): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  ws.onopen = () => control({ type: 'connect', url: request.url, protocols: request.protocols, headers: request.headers });
  ws.onmessage = (e: MessageEvent) => {
    if (typeof e.data !== 'string') {
      const bytes = new Uint8Array(e.data as ArrayBuffer);
      const body = bytes.subarray(1);
      events.message(bytes[0] === DATA_TEXT ? decoder.decode(body) : body.slice());
      return;
    }
    let message: RelayToPage;
    try {
      message = JSON.parse(e.data) as RelayToPage;
    } catch {
      return;
    }
    switch (message.type) {
      case 'handshake':
        events.handshake(message);
        break;
      case 'open':
        upstreamOpen = true;
        events.open({ url: message.url, protocol: message.protocol, extensions: message.extensions });
        break;
      case 'ping':
      case 'pong':
        events.control(message.type, message.data);
        break;
      case 'error':
        relayError = message.message;
        events.error(`${message.code}: ${message.message}`);
        break;
      case 'close':
        upstreamClose = { code: message.code, reason: message.reason, wasClean: message.wasClean };
        break;
    }
  };
  ws.onerror = () => {
    if (relayError === null) events.error(`The relay at ${relayUrl()} could not be reached`);
  };
  ws.onclose = (e: CloseEvent) => {
    // The upstream's close when the relay reported one; otherwise the relay's own (e.g. 1008, target refused).
    events.close(upstreamClose ?? { code: e.code, reason: e.reason || relayError || 'the relay connection closed', wasClean: false });
  };
  return {
    via: 'relay',
    send(data) {
      if (ws.readyState !== WebSocket.OPEN || !upstreamOpen) return false;
      const body = typeof data === 'string' ? encodeUtf8(data) : data;
      const framed = new Uint8Array(body.length + 1);
      framed[0] = typeof data === 'string' ? DATA_TEXT : DATA_BINARY;
      framed.set(body, 1);
      ws.send(framed);
      return true;
    },
    close(code = 1000, reason = '') {
      if (ws.readyState === WebSocket.OPEN && upstreamOpen) control({ type: 'close', code, reason });
      else ws.close();
    },
    control(kind, hex) {
      control({ type: kind, data: hex });
    },
  };
}
