import { Buffer } from 'node:buffer';
import { constants as zlibConstants, createDeflateRaw, createInflateRaw, inflateRawSync, type DeflateRaw, type InflateRaw } from 'node:zlib';
import { WebSocketError } from './errors.js';
import { CloseCode, ProtocolError, type DeflateParams, type MessageTransform, type PerMessageDeflateOptions } from '../protocol/index.js';
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_INFLATING_BYTES, ZlibLimiter, type InflationTicket } from './zlib-limiter.js';

/** The four bytes RFC 7692 strips from the end of every compressed message (an empty stored block). */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/**
 * Compressed messages up to this size are inflated synchronously when the
 * sender keeps no context between messages: a one-shot inflate costs less
 * than a trip through the thread pool, and blocks the loop only briefly.
 */
const SYNC_INFLATE_LIMIT = 64 * 1024;
/** What a one-shot inflate may produce before the message goes to the asynchronous path instead (bounds the time the loop is blocked). */
const SYNC_OUTPUT_LIMIT = 1024 * 1024;
const MAX_BUFFER_LENGTH = 2 ** 31 - 1;

/** An inflated message's buffer starts at least this large once it needs more than zlib's first chunk. */
const MIN_INFLATE_CAPACITY = 64 * 1024;
/** Up to this size an inflated message is copied out of a buffer with room to spare, so that a message kept long holds no slack. */
const TRIM_LIMIT = 1024 * 1024;

const limiter = new ZlibLimiter(DEFAULT_CONCURRENCY, DEFAULT_MAX_INFLATING_BYTES);

/**
 * One compressor shared by every connection whose messages carry no
 * context (server_no_context_takeover, the server's default): one zlib state
 * for the whole process instead of ~270 KB per connection, which also keeps
 * it in the CPU's cache. Messages are compressed one at a time, each from a
 * fresh state (reset after each).
 */
class SharedCompressor {
  private stream: DeflateRaw;
  private chunks: Buffer[] = [];
  private length = 0;
  private busy = false;
  private readonly queue: Array<{ data: Uint8Array; callback: (error: Error | null, result?: Uint8Array) => void }> = [];

  constructor(private readonly options: Record<string, unknown>) {
    this.stream = this.createStream();
  }

  private createStream(): DeflateRaw {
    const stream = createDeflateRaw(this.options);
    stream.on('data', (chunk: Buffer) => {
      if (stream !== this.stream) return;
      this.chunks.push(chunk);
      this.length += chunk.length;
    });
    // A failed compression is reported to its caller by the flush callback; the process must not crash.
    stream.on('error', () => {});
    return stream;
  }

  compress(data: Uint8Array, callback: (error: Error | null, result?: Uint8Array) => void): void {
    this.queue.push({ data, callback });
    if (!this.busy) this.next();
  }

  private next(): void {
    const job = this.queue.shift();
    if (job === undefined) {
      this.busy = false;
      return;
    }
    this.busy = true;
    const stream = this.stream;
    stream.write(job.data);
    stream.flush(zlibConstants.Z_SYNC_FLUSH, (error?: Error | null) => {
      const chunks = this.chunks;
      const length = this.length;
      this.chunks = [];
      this.length = 0;
      if (error || stream.destroyed) {
        // A broken stream cannot be reset: the next message gets a new one; this one fails.
        this.stream = this.createStream();
        job.callback(error ?? new WebSocketError('WS_ERR_COMPRESSION_FAILED', 'The compressor failed'));
      } else {
        const result = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
        stream.reset();
        job.callback(null, result.subarray(0, result.length - 4));
      }
      this.next();
    });
  }
}

const sharedCompressors = new Map<string, SharedCompressor>();

function sharedCompressor(windowBits: number, options: Record<string, unknown> | undefined): SharedCompressor {
  const key = `${windowBits} ${JSON.stringify(options ?? {})}`;
  let compressor = sharedCompressors.get(key);
  if (compressor === undefined) {
    compressor = new SharedCompressor({ ...options, windowBits });
    sharedCompressors.set(key, compressor);
  }
  return compressor;
}

/**
 * permessage-deflate (RFC 7692) as a message transform over node:zlib. The
 * zlib contexts are created on the first compressed message (an idle
 * connection holds none) and freed by `release()`. Inflation stops as soon as
 * the output passes `maxPayload`, so a decompression bomb never sits in memory.
 * A message is inflated into one buffer grown geometrically (zlib's chunks
 * are copied in as they come, not kept and joined at the end), so it costs
 * about its own size, and the limiter bounds the output of all inflations
 * under way together.
 */
