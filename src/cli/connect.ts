// `switchboard connect URL`: a WebSocket client for a terminal (interactive),
// a pipe (one message per line), or a one-shot run (-x). Exit code 0 after a
// clean close, 1 after a connection or protocol error (one line on stderr).
import type { ClientRequest, IncomingMessage } from 'node:http';
import { isatty } from 'node:tty';
import { WebSocket, type ClientOptions } from '../index.js';
import { styleFor } from './color.js';
import { JsonPrinter, PlainPrinter, type Printer } from './connect-output.js';
import { ExecuteDriver, LinesDriver, NoInputDriver } from './drivers.js';
import { describeClose, httpStatus, isNormalClose, oneLine } from './format.js';
import { InteractiveUi } from './interactive.js';
import { UsageError } from './options.js';
import { readOption } from './serve.js';
import { Session, type Driver } from './session.js';
import { escapeControls } from './terminal-safe.js';

export interface ConnectOptions {
  url: string;
  headers: Array<[string, string]>;
  subprotocols: string[];
  origin?: string;
  insecure: boolean;
  ca?: string;
  /** -x: messages to send once connected. */
  execute: string[];
  /** Seconds to stay after the last message was sent (-x: default 1; stdin: default 0). */
  wait?: number;
  binary: boolean;
  echo: boolean;
  showControl: boolean;
  json: boolean;
  deflate: boolean;
  /** Seconds the opening handshake may take. */
  handshakeTimeout: number;
}

/** -x waits this long for replies before closing, unless --wait says otherwise. */
export const DEFAULT_EXECUTE_WAIT = 1;
/** How long to wait for the server's answer to our close frame before dropping the connection. */
const CLOSE_TIMEOUT_MS = 5000;

export function connect(options: ConnectOptions): Promise<number> {
  const clientOptions: ClientOptions = {
    headers: headerObject(options.headers),
    perMessageDeflate: options.deflate,
    handshakeTimeout: options.handshakeTimeout * 1000,
    closeTimeout: CLOSE_TIMEOUT_MS,
    ...(options.origin !== undefined ? { origin: options.origin } : {}),
    ...(options.insecure ? { rejectUnauthorized: false } : {}),
    ...(options.ca !== undefined ? { ca: readOption('--ca', options.ca) } : {}),
  };
  let ws: WebSocket;
  try {
    ws = new WebSocket(options.url, options.subprotocols, clientOptions);
  } catch (error) {
    const message = oneLine((error as Error).message);
    throw new UsageError(message.startsWith('Invalid URL') ? message : `invalid URL ${options.url}: ${message}`);
  }

  const interactive = options.execute.length === 0 && !options.echo && !options.json && isatty(0);
  let printer: Printer;
  let driver: Driver;
  if (interactive) {
    const ui = new InteractiveUi(styleFor(process.stdout));
    printer = ui;
    driver = ui;
    ui.status(`connecting to ${ws.url}`);
  } else {
    printer = options.json ? new JsonPrinter() : new PlainPrinter();
    if (options.execute.length > 0) driver = new ExecuteDriver(options.execute, options.wait ?? DEFAULT_EXECUTE_WAIT);
    else if (options.echo) driver = new NoInputDriver();
    else driver = new LinesDriver(options.wait ?? 0);
  }
  const session = new Session(ws, printer, { binary: options.binary, showControl: options.showControl });

  let opened = false;
  let failure: Promise<string> | null = null;
  let refusal: Promise<string> | null = null;

  ws.on('unexpected-response', (req: ClientRequest, res: IncomingMessage) => {
    refusal = readBody(req, res).then((body) => {
      const status = httpStatus(res.statusCode ?? 0, res.statusMessage);
      const extra = body && body.toLowerCase() !== (res.statusMessage ?? '').toLowerCase() ? `: ${oneLine(body)}` : '';
      return `handshake refused: ${status}${extra}`;
    });
    // The listener owns the failed handshake (as in ws): end it once the body is read; its 'error' reports the refusal.
    void refusal.then(() => ws.terminate());
  });
  ws.on('error', (error: Error & { code?: string; closeCode?: number }) => {
    failure ??= refusal ?? Promise.resolve(describeFailure(error, opened, ws.url));
  });
  ws.on('open', () => {
    opened = true;
    printer.open({ url: ws.url, protocol: ws.protocol, extensions: ws.extensions });
    driver.start(session);
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    printer.message(data, isBinary);
    if (options.echo && session.isOpen) session.sendData(data, isBinary);
  });
  ws.on('ping', (data: Buffer) => {
    if (!options.showControl) return;
    printer.control('ping', 'in', data);
    printer.control('pong', 'out', data);
  });
  ws.on('pong', (data: Buffer) => {
    const rttMs = session.answerPong(data);
    if (rttMs !== undefined) printer.control('pong', 'in', data, { rttMs });
    else if (options.showControl) printer.control('pong', 'in', data);
  });

  const onSignal = (): void => {
    if (ws.readyState === ws.OPEN) session.close(1000);
    else ws.terminate();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  return new Promise<number>((resolve) => {
    ws.on('close', (code: number, reason: Buffer) => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      driver.stop();
      const clean = failure === null && code !== 1006;
      if (clean && options.showControl) printer.control('close', 'in', reason, { code });
      if (opened) printer.closed(code, reason, clean);
      const problem: Promise<string | null> =
        failure ??
        Promise.resolve(
          code === 1006
            ? 'connection lost: closed without a close frame (1006)'
            : !session.closedByUs && !isNormalClose(code)
              ? `closed by the server: ${describeClose(code, reason)}`
              : null,
        );
      problem.then((message) => {
        // The reason may quote the server (its status text, body, close reason): escaped for the terminal.
        if (message !== null) process.stderr.write(`switchboard: ${escapeControls(message)}\n`);
        resolve(message === null ? 0 : 1);
      });
    });
  });
}

/** -H values as a headers object; a repeated name gets its values joined with ", ". */
function headerObject(pairs: Array<[string, string]>): Record<string, string> {
  const headers: Record<string, string> = {};
  const names = new Map<string, string>();
  for (const [name, value] of pairs) {
    const key = names.get(name.toLowerCase()) ?? name;
    names.set(name.toLowerCase(), key);
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return headers;
}

/** The body of a refused handshake (at most 1 KiB, at most 1 s), for the error line. */
function readBody(req: ClientRequest, res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      clearTimeout(timer);
      res.destroy();
      req.destroy();
      resolve(Buffer.concat(chunks).subarray(0, 1024).toString('utf8').trim());
    };
    const timer = setTimeout(done, 1000);
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= 1024) done();
    });
    res.on('end', done);
    res.on('error', done);
  });
}

const TLS_HINT = ' (--ca FILE trusts a certificate, --insecure skips the check)';

/** One line saying why the connection failed. */
export function describeFailure(error: Error & { code?: string; closeCode?: number }, opened: boolean, url: string): string {
  const message = oneLine(error.message);
  const code = error.code ?? '';
  if (error.closeCode !== undefined) return `protocol error: ${message} (${code}); closed with ${describeClose(error.closeCode)}`;
  if (code === 'WS_ERR_UNEXPECTED_RESPONSE') {
    const response = (error as { response?: IncomingMessage }).response;
    return `handshake refused: ${httpStatus(response?.statusCode ?? 0, response?.statusMessage)}`;
  }
  if (code.startsWith('WS_ERR_')) return `handshake failed: ${message} (${code})`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) return `TLS: ${message}${TLS_HINT}`;
  if (!opened) return `cannot connect to ${url}: ${message}`;
  return message;
}
