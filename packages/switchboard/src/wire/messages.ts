// The messages of switchboard.v1 (docs/protocol.md, section 3), as they are
// after parsing: binary `data` is bytes here, `bin` exists only on the wire.

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The sending client of a room message or direct message (`from`). */
export interface Sender {
  id: string;
  user: string | null;
}

/** A room member (section 7): `meta` is what the server attached. */
export interface Member {
  id: string;
  user: string | null;
  meta?: unknown;
}

/** The heartbeat a server announces (section 8). */
export interface Heartbeat {
  interval: number;
  timeout: number;
}

/** Where a direct message goes: every connection of a user, or one connection. */
export type DirectTarget = { user: string } | { client: string };

/** A message a client sends (section 3, dir C). */
export type ClientMessage =
  | { t: 'hello'; auth?: unknown }
  | { t: 'join'; id?: number; room: string; since?: number; epoch?: string }
  | { t: 'leave'; id?: number; room: string }
  | { t: 'resume'; id?: number; rooms: Record<string, number>; epochs?: Record<string, string>; was?: string[] }
  | { t: 'pub'; id?: number; room: string; ev: string; data: unknown; volatile?: boolean }
  | { t: 'dm'; id?: number; to: DirectTarget; ev: string; data: unknown }
  | { t: 'emit'; ev: string; data: unknown }
  | { t: 'req'; id: number; ev: string; data: unknown }
  | { t: 'ack'; id: number; data: unknown }
  | { t: 'error'; id?: number; code: string; message?: string }
  | { t: 'ping'; ts?: unknown };

/** A message a server sends (section 3, dir S). */
export type ServerMessage =
  | WelcomeMessage
  | { t: 'joined'; room: string; head: number; epoch?: string; members?: Member[]; more?: true }
  | { t: 'left'; room: string }
  | RoomMessageFrame
  | { t: 'emit'; ev: string; data: unknown; from?: Sender }
  | { t: 'req'; id: number; ev: string; data: unknown }
  | { t: 'ack'; id: number; data?: unknown }
  | ErrorFrame
  | { t: 'presence'; room: string; join: Member; leave?: undefined }
  | { t: 'presence'; room: string; leave: Member; join?: undefined }
  | { t: 'gap'; room: string; from: number; to: number; reset?: boolean; epoch?: string }
  | { t: 'pong'; ts?: unknown };

/**
 * `welcome` (section 1). A client keeps each heartbeat value within its own
 * bounds; a value that is not a number is left out by the parser (the client
 * then uses its default for it). Of `nodes`, the parser keeps the first 16
 * entries that are ws: or wss: URLs; the client decides which it will use.
 */
export interface WelcomeMessage {
  t: 'welcome';
  id: string;
  user: string | null;
  hb?: Partial<Heartbeat>;
  /** URLs of the hub's nodes a client may reconnect to (ws: or wss:, at most 16 kept by the parser). */
  nodes?: string[];
}

/** `msg`, a room message (section 6): `mid` is absent for volatile messages. */
export interface RoomMessageFrame {
  t: 'msg';
  room: string;
  ev: string;
  data: unknown;
  mid?: number;
  from?: Sender;
}

/** `error` (section 10): `id` names the message it answers, `retryAfter` (ms) comes with `rate_limited`. */
export interface ErrorFrame {
  t: 'error';
  code: string;
  message: string;
  id?: number;
  retryAfter?: number;
}

/** Any message of either direction, by type. */
export type MessageType = ClientMessage['t'] | ServerMessage['t'];
