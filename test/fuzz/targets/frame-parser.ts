// Fuzz target: FrameParser (src/protocol/frame-parser.ts), both roles, with
// and without borrowed chunks, pausing, split at random chunk boundaries.
import { Buffer, isUtf8 } from 'node:buffer';
import { FrameParser, ProtocolError, isValidCloseCode, type FrameParserOptions } from '../../../packages/switchboard/src/protocol/index.js';
import type { FuzzTarget } from '../engine.js';
import { frameStream } from '../generators.js';
import { mutateBytes, randomChunks, type Rng } from '../rng.js';

export interface FrameInput {
  options: FrameParserOptions;
  chunks: Buffer[];
  /** Pause the parser after every event and resume before the next chunk (the permessage-deflate path does this). */
  pauseEvery: boolean;
}

/** Close codes a parser may fail a connection with (RFC 6455 section 7.4.1). */
const FAILURE_CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009, 1011]);
const MAX_PAYLOADS = [undefined, 0, 1, 16, 125, 126, 1000, 65536];
/** What a peer may make the parser hold beyond what it sent (see EAGER_LIMIT in frame-parser.ts): 1 MiB, or eight times its bytes. */
const EAGER_ALLOCATION = 1024 * 1024;

type Event = { type: string; data?: Buffer; code?: number | string; closeCode?: number; isBinary?: boolean; compressed?: boolean };

function fail(message: string): never {
  throw new Error(message);
}

/** Bytes the parser holds: every Buffer (or list of them) among its own fields, whatever they are called. */
export function retainedBytes(parser: object): number {
  let total = 0;
  for (const value of Object.values(parser)) {
    if (value instanceof Uint8Array) total += value.byteLength;
    else if (Array.isArray(value)) for (const item of value) if (item instanceof Uint8Array) total += item.byteLength;
  }
  return total;
}

function checkEvent(event: Event, options: FrameParserOptions): void {
  const validating = !options.skipUtf8Validation;
  switch (event.type) {
    case 'message': {
      const data = event.data!;
      if (!Buffer.isBuffer(data)) fail('message data is not a Buffer');
      const max = options.maxPayload ?? 100 * 1024 * 1024;
      if (max > 0 && data.length > max) fail(`message of ${data.length} bytes passed maxPayload ${max}`);
      if (event.compressed && !options.allowRsv1) fail('compressed message without allowRsv1');
      if (!event.isBinary && !event.compressed && validating && !isUtf8(data)) fail('text message is not UTF-8');
      break;
    }
    case 'ping':
    case 'pong':
      if (event.data!.length > 125) fail(`${event.type} of ${event.data!.length} bytes`);
      break;
    case 'close': {
      const code = event.code as number;
      if (code === 1005) {
        if (event.data!.length !== 0) fail('close without a code but with a reason');
      } else if (!isValidCloseCode(code)) fail(`close code ${code} reported`);
      if (event.data!.length > 123) fail(`close reason of ${event.data!.length} bytes`);
      if (validating && !isUtf8(event.data!)) fail('close reason is not UTF-8');
      break;
    }
    case 'error':
      if (typeof event.code !== 'string' || !/^WS_ERR_[A-Z0-9_]+$/.test(event.code)) fail(`error code ${String(event.code)}`);
      if (!FAILURE_CLOSE_CODES.has(event.closeCode!)) fail(`error ${event.code} with close code ${event.closeCode}`);
      break;
    default:
      fail(`unknown event ${event.type}`);
  }
}

/**
 * Parses `chunks`, checking every invariant as it goes; returns the events
 * (payloads copied). With `lent`, each chunk is copied into one reused
 * buffer, pushed, and the buffer overwritten, as the I/O layer's shared
 * reads do: a payload still pointing into it would show up as 0xee bytes.
 */
