// The session recording format (docs/cli.md#recording-format), shared by the
// command (`connect --record` writes it, `replay` reads it) and the
// playground (which exports its log and saved messages in it and imports
// them). JSON lines: a header, then one event per line.

export const RECORDING_FORMAT = 'switchboard-session';
export const RECORDING_VERSION = 1;

export type Opcode = 'text' | 'binary';

/** A saved message of the playground: `data` is the text (or JSON), or the bytes in base64. */
export interface SavedEvent {
  time: number;
  event: 'saved';
  name: string;
  opcode: Opcode;
  /** How the playground's composer shows it; JSON is text that the composer formats. */
  mode?: 'text' | 'json' | 'binary';
  data: string;
}

export type RecordedEvent =
  | { time: number; event: 'handshake'; request: { headers: Record<string, string> }; response: { status: number; headers: Record<string, string> }; protocol: string; extensions: string }
  | { time: number; event: 'message'; direction: 'in' | 'out'; opcode: Opcode; data: string }
  | { time: number; event: 'ping' | 'pong'; direction: 'in' | 'out'; data: string }
  | { time: number; event: 'close'; direction: 'in' | 'out'; code: number; reason: string }
  | SavedEvent;

export interface RecordingHeader {
  format: typeof RECORDING_FORMAT;
  version: number;
  url: string;
  recorded: string;
  /** Who wrote the file when it was not `connect --record` ("playground"). */
  source?: string;
}
