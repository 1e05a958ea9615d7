// `switchboard connect URL`: a WebSocket client for a terminal (interactive),
// a pipe (one message per line), a one-shot run (-x), or a bridge to a
// program (--exec). Exit code 0 after a clean close, 1 after a connection or
// protocol error (one line on stderr). Status lines go to stderr, data to stdout.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { isatty } from 'node:tty';
import { WebSocket, type ClientOptions } from 'switchboard';
import { styleFor } from './color.js';
import { buildClientOptions, type ClientFlags } from './client-options.js';
import { describeFailure, withScheme } from './connect-failure.js';
import { JsonPrinter, PlainPrinter, type BinaryFormat, type Printer } from './connect-output.js';
import { BinaryFileDriver, ExecuteDriver, LinesDriver, NoInputDriver } from './drivers.js';
import { ExecDriver, type ExecLimits } from './exec-bridge.js';
import { describeClose, httpStatus, isNormalClose, oneLine } from './format.js';
import { InteractiveUi } from './interactive.js';
import { startKeepalive } from './keepalive.js';
import { UsageError } from './options.js';
import { Recorder } from './record.js';
import { Session, type Driver } from './session.js';
import { tcpListen } from './tcp-listen.js';
import { escapeControls } from './terminal-safe.js';

export interface ConnectOptions extends ClientFlags {
  url: string;
  subprotocols: string[];
  /** -x: messages to send once connected. */
  execute: string[];
  /** Seconds to stay after the last message was sent (-x: default 1; stdin: default 0; Infinity: until the server closes). */
  wait?: number;
  binary: boolean;
  /** --binary-file: send this file ("-": stdin) as one binary message. */
  binaryFile?: string;
  /** --binary-output: how received binary messages are printed. */
  binaryOutput?: BinaryFormat;
  echo: boolean;
  showControl: boolean;
  json: boolean;
  /** -v: the handshake's response status and headers, and redirects, on stderr. */
  verbose?: boolean;
  /** --ping-interval / --ping-timeout, in seconds. */
  pingInterval?: number;
  pingTimeout?: number;
  /** --reconnect: connect again after the server closes or the connection fails. */
  reconnect?: boolean;
  /** --record FILE: write the session as JSON lines. */
  record?: string;
  /** --exec CMD: messages to and from this program's stdin/stdout. */
  exec?: string;
  execLimits?: ExecLimits;
  /** --tcp-listen [HOST:]PORT: bridge each TCP connection accepted there to its own WebSocket. */
  tcpListen?: string;
}

/** -x waits this long for replies before closing, unless --wait says otherwise. */
export const DEFAULT_EXECUTE_WAIT = 1;
/** --reconnect waits this long after the first failure, doubling up to RECONNECT_MAX_DELAY. */
const RECONNECT_FIRST_DELAY = 1;
const RECONNECT_MAX_DELAY = 30;

interface Attempt {
  code: number;
  opened: boolean;
  /** Closed from this side (input ended, /close, Ctrl+C): no reconnecting. */
  closedByUs: boolean;
}

export async function connect(options: ConnectOptions): Promise<number> {
  const url = withScheme(options.url);
  const clientOptions = buildClientOptions(options, url);
  if (options.tcpListen !== undefined) return tcpListen(url, clientOptions, { listen: options.tcpListen, subprotocols: options.subprotocols });
  const interactive =
    options.execute.length === 0 && !options.echo && !options.json && options.exec === undefined && options.binaryFile === undefined && isatty(0);
  if (options.reconnect && options.execute.length === 0 && !options.echo && options.exec === undefined) {
    throw new UsageError('--reconnect needs -x, --echo or --exec (stdin can be read only once)');
  }
  let delay = RECONNECT_FIRST_DELAY;
  for (;;) {
    const attempt = await connectOnce(url, clientOptions, options, interactive);
    if (!options.reconnect || attempt.closedByUs) return attempt.code;
    delay = attempt.opened ? RECONNECT_FIRST_DELAY : Math.min(delay * 2, RECONNECT_MAX_DELAY);
    process.stderr.write(`switchboard: reconnecting in ${delay} s (--reconnect; Ctrl+C stops)\n`);
    if (!(await sleepUnlessInterrupted(delay))) return attempt.code;
  }
}

