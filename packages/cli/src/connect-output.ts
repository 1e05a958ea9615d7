// What `switchboard connect` prints on stdout when it is not interactive:
// received messages one per line (pipe mode), or JSON lines (--json).
import { describeClose, hex } from './format.js';
import { escapeControls, safeJson } from './terminal-safe.js';

export type Direction = 'in' | 'out';
export type ControlKind = 'ping' | 'pong' | 'close';

export interface ControlExtra {
  /** The close code of a close frame. */
  code?: number;
  /** Round-trip time of the ping a pong answers. */
  rttMs?: number;
}

export interface OpenInfo {
  url: string;
  protocol: string;
  extensions: string;
}

/** The output side of a connect session. */
export interface Printer {
  open(info: OpenInfo): void;
  /** A received message. */
  message(data: Buffer, isBinary: boolean): void;
  /** A control frame (only called with --show-control, and for the pong answering /ping). */
  control(kind: ControlKind, direction: Direction, data: Buffer, extra?: ControlExtra): void;
  /** A line for a person (interactive mode only). */
  status(text: string, kind?: 'info' | 'error'): void;
  /** The connection is over. */
  closed(code: number, reason: Buffer, clean: boolean): void;
}

/** How control-frame payloads and close reasons are shown: text when printable, else hex. */
export function controlData(data: Buffer): string {
  if (data.length === 0) return '';
  const text = data.toString('utf8');
  return Buffer.from(text, 'utf8').equals(data) && !/[\x00-\x08\x0b-\x1f\x7f]/.test(text) ? safeJson(text) : `0x${hex(data)}`;
}

/** How received binary messages are shown (--binary-output): hex by default, base64, or the raw bytes. */
export type BinaryFormat = 'hex' | 'base64' | 'raw';
export const BINARY_FORMATS: readonly BinaryFormat[] = ['hex', 'base64', 'raw'];

/** A binary message as one line; "raw" on a terminal falls back to hex (raw bytes could drive the terminal). */
export function formatBinary(data: Buffer, format: BinaryFormat): string {
  return format === 'base64' ? data.toString('base64') : hex(data);
}

/** "0.42 ms". */
export function formatRtt(ms: number): string {
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)} ms`;
}

/**
 * Pipe mode: each received message on its own line, text as is and binary
 * as hex; with --show-control, received control frames as "[ping] ...",
 * "[pong] ...", "[close] 1000 (normal closure)". Nothing else.
 *
 * Text goes to a pipe or file exactly as received (the program reading it
 * gets the peer's text); on a terminal (`escape`), control characters are
 * shown escaped, so that a server cannot drive the operator's terminal.
 */
export class PlainPrinter implements Printer {
  constructor(
    private readonly binaryFormat: BinaryFormat = 'hex',
    private readonly write: (text: string | Buffer) => void = (text) => process.stdout.write(text),
    private readonly escape: boolean = process.stdout.isTTY === true,
  ) {}

  open(): void {}

  message(data: Buffer, isBinary: boolean): void {
    if (isBinary && this.binaryFormat === 'raw' && !this.escape) {
      // websocat's raw output: the bytes as they came, nothing added, so `> file` reproduces the message.
      this.write(data);
      return;
    }
    const text = isBinary ? formatBinary(data, this.binaryFormat) : data.toString('utf8');
    this.write(`${this.escape ? escapeControls(text) : text}\n`);
  }

  control(kind: ControlKind, direction: Direction, data: Buffer, extra: ControlExtra = {}): void {
    if (direction !== 'in') return;
    const detail = kind === 'close' ? describeClose(extra.code ?? 1005, data) : controlData(data);
    this.write(`[${kind}]${detail ? ` ${detail}` : ''}${extra.rttMs !== undefined ? ` (${formatRtt(extra.rttMs)})` : ''}\n`);
  }

  status(): void {}

  closed(): void {}
}

/**
 * --json: one JSON object per line. Always "open", "message" (type "text",
 * or "binary" with the data as hex) and "close"; "ping", "pong" and the
 * received "close" frame with --show-control.
 */
export class JsonPrinter implements Printer {
  constructor(
    private readonly write: (text: string) => void = (text) => process.stdout.write(text),
    private readonly now: () => Date = () => new Date(),
  ) {}

  private line(event: string, fields: Record<string, unknown>): void {
    this.write(`${safeJson({ time: this.now().toISOString(), event, ...fields })}\n`);
  }

  open(info: OpenInfo): void {
    this.line('open', { url: info.url, protocol: info.protocol, extensions: info.extensions });
  }

  message(data: Buffer, isBinary: boolean): void {
    this.line('message', { type: isBinary ? 'binary' : 'text', data: isBinary ? hex(data) : data.toString('utf8') });
  }

  control(kind: ControlKind, direction: Direction, data: Buffer, extra: ControlExtra = {}): void {
    if (kind === 'close') this.line('close-frame', { direction, code: extra.code, reason: data.toString('utf8') });
    else this.line(kind, { direction, data: data.toString('utf8'), rttMs: extra.rttMs });
  }

  status(): void {}

  closed(code: number, reason: Buffer, clean: boolean): void {
    this.line('close', { code, reason: reason.toString('utf8'), clean });
  }
}
