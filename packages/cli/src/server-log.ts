// The event log of `switchboard serve`: one line per event (listening,
// connect, message, close, error, refused, shutdown) on stdout, with a
// timestamp and the connection's id. Human-readable, JSON lines (--json) or
// nothing but the listening line (--quiet).
//
// In tutorial mode the human log leaves connect, message and close to the
// tutorial's own lines ("New Client Connected", ...), so the output is the
// classic tutorial's; with --json only JSON lines are printed and with
// --quiet neither.
import { bytes, describeClose, oneLine, preview } from './format.js';
import type { Style } from './color.js';
import { listeningLine, type ListeningAddress } from './listen-address.js';
import { escapeControls, safeJson } from './terminal-safe.js';

export type LogFormat = 'human' | 'json' | 'quiet';

export interface ConnectInfo {
  remote: string;
  path: string;
  protocol: string;
  extensions: string;
  /** Whether the WebSocket is a stream of an HTTP/2 connection (RFC 8441). */
  http2?: boolean;
}

/** Messages are logged up to this many characters (of text, or of hex for binary data). */
export const PREVIEW_CHARS = 200;

type Fields = Record<string, string | number | boolean | undefined>;

/**
 * Writes lines in one write per turn of the event loop instead of one per
 * line: a busy echo server logs thousands of messages a second.
 */
export function batchedWriter(stream: { write(text: string): unknown }): (line: string) => void {
  let pending: string[] = [];
  const flush = (): void => {
    const text = pending.join('');
    pending = [];
    stream.write(text);
  };
  return (line) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(`${line}\n`);
  };
}

export class ServerLog {
  /** The --workers process this log is of (shown as w2#7, JSON "worker": 2); null outside a cluster. */
  worker: number | null = null;

  constructor(
    readonly format: LogFormat,
    private readonly style: Style,
    /** Tutorial mode: the tutorial's own lines stand for connect/message/close in the human log. */
    private readonly tutorial = false,
    private readonly write: (line: string) => void = batchedWriter(process.stdout),
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The readiness line: `listening on ws://ADDRESS:PORT` (also with --quiet), or a JSON object. */
  listening(address: ListeningAddress): void {
    if (this.format === 'json') this.json('listening', undefined, { url: address.url, allInterfaces: address.allInterfaces || undefined });
    else this.write(listeningLine(address));
  }

  /** One of the classic tutorial's lines, printed verbatim but for control characters, shown escaped (human log only). */
  tutorialLine(line: string): void {
    if (this.format === 'human') this.write(escapeControls(line));
  }

  connect(id: number, info: ConnectInfo): void {
    if (this.format === 'json') {
      this.json('connect', id, { remote: info.remote, path: info.path, protocol: info.protocol, extensions: info.extensions, http: info.http2 === true ? '2' : undefined });
    } else if (this.showsHumanEvent()) {
      const extra = [info.http2 === true && 'HTTP/2', info.protocol && `protocol ${info.protocol}`, info.extensions && info.extensions.split(';')[0]].filter(Boolean);
      this.human(id, this.style.green('connect'), `${info.remote} ${info.path}${extra.length ? ` (${extra.join(', ')})` : ''}`);
    }
  }

  /** A received message; `relayedTo` is how many clients it was forwarded to (broadcast mode). */
  message(id: number, data: Buffer, isBinary: boolean, relayedTo?: number): void {
    if (this.format === 'quiet' || (this.format === 'human' && this.tutorial)) return;
    const shown = preview(data, isBinary, PREVIEW_CHARS, this.format === 'human');
    if (this.format === 'json') {
      this.json('message', id, {
        type: isBinary ? 'binary' : 'text',
        size: data.length,
        data: shown.text,
        truncated: shown.truncated || undefined,
        relayedTo,
      });
      return;
    }
    const relayed = relayedTo === undefined ? '' : `, relayed to ${relayedTo} other${relayedTo === 1 ? '' : 's'}`;
    const body = isBinary ? shown.text : safeJson(shown.text);
    this.human(id, this.style.cyan('message'), `${isBinary ? 'binary' : 'text'}, ${bytes(data.length)}${relayed}: ${body}${shown.truncated ? '…' : ''}`);
  }

  close(id: number, code: number, reason: Buffer): void {
    if (this.format === 'json') this.json('close', id, { code, reason: reason.toString('utf8') });
    else if (this.showsHumanEvent()) this.human(id, this.style.yellow('close'), describeClose(code, reason));
  }

  error(id: number, error: Error & { code?: string }): void {
    if (this.format === 'json') this.json('error', id, { code: error.code, message: error.message });
    else if (this.format === 'human') this.human(id, this.style.red('error'), `${error.code ? `${error.code}: ` : ''}${oneLine(error.message)}`);
  }

  /** A handshake the CLI itself refused (no acceptable subprotocol). */
  refused(remote: string, status: number, reason: string): void {
    if (this.format === 'json') this.json('refused', undefined, { remote, status, reason });
    else if (this.format === 'human') this.human(undefined, this.style.red('refused'), `${remote} ${status} ${reason}`);
  }

  shutdown(signal: string, connections: number): void {
    if (this.format === 'json') this.json('shutdown', undefined, { signal, connections });
    else if (this.format === 'human') {
      this.human(undefined, this.style.yellow('shutdown'), `${signal}: closing ${connections} connection${connections === 1 ? '' : 's'} with 1001 (going away)`);
    }
  }

  private showsHumanEvent(): boolean {
    return this.format === 'human' && !this.tutorial;
  }

  private human(id: number | undefined, event: string, text: string): void {
    const tag = `${this.worker === null ? '' : `w${this.worker}`}${id === undefined ? '-' : `#${id}`}`;
    // `text` holds peer data (paths, messages, reasons, offered subprotocols): never raw on a terminal.
    this.write(`${this.style.dim(this.now().toISOString())} ${this.style.bold(tag)} ${event} ${escapeControls(text)}`);
  }

  private json(event: string, id: number | undefined, fields: Fields): void {
    const record: Fields = { time: this.now().toISOString(), event, ...(this.worker === null ? {} : { worker: this.worker }), id, ...fields };
    this.write(safeJson(record));
  }
}