/** Resolves true after `seconds`, or false at once on SIGINT/SIGTERM. */
function sleepUnlessInterrupted(seconds: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (slept: boolean): void => {
      clearTimeout(timer);
      process.removeListener('SIGINT', interrupted);
      process.removeListener('SIGTERM', interrupted);
      resolve(slept);
    };
    const interrupted = (): void => done(false);
    const timer = setTimeout(() => done(true), seconds * 1000);
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
  });
}

function connectOnce(url: string, clientOptions: ClientOptions, options: ConnectOptions, interactive: boolean): Promise<Attempt> {
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, options.subprotocols, clientOptions);
  } catch (error) {
    const message = oneLine((error as Error).message);
    throw new UsageError(message.startsWith('Invalid URL') ? message : `invalid URL ${options.url}: ${message}`);
  }
  const recorder = options.record === undefined ? null : new Recorder(options.record, ws.url);

  let printer: Printer;
  let driver: Driver;
  const status = (text: string): void => {
    if (interactive) (printer as InteractiveUi).status(text);
    else if (options.verbose) process.stderr.write(`* ${escapeControls(text)}\n`);
  };
  if (interactive) {
    // With stdout piped, the prompt and status lines go to stderr and only the data to stdout.
    const uiStream = process.stdout.isTTY ? process.stdout : process.stderr;
    const ui = new InteractiveUi(styleFor(uiStream), process.stdin, uiStream, process.stdout.isTTY ? null : new PlainPrinter(options.binaryOutput));
    printer = ui;
    driver = ui;
  } else {
    printer = options.json ? new JsonPrinter() : new PlainPrinter(options.binaryOutput);
    const wait = options.wait;
    if (options.exec !== undefined) driver = new ExecDriver(options.exec, options.execLimits);
    else if (options.execute.length > 0) driver = new ExecuteDriver(options.execute, wait ?? DEFAULT_EXECUTE_WAIT);
    else if (options.binaryFile !== undefined) driver = new BinaryFileDriver(options.binaryFile, wait ?? DEFAULT_EXECUTE_WAIT);
    else if (options.echo) driver = new NoInputDriver();
    else driver = new LinesDriver(wait ?? 0, options.binary);
  }
  status(`connecting to ${ws.url}`);
  const session = new Session(ws, printer, { binary: options.binary, showControl: options.showControl, recorder });

  let opened = false;
  let failure: Promise<string> | null = null;
  let refusal: Promise<string> | null = null;
  let stopKeepalive = (): void => {};

  ws.on('redirect', (next: string) => status(`redirected to ${next}`));
  let handshakeResponse: IncomingMessage | null = null;
  ws.on('upgrade', (response: IncomingMessage) => {
    handshakeResponse = response;
    if (options.verbose) process.stderr.write(describeResponse(response));
  });
  ws.on('unexpected-response', (req: ClientRequest, res: IncomingMessage) => {
    if (options.verbose) process.stderr.write(describeResponse(res));
    refusal = readBody(req, res).then((body) => {
      const status = httpStatus(res.statusCode ?? 0, res.statusMessage);
      const extra = body && body.toLowerCase() !== (res.statusMessage ?? '').toLowerCase() ? `: ${oneLine(body)}` : '';
      const hint = res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location ? ` (redirect to ${oneLine(res.headers.location)}; -L follows it)` : '';
      return `handshake refused: ${status}${extra}${hint}`;
    });
    // The listener owns the failed handshake (as in ws): end it once the body is read; its 'error' reports the refusal.
    void refusal.then(() => ws.terminate());
  });
  ws.on('error', (error: Error & { code?: string; closeCode?: number }) => {
    failure ??= refusal ?? Promise.resolve(describeFailure(error, opened, ws.url));
  });
  ws.on('open', () => {
    opened = true;
    // 'upgrade' comes before the protocol and extensions are known: the handshake is recorded now.
    if (handshakeResponse !== null) recorder?.handshake(sentHeaders(clientOptions, options.subprotocols), handshakeResponse, ws.protocol, ws.extensions);
    printer.open({ url: ws.url, protocol: ws.protocol, extensions: ws.extensions });
    if (options.pingInterval !== undefined || options.pingTimeout !== undefined) {
      const interval = options.pingInterval ?? options.pingTimeout! / 2;
      stopKeepalive = startKeepalive(session, { interval, timeout: options.pingTimeout });
    }
    driver.start(session);
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    recorder?.message('in', data, isBinary);
    if (driver instanceof ExecDriver) driver.deliver(data);
    else printer.message(data, isBinary);
    if (options.echo && session.isOpen) session.sendData(data, isBinary);
  });
  ws.on('ping', (data: Buffer) => {
    recorder?.control('ping', 'in', data);
    if (!options.showControl) return;
    printer.control('ping', 'in', data);
    printer.control('pong', 'out', data);
  });
  ws.on('pong', (data: Buffer) => {
    recorder?.control('pong', 'in', data);
    const rttMs = session.answerPong(data);
    if (rttMs !== undefined) printer.control('pong', 'in', data, { rttMs });
    else if (options.showControl) printer.control('pong', 'in', data);
  });

  const onSignal = (): void => {
    session.closedByUs = true;
    if (ws.readyState === ws.OPEN) session.close(1000);
    else ws.terminate();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  return new Promise<Attempt>((resolve) => {
    ws.on('close', (code: number, reason: Buffer) => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      stopKeepalive();
      driver.stop();
      const clean = failure === null && code !== 1006;
      if (clean && opened) recorder?.close('in', code, reason);
      recorder?.end();
      if (clean && options.showControl) printer.control('close', 'in', reason, { code });
      if (opened) printer.closed(code, reason, clean);
      const local = session.localFailure;
      const problem: Promise<string | null> =
        failure ??
        Promise.resolve(
          local !== null
            ? local
            : code === 1006
              ? 'connection lost: closed without a close frame (1006)'
              : !session.closedByUs && !isNormalClose(code)
                ? `closed by the server: ${describeClose(code, reason)}`
                : null,
        );
      problem.then((message) => {
        // The reason may quote the server (its status text, body, close reason): escaped for the terminal.
        if (message !== null) process.stderr.write(`switchboard: ${escapeControls(message)}\n`);
        resolve({ code: message === null ? 0 : 1, opened, closedByUs: session.closedByUs && local === null });
      });
    });
  });
}

/** The request headers this command chose, for the recording. */
function sentHeaders(clientOptions: ClientOptions, subprotocols: string[]): Record<string, string> {
  const headers: Record<string, string> = { ...(clientOptions.headers as Record<string, string> | undefined) };
  if (clientOptions.origin !== undefined) headers.origin = clientOptions.origin;
  if (subprotocols.length > 0) headers['sec-websocket-protocol'] = subprotocols.join(',');
  return headers;
}

/** -v: "< HTTP/1.1 101 Switching Protocols" and the response headers, one per line, on stderr. */
function describeResponse(response: IncomingMessage): string {
  const lines = [`< HTTP/${response.httpVersion} ${response.statusCode} ${response.statusMessage ?? ''}`.trimEnd()];
  for (let i = 0; i < response.rawHeaders.length; i += 2) lines.push(`< ${response.rawHeaders[i]}: ${response.rawHeaders[i + 1]}`);
  return `${lines.map((l) => escapeControls(l)).join('\n')}\n`;
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

export { describeFailure };