export class PerMessageDeflate implements MessageTransform {
  private inflate: InflateRaw | null = null;
  private deflate: DeflateRaw | null = null;
  /** The message being inflated: zlib's first chunk as it came, or a buffer of ours with room to grow (`inflateOwned`). */
  private inflateOutput: Buffer | null = null;
  private inflateOwned = false;
  private inflateLength = 0;
  private inflateTicket: InflationTicket | null = null;
  /** Where the message's compressed bytes start in the inflater's input, and how many there are: to foresee its size. */
  private inflateInputStart = 0;
  private inflateInputLength = 0;
  /** Ends the message once zlib's buffered output has been read (set when the flush came before it was). */
  private inflateDrained: (() => void) | null = null;
  private inflateCallback: ((error: ProtocolError | null, result?: Uint8Array) => void) | null = null;
  private deflateChunks: Buffer[] = [];
  private deflateLength = 0;
  private deflateCallback: ((error: Error | null, result?: Uint8Array) => void) | null = null;
  private released = false;
  /** Whether a fragmented message is being compressed on this connection's own deflater. */
  private midMessage = false;

  constructor(
    private readonly params: DeflateParams,
    private readonly isServer: boolean,
    private readonly maxPayload: number,
    private readonly options: PerMessageDeflateOptions = {},
  ) {
    if (options.concurrencyLimit !== undefined) limiter.setLimit(options.concurrencyLimit);
    if (options.maxInflatingBytes !== undefined) limiter.setMaxInflatingBytes(options.maxInflatingBytes);
  }

  decode(data: Uint8Array, callback: (error: ProtocolError | null, result?: Uint8Array) => void): void {
    const noContextTakeover = this.isServer ? this.params.clientNoContextTakeover : this.params.serverNoContextTakeover;
    if (noContextTakeover && data.length <= SYNC_INFLATE_LIMIT && this.inflateCallback === null && !this.released) {
      this.inflateOnce(data, callback);
      return;
    }
    limiter.run((done) => {
      this.inflateMessage(data, (error, result) => {
        done();
        callback(error, result);
      });
    });
  }

  encode(data: Uint8Array, fin: boolean, callback: (error: Error | null, result?: Uint8Array) => void): void {
    const noContextTakeover = this.isServer ? this.params.serverNoContextTakeover : this.params.clientNoContextTakeover;
    if (noContextTakeover && fin && !this.midMessage) {
      if (this.released) {
        callback(new WebSocketError('WS_ERR_NOT_OPEN', 'The connection is closed'));
        return;
      }
      const windowBits = this.isServer ? this.params.serverMaxWindowBits : this.params.clientMaxWindowBits;
      let compressor: SharedCompressor;
      try {
        compressor = sharedCompressor(windowBits, this.options.zlibDeflateOptions);
      } catch (error) {
        // Bad zlibDeflateOptions: the send fails, the connection's queue goes on.
        callback(error as Error);
        return;
      }
      compressor.compress(data, callback);
      return;
    }
    // A message sent in fragments keeps its own compressor state between them.
    this.midMessage = !fin;
    limiter.run((done) => {
      let answered = false;
      try {
        this.deflateFragment(data, fin, (error, result) => {
          answered = true;
          done();
          callback(error, result);
        });
      } catch (error) {
        if (answered) throw error;
        done();
        callback(error as Error);
      }
    });
  }

  /** Frees both zlib contexts; an operation still running is answered with an error (so its limiter slot is freed). */
  release(): void {
    this.released = true;
    this.failInflate(new ProtocolError('WS_ERR_INVALID_COMPRESSED_DATA', 'The connection is closed'));
    this.failDeflate(new WebSocketError('WS_ERR_NOT_OPEN', 'The connection is closed'));
  }

