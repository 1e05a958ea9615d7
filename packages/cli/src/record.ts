// connect --record FILE: the session as JSON lines, one event per line, in the
// format `switchboard replay` reads (documented in docs/cli.md#recording-format).
// Times are milliseconds since the connection was started; text data is the
// text, binary data and control payloads are base64.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';

import { RECORDING_FORMAT, RECORDING_VERSION } from '../shared/session-format.js';

export { RECORDING_FORMAT, RECORDING_VERSION, type RecordedEvent, type RecordingHeader } from '../shared/session-format.js';

export class Recorder {
  private readonly fd: number;
  private readonly start = performance.now();

  constructor(file: string, url: string) {
    this.fd = openSync(file, 'w');
    this.line({ format: RECORDING_FORMAT, version: RECORDING_VERSION, url, recorded: new Date().toISOString() });
  }

  private line(record: object): void {
    // Synchronous: the file is complete whenever the process ends, even by a signal.
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }

  private get time(): number {
    return Math.round((performance.now() - this.start) * 10) / 10;
  }

  /** `sent`: the request headers this command chose (the library adds Host, the key and the version). */
  handshake(sent: Record<string, string>, response: IncomingMessage, protocol: string, extensions: string): void {
    const requestHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(sent)) requestHeaders[name.toLowerCase()] = value;
    const responseHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : String(value);
    this.line({ time: this.time, event: 'handshake', request: { headers: requestHeaders }, response: { status: response.statusCode ?? 0, headers: responseHeaders }, protocol, extensions });
  }

  message(direction: 'in' | 'out', data: Buffer | string, isBinary: boolean): void {
    const text = isBinary ? Buffer.from(data).toString('base64') : data.toString();
    this.line({ time: this.time, event: 'message', direction, opcode: isBinary ? 'binary' : 'text', data: text });
  }

  control(kind: 'ping' | 'pong', direction: 'in' | 'out', data: Buffer): void {
    this.line({ time: this.time, event: kind, direction, data: data.toString('base64') });
  }

  close(direction: 'in' | 'out', code: number, reason: Buffer | string): void {
    this.line({ time: this.time, event: 'close', direction, code, reason: reason.toString() });
  }

  end(): void {
    closeSync(this.fd);
  }
}
