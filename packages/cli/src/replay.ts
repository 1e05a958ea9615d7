// `switchboard replay FILE [URL]`: runs a session recorded with
// `connect --record` again, as a test. The recorded client messages are sent
// with their timing (or back to back with --fast), every recorded reply is
// awaited and compared (exactly, or as JSON without the --ignore fields),
// and the first difference ends the run with a readable diff and exit 1.
import { readFileSync } from 'node:fs';
import { WebSocket } from 'switchboard';
import { buildClientOptions, type ClientFlags } from './client-options.js';
import { describeFailure, withScheme } from './connect-failure.js';
import { describeClose, oneLine } from './format.js';
import { UsageError } from './options.js';
import { RECORDING_FORMAT, type RecordedEvent, type RecordingHeader } from './record.js';
import { compareReply, type Recorded } from './replay-compare.js';
import { escapeControls, safeJson } from './terminal-safe.js';

export interface ReplayOptions extends ClientFlags {
  file: string;
  url?: string;
  fast: boolean;
  ignore: string[];
  /** Seconds to wait for each recorded reply. */
  timeout: number;
}

/** Request headers the handshake makes anew each time (RFC 6455 §4.1), not replayed from the recording. */
const HANDSHAKE_HEADERS = new Set(['host', 'connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol']);

interface Step {
  line: number;
  event: RecordedEvent;
}

export function readRecording(file: string): { header: RecordingHeader; steps: Step[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const lines = text.split('\n');
  const parsed: unknown[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      parsed[i] = JSON.parse(line);
    } catch {
      throw new UsageError(`${file}:${i + 1}: not JSON`);
    }
  });
  const header = parsed[0] as RecordingHeader | undefined;
  if (header?.format !== RECORDING_FORMAT) throw new UsageError(`${file}: not a switchboard session recording (the first line's "format" is not "${RECORDING_FORMAT}")`);
  const steps: Step[] = [];
  parsed.forEach((event, i) => {
    if (i > 0 && event !== undefined) steps.push({ line: i + 1, event: event as RecordedEvent });
  });
  return { header, steps };
}

export async function replay(options: ReplayOptions): Promise<number> {
  const { header, steps } = readRecording(options.file);
  const handshake = steps.find((s) => s.event.event === 'handshake')?.event as Extract<RecordedEvent, { event: 'handshake' }> | undefined;
  const recordedHeaders = Object.entries(handshake?.request.headers ?? {}).filter(([name]) => !HANDSHAKE_HEADERS.has(name.toLowerCase()));
  const protocols = (handshake?.request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const url = withScheme(options.url ?? header.url);
  const clientOptions = buildClientOptions({ ...options, headers: [...(recordedHeaders as Array<[string, string]>), ...options.headers] }, url);
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, protocols, clientOptions);
  } catch (error) {
    throw new UsageError(`invalid URL ${url}: ${oneLine((error as Error).message)}`);
  }

  const out = (text: string): void => void process.stdout.write(`${escapeControls(text)}\n`);
  const received: Recorded[] = [];
  let wake: (() => void) | null = null;
  const state: { closed: { code: number; reason: string } | null } = { closed: null };
  let failure: string | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    received.push({ opcode: isBinary ? 'binary' : 'text', data: isBinary ? data.toString('base64') : data.toString('utf8') });
    notify();
  });
  ws.on('error', (error: Error & { code?: string }) => {
    failure ??= describeFailure(error, ws.readyState === ws.OPEN || ws.readyState === ws.CLOSING, ws.url);
  });
  const closedPromise = new Promise<void>((resolve) =>
    ws.on('close', (code: number, reason: Buffer) => {
      state.closed = { code, reason: reason.toString() };
      notify();
      resolve();
    }),
  );
  const opened = await new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('close', () => resolve(false));
  });
  if (!opened) {
    process.stderr.write(`switchboard: ${escapeControls(failure ?? 'the connection closed before it opened')}\n`);
    return 1;
  }
  const start = Date.now();
  const base = handshake?.time ?? 0;
  /** Waits until `ready()` or the timeout; false on timeout. */
  const waitUntil = async (ready: () => boolean): Promise<boolean> => {
    const deadline = Date.now() + options.timeout * 1000;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0 || state.closed !== null) return ready();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  };

  let sent = 0;
  let matched = 0;
  let next = 0;
  const mismatch = (step: Step, lines: string[]): number => {
    out(`replay: mismatch at ${options.file}:${step.line} (after ${sent} sent, ${matched} matched)`);
    for (const line of lines) out(`  ${line}`);
    if (ws.readyState === ws.OPEN) ws.close(1000);
    return 1;
  };
  for (const step of steps) {
    const event = step.event;
    if (event.event === 'message' && event.direction === 'out') {
      if (!options.fast) {
        const due = event.time - base - (Date.now() - start);
        if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
      }
      if (ws.readyState !== ws.OPEN) return mismatch(step, [`expected to send ${safeJson(event.data)}, but the connection is closed${state.closed ? `: ${describeClose(state.closed.code, state.closed.reason)}` : ''}`]);
      ws.send(event.opcode === 'binary' ? Buffer.from(event.data, 'base64') : event.data, { binary: event.opcode === 'binary' });
      sent++;
    } else if (event.event === 'message' && event.direction === 'in') {
      const expected: Recorded = { opcode: event.opcode, data: event.data };
      if (!(await waitUntil(() => received.length > next))) {
        const why = state.closed ? `the connection closed: ${describeClose(state.closed.code, state.closed.reason)}` : `nothing within ${options.timeout} s (--timeout)`;
        return mismatch(step, [`expected: ${show(expected)}`, `received: ${why}`]);
      }
      const reply = received[next++]!;
      const diff = compareReply(expected, reply, options.ignore);
      if (diff.length > 0) return mismatch(step, [`expected: ${show(expected)}`, `received: ${show(reply)}`, ...diff]);
      matched++;
    } else if (event.event === 'close' && event.direction === 'out') {
      if (ws.readyState === ws.OPEN) ws.close(event.code, event.reason);
    } else if (event.event === 'close' && event.direction === 'in') {
      await waitUntil(() => state.closed !== null);
      if (state.closed === null) return mismatch(step, [`expected the server to close with ${describeClose(event.code, event.reason)}`, `received: no close within ${options.timeout} s`]);
      const got = state.closed as { code: number; reason: string };
      if (got.code !== event.code) return mismatch(step, [`expected close ${describeClose(event.code, event.reason)}`, `received close ${describeClose(got.code, got.reason)}`]);
    }
  }
  if (ws.readyState === ws.OPEN) ws.close(1000);
  await closedPromise;
  out(`replay: ok, ${sent} message${sent === 1 ? '' : 's'} sent, ${matched} repl${matched === 1 ? 'y' : 'ies'} matched${options.ignore.length ? ` (ignoring ${options.ignore.join(', ')})` : ''}`);
  return 0;
}

function show(message: Recorded): string {
  return message.opcode === 'binary' ? `[binary, base64] ${message.data}` : safeJson(message.data);
}
