// Export and import of a session in the command's recording format
// (docs/cli.md#recording-format): the log's messages of the last connection
// and the saved messages go out as JSON lines that `switchboard replay`
// runs; a file recorded with `switchboard connect --record` (or exported
// here) comes back in as the connection's settings, saved messages and log.
import { RECORDING_FORMAT, RECORDING_VERSION, type Opcode, type RecordedEvent, type RecordingHeader } from '../../shared/session-format';
import { parseHex, toHex } from './codec';
import type { Entry } from './log-store';
import { newId, type SavedMessage } from './saved';

/** Files larger than this are not imported (the page holds them whole). */
export const MAX_IMPORT_BYTES = 16 * 1024 * 1024;

export interface SessionSettings {
  url: string;
  protocols: string[];
  headers: Array<[string, string]>;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The entries of the last connection: from the last "open" event on (all of them when there is none). */
function lastConnection(entries: readonly Entry[]): readonly Entry[] {
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.kind === 'open') return entries.slice(i);
  return entries;
}

export function exportSession(settings: SessionSettings, entries: readonly Entry[], saved: readonly SavedMessage[], now = new Date()): string {
  const session = lastConnection(entries);
  const start = session[0]?.time ?? now.getTime();
  const time = (t: number): number => Math.max(0, t - start);
  const header: RecordingHeader = { format: RECORDING_FORMAT, version: RECORDING_VERSION, url: settings.url, recorded: now.toISOString(), source: 'playground' };
  const lines: object[] = [header];
  const requestHeaders: Record<string, string> = {};
  for (const [name, value] of settings.headers) {
    const lower = name.toLowerCase();
    requestHeaders[lower] = requestHeaders[lower] === undefined ? value : `${requestHeaders[lower]}, ${value}`;
  }
  if (settings.protocols.length > 0) requestHeaders['sec-websocket-protocol'] = settings.protocols.join(',');
  const handshake = session.find((e) => e.kind === 'handshake')?.handshake;
  const response: Record<string, string> = {};
  for (const [name, value] of handshake?.headers ?? []) response[name.toLowerCase()] = value;
  lines.push({
    time: 0,
    event: 'handshake',
    request: { headers: requestHeaders },
    response: { status: handshake?.status ?? 101, headers: response },
    protocol: response['sec-websocket-protocol'] ?? '',
    extensions: response['sec-websocket-extensions'] ?? '',
  });
  for (const entry of session) {
    if ((entry.kind !== 'text' && entry.kind !== 'binary') || entry.dir === 'event') continue;
    const data = entry.kind === 'binary' ? toBase64(entry.bytes ?? new Uint8Array()) : (entry.text ?? '');
    lines.push({ time: time(entry.time), event: 'message', direction: entry.dir, opcode: entry.kind, data });
  }
  for (const message of saved) {
    const binary = message.mode === 'binary';
    const bytes = binary ? parseHex(message.body) : null;
    lines.push({
      time: 0,
      event: 'saved',
      name: message.name,
      opcode: binary ? 'binary' : 'text',
      mode: message.mode,
      data: bytes instanceof Uint8Array ? toBase64(bytes) : message.body,
    });
  }
  return `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`;
}

export interface ImportedMessage {
  direction: 'in' | 'out';
  opcode: Opcode;
  text?: string;
  bytes?: Uint8Array;
}

export interface ImportedSession {
  settings: SessionSettings;
  recorded: string;
  messages: ImportedMessage[];
  /** The file's saved messages; without any, its distinct sent messages, so that they can be sent again. */
  saved: SavedMessage[];
}

/** Headers a page cannot send (the handshake's own); the rest come back as request headers. */
const HANDSHAKE_HEADERS = new Set(['host', 'connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol', 'origin']);

function savedFrom(name: string, opcode: Opcode, data: string, mode?: string): SavedMessage {
  if (opcode === 'binary') return { id: newId(), name, mode: 'binary', body: toHex(fromBase64(data)) };
  return { id: newId(), name, mode: mode === 'json' ? 'json' : 'text', body: data };
}

/** Reads a recording; an error message (naming the line) when it is not one. */
export function importSession(text: string, fileName: string): ImportedSession | { error: string } {
  const lines = text.split('\n');
  const events: RecordedEvent[] = [];
  let header: RecordingHeader | null = null;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]!);
    } catch {
      return { error: `${fileName}:${i + 1}: not JSON` };
    }
    if (header === null) {
      if ((value as RecordingHeader | null)?.format !== RECORDING_FORMAT) return { error: `${fileName} is not a switchboard session recording (its first line's "format" is not "${RECORDING_FORMAT}")` };
      header = value as RecordingHeader;
    } else if (typeof value === 'object' && value !== null) events.push(value as RecordedEvent);
  }
  if (header === null) return { error: `${fileName} is empty` };
  const settings: SessionSettings = { url: String(header.url ?? ''), protocols: [], headers: [] };
  const messages: ImportedMessage[] = [];
  const saved: SavedMessage[] = [];
  for (const event of events) {
    if (event.event === 'handshake') {
      for (const [name, value] of Object.entries(event.request?.headers ?? {})) {
        if (name === 'sec-websocket-protocol') settings.protocols = String(value).split(',').map((p) => p.trim()).filter(Boolean);
        else if (!HANDSHAKE_HEADERS.has(name.toLowerCase())) settings.headers.push([name, String(value)]);
      }
    } else if (event.event === 'message' && (event.direction === 'in' || event.direction === 'out')) {
      const binary = event.opcode === 'binary';
      messages.push(binary ? { direction: event.direction, opcode: 'binary', bytes: fromBase64(event.data) } : { direction: event.direction, opcode: 'text', text: String(event.data) });
    } else if (event.event === 'saved' && typeof event.name === 'string') {
      saved.push(savedFrom(event.name, event.opcode === 'binary' ? 'binary' : 'text', String(event.data), event.mode));
    }
  }
  if (saved.length === 0) {
    const seen = new Set<string>();
    for (const m of messages) {
      if (m.direction !== 'out') continue;
      const key = m.opcode === 'binary' ? `b:${toHex(m.bytes!)}` : `t:${m.text}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const base = m.opcode === 'binary' ? toBase64(m.bytes!) : m.text!;
      saved.push(savedFrom(`${fileName.replace(/\.[^.]*$/, '')} #${seen.size}`, m.opcode, base));
    }
  }
  return { settings, recorded: String(header.recorded ?? ''), messages, saved };
}