function parse(options: FrameParserOptions, chunks: Buffer[], pauseEvery: boolean, lent: Buffer | null): Event[] {
  const events: Event[] = [];
  let terminal = false;
  let pausedByHandler = false;
  const record = (event: Event): void => {
    if (terminal) fail(`${event.type} reported after ${events.at(-1)!.type}`);
    checkEvent(event, options);
    if (event.type === 'error' || event.type === 'close') terminal = true;
    else if (pauseEvery) {
      pausedByHandler = true;
      parser.pause();
    }
    events.push(event);
  };
  const parser: FrameParser = new FrameParser(
    {
      onMessage: (data, isBinary, compressed) => record({ type: 'message', data, isBinary, compressed }),
      onPing: (data) => record({ type: 'ping', data }),
      onPong: (data) => record({ type: 'pong', data }),
      onClose: (code, reason) => record({ type: 'close', code, data: reason }),
      onError: (error) => {
        if (!(error instanceof ProtocolError)) fail(`onError got ${String(error)}`);
        record({ type: 'error', code: error.code, closeCode: error.closeCode });
      },
    },
    { ...options, borrowedChunks: lent !== null },
  );
  const guard = (what: () => void): void => {
    try {
      what();
    } catch (error) {
      fail(`push/resume threw: ${error instanceof Error ? error.stack : String(error)}`);
    }
  };
  let pushed = 0;
  let shift = 0;
  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c]!;
    if (pausedByHandler) {
      pausedByHandler = false;
      guard(() => parser.resume());
    }
    pushed += chunk.length;
    if (lent !== null) {
      shift = (shift + 3) & 7;
      const view = lent.subarray(shift, shift + chunk.length);
      view.set(chunk);
      guard(() => parser.push(view));
      // Events keep what they were given: copy now, before the lent bytes are overwritten.
      for (const e of events) if (e.data && e.data.buffer === lent.buffer) fail(`${e.type} payload is a view of a lent chunk`);
      lent.fill(0xee);
    } else {
      guard(() => parser.push(Buffer.from(chunk)));
    }
    if (terminal && !parser.done) fail('parser not done after an error or a close');
    // Scanning the parser's fields costs more than parsing a small chunk: after the first chunks, every eighth and the last.
    if (c < 8 || (c & 7) === 0 || c === chunks.length - 1) {
      const held = retainedBytes(parser);
      if (held > EAGER_ALLOCATION + 8 * pushed + 64) fail(`parser holds ${held} bytes after ${pushed} pushed`);
      if (terminal && held > 64) fail(`parser still holds ${held} bytes after it stopped`);
    }
  }
  for (let i = 0; pausedByHandler && i < 100_000; i++) {
    pausedByHandler = false;
    guard(() => parser.resume());
  }
  if (pausedByHandler) fail('resume() never drained');
  return events.map((e) => (e.data ? { ...e, data: Buffer.from(e.data) } : e));
}

function sameEvents(a: Event[], b: Event[], what: string): void {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i];
    const y = b[i];
    if (!x || !y) fail(`${what}: ${a.length} events instead of ${b.length}`);
    if (x.type !== y.type || x.code !== y.code || x.closeCode !== y.closeCode || x.isBinary !== y.isBinary || x.compressed !== y.compressed) {
      fail(`${what}: event ${i} is ${JSON.stringify({ ...x, data: undefined })}, expected ${JSON.stringify({ ...y, data: undefined })}`);
    }
    if ((x.data === undefined) !== (y.data === undefined) || (x.data && !x.data.equals(y.data!))) fail(`${what}: event ${i} (${x.type}) has other bytes`);
  }
}

export const frameParserTarget: FuzzTarget<FrameInput> = {
  name: 'frame-parser',
  generate(rng: Rng): FrameInput {
    const role = rng.chance(0.5) ? ('server' as const) : ('client' as const);
    const options: FrameParserOptions = {
      role,
      maxPayload: rng.pick(MAX_PAYLOADS),
      allowRsv1: rng.chance(0.3),
      skipUtf8Validation: rng.chance(0.1),
    };
    let bytes: Buffer;
    const kind = rng.below(10);
    if (kind === 0) bytes = rng.bytes(rng.size(600));
    else {
      bytes = frameStream(rng, { role });
      if (kind >= 4) bytes = mutateBytes(rng, bytes, rng.chance(0.8) ? 2 : 8);
    }
    return { options, chunks: randomChunks(rng, bytes), pauseEvery: rng.chance(0.2) };
  },
  check(input: FrameInput): void {
    const whole = Buffer.concat(input.chunks);
    const reference = parse(input.options, [whole], false, null);
    sameEvents(parse(input.options, input.chunks, input.pauseEvery, null), reference, 'split in chunks');
    // Buffer.alloc: not from the shared pool, so a view of it is recognisable by its ArrayBuffer.
    const lent = Buffer.alloc(Math.max(1, ...input.chunks.map((c) => c.length)) + 8);
    sameEvents(parse(input.options, input.chunks, input.pauseEvery, lent), reference, 'split in lent chunks');
  },
  describe(input: FrameInput): unknown {
    return { options: input.options, pauseEvery: input.pauseEvery, chunks: input.chunks.map((c) => c.toString('hex')) };
  },
};
