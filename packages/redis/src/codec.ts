// What travels through Redis for a room message: a small JSON header (event,
// sender, `except`, whether the data is binary) and the data as the hub
// serialised it (RoomMessage.encoded), kept apart so that no node ever
// parses the data to relay it. The publish script prefixes the header with
// the id, epoch and time: `<mid> <epoch> <ms> <header>\n<data>`; a volatile
// message has mid 0 and no epoch (`0 - <ms> ...`). Presence changes on the
// same channel are `j <member JSON>` and `l <member JSON>`.
import { Buffer } from 'node:buffer';
import type { PresenceMember, RoomMessage, Sender } from 'switchboard/hub';

interface Header {
  /** Event name. */
  e: string;
  f?: Sender;
  x?: readonly string[];
  /** 1: the data is binary (encoded is the JSON string of its base64). */
  b?: 1;
}

export function encodeHeader(ev: string, from: Sender | undefined, except: readonly string[] | undefined, binary: boolean): string {
  const header: Header = { e: ev };
  if (from !== undefined) header.f = from;
  if (except !== undefined && except.length > 0) header.x = except;
  if (binary) header.b = 1;
  return JSON.stringify(header);
}

/** A room message read from Redis; its data is parsed only if something asks for it. */
export class RemoteMessage implements RoomMessage {
  readonly ev: string;
  readonly from?: Sender;
  readonly except?: readonly string[];
  readonly encoded?: string;
  readonly #binary: boolean;
  #data: unknown;
  #parsed = false;

  constructor(
    readonly room: string,
    readonly mid: number,
    readonly epoch: string | undefined,
    readonly time: number,
    header: string,
    encoded: string,
  ) {
    const parsed = JSON.parse(header) as Header;
    this.ev = parsed.e;
    if (parsed.f !== undefined) this.from = parsed.f;
    if (parsed.x !== undefined) this.except = parsed.x;
    this.#binary = parsed.b === 1;
    // '' stands for data the hub could not serialise to anything (undefined).
    if (encoded !== '') this.encoded = encoded;
  }

  get data(): unknown {
    if (!this.#parsed) {
      this.#parsed = true;
      if (this.encoded !== undefined) {
        const value: unknown = JSON.parse(this.encoded);
        this.#data = this.#binary ? Buffer.from(value as string, 'base64') : value;
      }
    }
    return this.#data;
  }
}

/** A message as published on a room channel (see the top of this file); null when it is not one. */
export function parseChannelMessage(room: string, payload: string): RemoteMessage | null {
  const a = payload.indexOf(' ');
  const b = payload.indexOf(' ', a + 1);
  const c = payload.indexOf(' ', b + 1);
  const nl = payload.indexOf('\n', c + 1);
  if (a < 1 || b < 0 || c < 0 || nl < 0) return null;
  const mid = Number(payload.slice(0, a));
  if (!Number.isSafeInteger(mid)) return null;
  const epoch = payload.slice(a + 1, b);
  return new RemoteMessage(room, mid, mid === 0 ? undefined : epoch, Number(payload.slice(b + 1, c)), payload.slice(c + 1, nl), payload.slice(nl + 1));
}

/** A stream entry (`[id, [field, value, ...]]`, id `<ms>-<mid>`) as a message of `epoch`. */
export function parseStreamEntry(room: string, epoch: string, entry: unknown): RemoteMessage {
  const [id, fields] = entry as [string, string[]];
  const dash = id.indexOf('-');
  let header = '{"e":""}';
  let data = '';
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'h') header = fields[i + 1]!;
    else if (fields[i] === 'd') data = fields[i + 1]!;
  }
  return new RemoteMessage(room, Number(id.slice(dash + 1)), epoch, Number(id.slice(0, dash)), header, data);
}

/** A member hash value: `<joined ms> <node> <member JSON>` (a previous version's: `<joined ms> <member JSON>`). */
export function parsePresenceValue(value: string): { joined: number; member: PresenceMember } {
  const space = value.indexOf(' ');
  const json = value.charCodeAt(space + 1) === 0x7b ? space + 1 : value.indexOf(' ', space + 1) + 1;
  return { joined: Number(value.slice(0, space)), member: JSON.parse(value.slice(json)) as PresenceMember };
}