  /** Inflates a message that shares no context with others, at once (`finishFlush` accepts the missing trailer). */
  private inflateOnce(data: Uint8Array, callback: (error: ProtocolError | null, result?: Uint8Array) => void): void {
    let result: Buffer;
    try {
      result = inflateRawSync(data, {
        ...this.options.zlibInflateOptions,
        windowBits: 15,
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        maxOutputLength: Math.min(this.maxPayload > 0 ? this.maxPayload : MAX_BUFFER_LENGTH, SYNC_OUTPUT_LIMIT),
      });
    } catch (error) {
      const tooLarge = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      if (tooLarge && (this.maxPayload <= 0 || this.maxPayload > SYNC_OUTPUT_LIMIT)) {
        // Larger than a one-shot inflate should block the loop for: inflate it in the thread pool, still bounded by maxPayload.
        limiter.run((done) => {
          this.inflateMessage(data, (asyncError, result) => {
            done();
            callback(asyncError, result);
          });
        });
        return;
      }
      if (tooLarge) {
        callback(
          new ProtocolError('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'Max payload size exceeded', CloseCode.MessageTooBig),
        );
      } else {
        callback(new ProtocolError('WS_ERR_INVALID_COMPRESSED_DATA', `Invalid compressed data: ${(error as Error).message}`, CloseCode.InvalidPayload));
      }
      return;
    }
    callback(null, result);
  }

  private inflateMessage(data: Uint8Array, callback: (error: ProtocolError | null, result?: Uint8Array) => void): void {
    if (this.released) {
      callback(new ProtocolError('WS_ERR_INVALID_COMPRESSED_DATA', 'The connection is closed'));
      return;
    }
    const inflate = this.inflate ?? this.createInflate();
    this.inflateCallback = callback;
    this.inflateTicket = limiter.startInflation(() => {
      if (this.inflate === inflate) inflate.resume();
    });
    this.inflateInputStart = inflate.bytesWritten;
    this.inflateInputLength = data.length + TRAILER.length;
    const consumedAfter = this.inflateInputStart + this.inflateInputLength;
    inflate.write(data);
    inflate.write(TRAILER);
    inflate.flush(() => {
      if (this.inflateCallback === null || this.inflate !== inflate) return;
      // Output zlib produced while the stream was paused (over the budget) waits in the stream: the message ends once it is read.
      if (inflate.readableLength > 0) this.inflateDrained = () => this.endInflation(inflate, consumedAfter);
      else this.endInflation(inflate, consumedAfter);
    });
  }

  private endInflation(inflate: InflateRaw, consumedAfter: number): void {
    const pending = this.inflateCallback!;
    this.inflateCallback = null;
    const result = this.takeInflated();
    // Paused by the budget on its last chunk: the next message must flow.
    if (inflate.isPaused()) inflate.resume();
    const noContextTakeover = this.isServer ? this.params.clientNoContextTakeover : this.params.serverNoContextTakeover;
    // A message that ended its deflate stream with a BFINAL block (RFC 7692
    // 7.2.3.4) leaves zlib taking no more input: the next message needs a new
    // inflater. Without context takeover none is kept either: the connection
    // holds no zlib state between messages (most of those are inflated in one
    // shot, without an inflater of their own).
    if (inflate.bytesWritten < consumedAfter || noContextTakeover) {
      this.inflate = null;
      inflate.close();
    }
    pending(null, result);
  }

  /**
   * Appends a chunk of zlib's output to the message. Its buffer grows to
   * what the message will inflate to if the rest of the input inflates as
   * the `consumed` bytes did, and at least doubles: most large messages
   * are copied once or twice, not log(size) times, and leave little
   * garbage behind. At most `maxPayload`.
   */
  private appendInflated(chunk: Buffer, length: number, consumed: number): void {
    const output = this.inflateOutput;
    if (output === null) {
      // Most messages inflated here fit in zlib's first chunk: kept as it is.
      this.inflateOutput = chunk;
    } else {
      const held = length - chunk.length;
      let target = output;
      if (!this.inflateOwned || length > output.length) {
        const ceiling = this.maxPayload > 0 ? Math.min(this.maxPayload, MAX_BUFFER_LENGTH) : MAX_BUFFER_LENGTH;
        const foreseen = consumed > 0 ? Math.ceil((length / consumed) * this.inflateInputLength * 1.125) : 0;
        const capacity = Math.min(ceiling, Math.max(length, 2 * held, MIN_INFLATE_CAPACITY, foreseen));
        target = Buffer.allocUnsafe(capacity);
        output.copy(target, 0, 0, held);
        this.inflateOutput = target;
        this.inflateOwned = true;
      }
      chunk.copy(target, held);
    }
    this.inflateLength = length;
  }

  /** The message inflated so far, handed over: this connection and the limiter let go of it. */
  private takeInflated(): Buffer {
    const output = this.inflateOutput;
    const length = this.inflateLength;
    const owned = this.inflateOwned;
    this.inflateOutput = null;
    this.inflateOwned = false;
    this.inflateLength = 0;
    this.inflateTicket?.finish();
    this.inflateTicket = null;
    if (output === null) return Buffer.alloc(0);
    if (!owned) return output;
    // Room a large buffer never used is never touched (not resident); a small one is copied out (cheap) so it holds none.
    if (length <= TRIM_LIMIT && output.length - length > output.length >>> 3) return Buffer.from(output.subarray(0, length));
    return output.subarray(0, length);
  }

  /** Drops the inflater (its state is unusable after an error) and answers the pending decode with `error`. */
  private failInflate(error: ProtocolError): void {
    const inflate = this.inflate;
    this.inflate = null;
    this.inflateDrained = null;
    this.takeInflated();
    inflate?.close();
    const pending = this.inflateCallback;
    this.inflateCallback = null;
    pending?.(error);
  }

  private createInflate(): InflateRaw {
    // A 15-bit window inflates what any smaller window produced.
    const inflate = createInflateRaw({ ...this.options.zlibInflateOptions, windowBits: 15 });
    inflate.on('data', (chunk: Buffer) => {
      if (this.inflate !== inflate) return;
      const length = this.inflateLength + chunk.length;
      if (this.maxPayload > 0 && length > this.maxPayload) {
        // Stop at once (zlib hands output over in chunks of 16 KiB): the rest of the message is never inflated.
        this.failInflate(
          new ProtocolError('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'Max payload size exceeded', CloseCode.MessageTooBig),
        );
        return;
      }
      this.appendInflated(chunk, length, inflate.bytesWritten - this.inflateInputStart);
      // Over the process's budget: zlib stops producing until other inflations finish.
      if (this.inflateTicket?.charge(chunk.length)) inflate.pause();
      const drained = this.inflateDrained;
      if (drained !== null && inflate.readableLength === 0) {
        this.inflateDrained = null;
        drained();
      }
    });
    inflate.on('error', (error: Error) => {
      if (this.inflate !== inflate) return;
      this.failInflate(new ProtocolError('WS_ERR_INVALID_COMPRESSED_DATA', `Invalid compressed data: ${error.message}`, CloseCode.InvalidPayload));
    });
    this.inflate = inflate;
    return inflate;
  }

  private deflateFragment(data: Uint8Array, fin: boolean, callback: (error: Error | null, result?: Uint8Array) => void): void {
    if (this.released) {
      callback(new WebSocketError('WS_ERR_NOT_OPEN', 'The connection is closed'));
      return;
    }
    const deflate = this.deflate ?? this.createDeflate();
    this.deflateCallback = callback;
    deflate.write(data);
    deflate.flush(zlibConstants.Z_SYNC_FLUSH, () => {
      const pending = this.deflateCallback;
      if (pending === null || this.deflate !== deflate) return;
      this.deflateCallback = null;
      const chunks = this.deflateChunks;
      let result = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.deflateLength);
      this.deflateChunks = [];
      this.deflateLength = 0;
      // A sync flush ends with 00 00 ff ff; RFC 7692 sends messages without it.
      if (fin) result = result.subarray(0, result.length - 4);
      const noContextTakeover = this.isServer ? this.params.serverNoContextTakeover : this.params.clientNoContextTakeover;
      if (fin && noContextTakeover) deflate.reset();
      pending(null, result);
    });
  }

  private failDeflate(error: Error): void {
    const deflate = this.deflate;
    this.deflate = null;
    this.deflateChunks = [];
    this.deflateLength = 0;
    deflate?.close();
    const pending = this.deflateCallback;
    this.deflateCallback = null;
    pending?.(error);
  }

  private createDeflate(): DeflateRaw {
    const windowBits = this.isServer ? this.params.serverMaxWindowBits : this.params.clientMaxWindowBits;
    const deflate = createDeflateRaw({ ...this.options.zlibDeflateOptions, windowBits });
    deflate.on('data', (chunk: Buffer) => {
      if (this.deflate !== deflate) return;
      this.deflateChunks.push(chunk);
      this.deflateLength += chunk.length;
    });
    deflate.on('error', (error: Error) => {
      if (this.deflate !== deflate) return;
      this.failDeflate(error);
    });
    this.deflate = deflate;
    return deflate;
  }
}
