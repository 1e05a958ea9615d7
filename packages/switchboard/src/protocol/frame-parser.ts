import { Buffer } from 'node:buffer';
import {
  CloseCode,
  DEFAULT_MAX_BUFFERED_CHUNKS,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_PAYLOAD,
  MAX_CONTROL_PAYLOAD,
  MAX_SAFE_FRAME_LENGTH,
  Opcode,
  isValidCloseCode,
} from './constants.js';
import { ProtocolError } from './errors.js';
import { SIMD_THRESHOLD, applyMask, maskRegion, unmaskText } from './mask.js';
import { StreamingUtf8Validator, isUtf8 } from './utf8.js';

/** What the parser reports. Implemented by the I/O layer; called synchronously from `push`. */
export interface FrameParserHandler {
  /**
   * A complete data message. `data` may be a view into the chunk passed to
   * `push` (no copy): the handler owns it from here on. `compressed` is true
   * when the first frame had RSV1 set (only possible when an extension
   * allowed it); such text has not been UTF-8 checked yet.
   */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /** A valid close frame. `code` is 1005 when the frame had no status code. */
  onClose(code: number, reason: Buffer): void;
  /** The peer broke the protocol; the connection must be failed with `error.closeCode`. Nothing more is parsed. */
  onError(error: ProtocolError): void;
}

export interface FrameParserOptions {
  /** 'server' expects masked frames from the client; 'client' expects unmasked frames from the server. */
  role: 'server' | 'client';
  /** Largest message (after any reassembly) in bytes; 0 means no limit. Default 100 MiB. */
  maxPayload?: number;
  /** Whether RSV1 may be set on the first frame of a data message (an extension such as permessage-deflate negotiated it). */
  allowRsv1?: boolean;
  /**
   * Most frames one data message may span (ws's `maxFragments`); the frame
   * past it fails the connection with 1008 and `WS_ERR_TOO_MANY_BUFFERED_PARTS`.
   * Without it a peer can make us hold one piece per frame: a million
   * one-byte fragments fit in `maxPayload`. 0 means no limit. Default 16,384.
   */
  maxFragments?: number;
  /**
   * Most chunks held at once for an incomplete frame, and while paused (ws
   * 8.21's `maxBufferedChunks`): past it the connection fails with 1008 and
   * `WS_ERR_TOO_MANY_BUFFERED_PARTS`. A peer trickling a large frame a byte
   * per packet cannot make us hold millions of tiny buffers. 0 means no
   * limit. Default 1,048,576 (ws's).
   */
  maxBufferedChunks?: number;
  /** Skip UTF-8 validation of text messages and close reasons. */
  skipUtf8Validation?: boolean;
  /**
   * The chunks passed to `push` are lent for the duration of the call (the
   * I/O layer reads every connection into one buffer it reuses), so
   * whatever outlives the call is copied: reported payloads, pieces of a
   * split frame, bytes held while paused. A payload under 128 bytes is
   * unmasked as it is copied; a longer one is unmasked in place, in the
   * chunk, then copied.
   */
  borrowedChunks?: boolean;
}

const EMPTY: Buffer = Buffer.alloc(0);
/**
 * With borrowed chunks, a frame split across chunks is copied into a
 * buffer of its final size as it arrives: at once up to EAGER_LIMIT bytes,
 * otherwise once an eighth of it has arrived (the pieces before that are
 * kept as copies and move in then), so that what a peer makes us allocate
 * is at most 1 MiB per connection or eight times what it sent. (Waiting
 * for an eighth below 1 MiB cost up to twice the CPU per message at 1,000
 * connections × 1 MiB: many small pieces, then a second copy.) Frames over
 * PREALLOCATE_LIMIT are kept as copied pieces joined at the end.
 */
const EAGER_LIMIT = 1024 * 1024;
const PREALLOCATE_LIMIT = 16 * 1024 * 1024;

/** Writes `target.length` bytes of `source` from `offset` into `target`, XORed with the masking key (RFC 6455 section 5.3). */
function copyUnmasked(source: Uint8Array, offset: number, target: Uint8Array, key: Uint8Array): void {
  const length = target.length;
  for (let i = 0; i < length; i++) target[i] = source[offset + i]! ^ key[i & 3]!;
}

/** `copyUnmasked` for text: also returns whether every byte written is ASCII (see unmaskText), found out in the same pass. */
function copyUnmaskedText(source: Uint8Array, offset: number, target: Uint8Array, key: Uint8Array): boolean {
  const length = target.length;
  let high = 0;
  for (let i = 0; i < length; i++) high |= target[i] = source[offset + i]! ^ key[i & 3]!;
  return high < 0x80;
}

/** An owned copy of bytes that live in a borrowed chunk. */
function copyOf(view: Buffer): Buffer {
  if (view.length === 0) return EMPTY;
  const copy = Buffer.allocUnsafe(view.length);
  copy.set(view);
  return copy;
}

const enum State {
  Header,
  Payload,
  Done,
}

/**
 * Incremental RFC 6455 frame parser: bytes in, events out. Frames that sit
 * whole inside one chunk are unmasked in place and handed over as views of
 * that chunk; frames split across chunks are gathered and joined once.
 */
export class FrameParser {
  private readonly handler: FrameParserHandler;
  private readonly expectMask: boolean;
  private readonly maxPayload: number;
  /** Infinity when there is no limit, so the check is one compare. */
  private readonly maxFragments: number;
  /** Infinity when there is no limit. */
  private readonly maxBufferedChunks: number;
  private readonly allowRsv1: boolean;
  private readonly validateUtf8: boolean;
  private readonly borrowed: boolean;

  private state = State.Header;
  /** Header bytes of a header that was split across chunks. */
  private headerScratch: Buffer | null = null;
  private headerHave = 0;

  // The frame being read.
  private fin = false;
  private opcode = 0;
  private masked = false;
  private readonly maskKey = new Uint8Array(4);
  private payloadLength = 0;
  private payloadReceived = 0;
  private payloadPieces: Buffer[] | null = null;
  /** With borrowed chunks: the split frame's payload, allocated at its full length and filled as pieces arrive. */
  private payloadTarget: Buffer | null = null;

  // The data message being reassembled.
  private messageOpcode = 0;
  private messageCompressed = false;
  private messageLength = 0;
  /** Frames of the data message being read so far. */
  private messageFrames = 0;
  private fragments: Buffer[] | null = null;
  /** Whether the current text message is being checked piece by piece (it spans frames or chunks). */
  private streamingText = false;
  private utf8: StreamingUtf8Validator | null = null;

  /** Set by `pause()`: bytes pushed meanwhile wait in `held` until `resume()`. */
  private paused = false;
  private held: Buffer[] | null = null;

  constructor(handler: FrameParserHandler, options: FrameParserOptions) {
    this.handler = handler;
    this.expectMask = options.role === 'server';
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    const maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.maxFragments = maxFragments >= 1 ? Math.floor(maxFragments) : Infinity;
    const maxBufferedChunks = options.maxBufferedChunks ?? DEFAULT_MAX_BUFFERED_CHUNKS;
    this.maxBufferedChunks = maxBufferedChunks >= 1 ? Math.floor(maxBufferedChunks) : Infinity;
    this.allowRsv1 = options.allowRsv1 ?? false;
    this.validateUtf8 = !options.skipUtf8Validation;
    this.borrowed = options.borrowedChunks ?? false;
  }

  /** Whether the parser has stopped (after a close frame or a protocol error). */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** Feeds bytes read from the connection. Everything that completes is reported before it returns. */
  push(chunk: Buffer): void {
    if (this.paused) {
      if (this.state !== State.Done) (this.held ??= []).push(this.borrowed ? copyOf(chunk) : chunk);
      return;
    }
    let offset = 0;
    const length = chunk.length;
    // Where the chunk lies, read at most once per chunk (and not at all for short lent payloads,
    // which are copied by index): whole payloads are cut, unmasked and copied by position, with
    // no Buffer#subarray (whose getters V8 does not inline there; see maskRegion).
    let memory: ArrayBufferLike | null = null;
    let base = 0;
    while (offset < length) {
      if (this.paused) {
        // A handler paused us (an extension decodes a message asynchronously): keep the rest for resume().
        if (this.state !== State.Done) {
          const rest = chunk.subarray(offset);
          (this.held ??= []).push(this.borrowed ? copyOf(rest) : rest);
        }
        return;
      }
      if (this.state === State.Header) {
        if (this.headerHave > 0) {
          offset = this.continueHeader(chunk, offset);
          if (offset < 0) return;
          continue;
        }
        const available = length - offset;
        if (available < 2) {
          this.startSplitHeader(chunk, offset);
          return;
        }
        const headerLength = headerSize(chunk[offset + 1]!);
        if (available < headerLength) {
          this.startSplitHeader(chunk, offset);
          return;
        }
        if (!this.readHeader(chunk, offset)) return;
        offset += headerLength;
        const payloadEnd = offset + this.payloadLength;
        if (payloadEnd <= length) {
          // The common case: the whole payload is in this chunk; no copy unless the chunk is only lent.
          const payloadLength = this.payloadLength;
          let payload: Buffer = EMPTY;
          // Whether unmasking found the payload all ASCII: a text message then needs no UTF-8 check.
          let knownAscii = false;
          if (this.borrowed && this.masked && payloadLength < SIMD_THRESHOLD) {
            // Short and lent: copied and unmasked in one pass, with no view to make.
            if (payloadLength > 0) {
              payload = Buffer.allocUnsafe(payloadLength);
              if (this.opcode === Opcode.Text) knownAscii = copyUnmaskedText(chunk, offset, payload, this.maskKey);
              else copyUnmasked(chunk, offset, payload, this.maskKey);
            }
          } else {
            if (memory === null) {
              memory = chunk.buffer;
              base = chunk.byteOffset;
            }
            const start = base + offset;
            if (!this.borrowed) {
              payload = Buffer.from(memory, start, payloadLength);
              knownAscii = this.unmaskInPlace(memory, start, payload);
            } else if (payloadLength > 0) {
              // Lent: unmasked where it lies, then copied out.
              const lent = new Uint8Array(memory, start, payloadLength);
              knownAscii = this.unmaskInPlace(memory, start, lent);
              payload = Buffer.allocUnsafe(payloadLength);
              payload.set(lent);
            }
          }
          offset = payloadEnd;
          if (!this.completeFrame(payload, true, knownAscii)) return;
          continue;
        }
        this.state = State.Payload;
        this.payloadReceived = 0;
      } else if (this.state === State.Payload) {
        offset = this.continuePayload(chunk, offset);
        if (offset < 0) return;
      } else {
        return;
      }
    }
  }

  /**
   * Unmasks the whole payload of the current frame, the bytes at `start` of `memory` (`view` over them), in
   * place, if it is masked. Returns whether they are known to be all ASCII, which is asked only of text
   * (see unmaskText).
   */
  private unmaskInPlace(memory: ArrayBufferLike, start: number, view: Uint8Array): boolean {
    if (!this.masked) return false;
    if (this.opcode === Opcode.Text) return unmaskText(memory, start, this.payloadLength, this.maskKey, view);
    maskRegion(memory, start, this.payloadLength, this.maskKey, 0, view);
    return false;
  }

  /**
   * Stops reporting after the event being reported now; bytes pushed until
   * `resume()` are held, so events keep their order around asynchronous work.
   */
  pause(): void {
    this.paused = true;
  }

  /** Reports what was held since `pause()`, until done or paused again. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = null;
    if (held === null) return;
    while (held.length > 0) {
      this.push(held.shift()!);
      if (this.paused) {
        // Paused again: what push() kept goes before the chunks not reached yet.
        const kept = this.held as Buffer[] | null;
        this.held = kept === null ? held : kept.concat(held);
        return;
      }
    }
  }

  /** Stops parsing and drops what is buffered (the connection is gone). */
  destroy(): void {
    this.state = State.Done;
    this.release();
  }

  private release(): void {
    this.headerScratch = null;
    this.held = null;
    this.payloadPieces = null;
    this.payloadTarget = null;
    this.fragments = null;
    this.utf8 = null;
  }

  private startSplitHeader(chunk: Buffer, offset: number): void {
    const scratch = (this.headerScratch ??= Buffer.allocUnsafe(14));
    const n = chunk.length - offset;
    chunk.copy(scratch, 0, offset);
    this.headerHave = n;
  }

  /** Adds bytes to a split header; returns the new offset, or -1 when parsing stopped or needs more data. */
  private continueHeader(chunk: Buffer, offset: number): number {
    const scratch = this.headerScratch!;
    if (this.headerHave < 2) scratch[this.headerHave++] = chunk[offset++]!;
    if (this.headerHave < 2) return chunk.length > offset ? offset : -1;
    const need = headerSize(scratch[1]!);
    const take = Math.min(need - this.headerHave, chunk.length - offset);
    chunk.copy(scratch, this.headerHave, offset, offset + take);
    this.headerHave += take;
    offset += take;
    if (this.headerHave < need) return -1;
    this.headerHave = 0;
    if (!this.readHeader(scratch, 0)) return -1;
    this.payloadReceived = 0;
    if (this.payloadLength === 0) {
      return this.completeFrame(EMPTY, true) ? offset : -1;
    }
    this.state = State.Payload;
    return offset;
  }

  /** Adds bytes to a payload split across chunks; returns the new offset, or -1 when parsing stopped. */
  private continuePayload(chunk: Buffer, offset: number): number {
    const take = Math.min(this.payloadLength - this.payloadReceived, chunk.length - offset);
    const piece = chunk.subarray(offset, offset + take);
    if (this.masked) applyMask(piece, this.maskKey, this.payloadReceived);
    const pieceOffset = this.payloadReceived;
    this.payloadReceived += take;
    offset += take;
    const last = this.payloadReceived === this.payloadLength;
    if (this.isStreamedText()) {
      // Check text as it arrives, so invalid UTF-8 fails the connection
      // before the rest of a long frame is read.
      if (!this.checkTextPiece(piece)) return -1;
      if (last) {
        this.state = State.Header;
        const payload = this.joinPieces(piece, pieceOffset);
        return this.completeFrame(payload, false) ? offset : -1;
      }
      return this.keepPiece(piece, pieceOffset) ? offset : -1;
    }
    if (!last) return this.keepPiece(piece, pieceOffset) ? offset : -1;
    this.state = State.Header;
    return this.completeFrame(this.joinPieces(piece, pieceOffset), true) ? offset : -1;
  }

  /** Keeps a piece of a split payload (at `pieceOffset` in it) until the rest has arrived; false after failing for too many pieces. */
  private keepPiece(piece: Buffer, pieceOffset: number): boolean {
    if (this.payloadPieces !== null && this.payloadPieces.length >= this.maxBufferedChunks) return this.tooManyChunks();
    if (!this.borrowed) {
      (this.payloadPieces ??= []).push(piece);
    } else if (this.payloadTarget !== null) {
      this.payloadTarget.set(piece, pieceOffset);
    } else if (
      this.payloadLength <= PREALLOCATE_LIMIT &&
      (this.payloadLength <= EAGER_LIMIT || (pieceOffset + piece.length) * 8 >= this.payloadLength)
    ) {
      const target = Buffer.allocUnsafe(this.payloadLength);
      let at = 0;
      for (const kept of this.payloadPieces ?? []) {
        target.set(kept, at);
        at += kept.length;
      }
      this.payloadPieces = null;
      target.set(piece, pieceOffset);
      this.payloadTarget = target;
    } else {
      (this.payloadPieces ??= []).push(copyOf(piece));
    }
    return true;
  }

  private tooManyChunks(): false {
    return this.fail(new ProtocolError('WS_ERR_TOO_MANY_BUFFERED_PARTS', 'Too many buffered chunks', CloseCode.PolicyViolation));
  }

  /** The whole payload of a split frame, given its last piece. */
  private joinPieces(lastPiece: Buffer, pieceOffset: number): Buffer {
    const target = this.payloadTarget;
    if (target !== null) {
      this.payloadTarget = null;
      target.set(lastPiece, pieceOffset);
      return target;
    }
    const pieces = this.payloadPieces;
    if (pieces === null) return this.borrowed ? copyOf(lastPiece) : lastPiece;
    this.payloadPieces = null;
    pieces.push(lastPiece);
    return Buffer.concat(pieces, this.payloadLength);
  }

  /** Whether the frame being read is (part of) an uncompressed text message checked piece by piece. */
  private isStreamedText(): boolean {
    if (!this.validateUtf8 || this.opcode >= Opcode.Close) return false;
    const textMessage = this.opcode === Opcode.Text || (this.opcode === Opcode.Continuation && this.messageOpcode === Opcode.Text);
    if (!textMessage || this.messageCompressed) return false;
    if (!this.streamingText) {
      this.streamingText = true;
      (this.utf8 ??= new StreamingUtf8Validator()).reset();
    }
    return true;
  }

  private checkTextPiece(piece: Buffer): boolean {
    if (this.utf8!.push(piece)) return true;
    this.fail(new ProtocolError('WS_ERR_INVALID_UTF8', 'Invalid WebSocket frame: invalid UTF-8 sequence', CloseCode.InvalidPayload));
    return false;
  }

  /**
   * Decodes and validates the header at buf[offset] (the whole header is
   * there). Returns false after reporting a protocol error.
   */
  private readHeader(buf: Buffer, offset: number): boolean {
    const b0 = buf[offset]!;
    const b1 = buf[offset + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let pos = offset + 2;

    if ((b0 & 0x30) !== 0) return this.fail(new ProtocolError('WS_ERR_UNEXPECTED_RSV_2_3', 'Invalid WebSocket frame: RSV2 and RSV3 must be clear'));
    const isControl = opcode >= Opcode.Close;
    if (isControl) {
      if (opcode > Opcode.Pong) return this.fail(new ProtocolError('WS_ERR_INVALID_OPCODE', `Invalid WebSocket frame: invalid opcode ${opcode}`));
      if (!fin) return this.fail(new ProtocolError('WS_ERR_EXPECTED_FIN', 'Invalid WebSocket frame: FIN must be set'));
      if (length > MAX_CONTROL_PAYLOAD) {
        return this.fail(new ProtocolError('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', `Invalid WebSocket frame: invalid payload length ${length}`));
      }
      if (rsv1) return this.fail(new ProtocolError('WS_ERR_UNEXPECTED_RSV_1', 'Invalid WebSocket frame: RSV1 must be clear'));
    } else if (opcode === Opcode.Continuation) {
      if (this.fragments === null) return this.fail(new ProtocolError('WS_ERR_UNEXPECTED_CONTINUATION', 'Invalid WebSocket frame: invalid opcode 0 (no message to continue)'));
      if (rsv1) return this.fail(new ProtocolError('WS_ERR_UNEXPECTED_RSV_1', 'Invalid WebSocket frame: RSV1 must be clear'));
    } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      if (this.fragments !== null) return this.fail(new ProtocolError('WS_ERR_EXPECTED_CONTINUATION', `Invalid WebSocket frame: invalid opcode ${opcode} (a fragmented message is not finished)`));
      if (rsv1 && !this.allowRsv1) return this.fail(new ProtocolError('WS_ERR_UNEXPECTED_RSV_1', 'Invalid WebSocket frame: RSV1 must be clear'));
    } else {
      return this.fail(new ProtocolError('WS_ERR_INVALID_OPCODE', `Invalid WebSocket frame: invalid opcode ${opcode}`));
    }
    if (masked !== this.expectMask) {
      return this.expectMask
        ? this.fail(new ProtocolError('WS_ERR_EXPECTED_MASK', 'Invalid WebSocket frame: MASK must be set'))
        : this.fail(new ProtocolError('WS_ERR_UNEXPECTED_MASK', 'Invalid WebSocket frame: MASK must be clear'));
    }

    if (length === 126) {
      length = (buf[pos]! << 8) | buf[pos + 1]!;
      pos += 2;
      if (length < 126) return this.fail(new ProtocolError('WS_ERR_NON_MINIMAL_LENGTH', 'Invalid WebSocket frame: payload length not in its shortest form'));
    } else if (length === 127) {
      const high = buf.readUInt32BE(pos);
      const low = buf.readUInt32BE(pos + 4);
      pos += 8;
      if (high > 0x1fffff) {
        return this.fail(
          new ProtocolError('WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 'Unsupported WebSocket frame: payload length > 2^53 - 1', CloseCode.MessageTooBig),
        );
      }
      length = high * 0x100000000 + low;
      if (length < 0x10000) return this.fail(new ProtocolError('WS_ERR_NON_MINIMAL_LENGTH', 'Invalid WebSocket frame: payload length not in its shortest form'));
      if (length > MAX_SAFE_FRAME_LENGTH) {
        return this.fail(
          new ProtocolError('WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 'Unsupported WebSocket frame: payload length > 2^53 - 1', CloseCode.MessageTooBig),
        );
      }
    }

    if (!isControl) {
      const total = (opcode === Opcode.Continuation ? this.messageLength : 0) + length;
      if (this.maxPayload > 0 && total > this.maxPayload) {
        return this.fail(
          new ProtocolError('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'Max payload size exceeded', CloseCode.MessageTooBig),
        );
      }
      if (opcode !== Opcode.Continuation) {
        this.messageOpcode = opcode;
        this.messageCompressed = rsv1;
        this.messageLength = length;
        this.messageFrames = 1;
        this.streamingText = false;
      } else {
        if (++this.messageFrames > this.maxFragments) {
          return this.fail(
            new ProtocolError('WS_ERR_TOO_MANY_BUFFERED_PARTS', 'Too many message fragments', CloseCode.PolicyViolation),
          );
        }
        this.messageLength = total;
      }
    }

    if (masked) {
      this.maskKey[0] = buf[pos]!;
      this.maskKey[1] = buf[pos + 1]!;
      this.maskKey[2] = buf[pos + 2]!;
      this.maskKey[3] = buf[pos + 3]!;
    }
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.payloadLength = length;
    return true;
  }

  /**
   * A frame's payload is complete (and unmasked). `needsTextCheck` is false
   * when the payload was already checked piece by piece; `knownAscii` is true
   * when unmasking found it all ASCII (only asked for frames with the Text
   * opcode), which makes a whole text message valid UTF-8. Fragments keep
   * the streaming check. Returns false when parsing stopped.
   */
  private completeFrame(payload: Buffer, needsTextCheck: boolean, knownAscii = false): boolean {
    const opcode = this.opcode;
    if (opcode >= Opcode.Close) return this.controlFrame(opcode, payload);

    const isText = this.messageOpcode === Opcode.Text;
    const checkText = isText && needsTextCheck && this.validateUtf8 && !this.messageCompressed;
    if (this.fin && this.fragments === null) {
      // A whole message in one frame.
      if (checkText && !knownAscii && !this.streamingText && !isUtf8(payload)) return this.invalidUtf8();
      if (this.streamingText && !this.utf8!.end()) return this.invalidUtf8();
      this.streamingText = false;
      this.handler.onMessage(payload, !isText, this.messageCompressed);
      return this.state !== State.Done;
    }

    // One fragment of a longer message: check text as it comes, so bad UTF-8 fails at once.
    if (checkText) {
      if (!this.streamingText) {
        this.streamingText = true;
        (this.utf8 ??= new StreamingUtf8Validator()).reset();
      }
      if (!this.utf8!.push(payload)) return this.invalidUtf8();
    }
    const fragments = (this.fragments ??= []);
    if (payload.length > 0) fragments.push(payload);
    if (!this.fin) return true;

    if (this.streamingText && !this.utf8!.end()) return this.invalidUtf8();
    this.streamingText = false;
    this.fragments = null;
    const data = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments, this.messageLength);
    this.handler.onMessage(data, !isText, this.messageCompressed);
    return this.state !== State.Done;
  }

  private controlFrame(opcode: number, payload: Buffer): boolean {
    if (opcode === Opcode.Ping) {
      this.handler.onPing(payload);
      return this.state !== State.Done;
    }
    if (opcode === Opcode.Pong) {
      this.handler.onPong(payload);
      return this.state !== State.Done;
    }
    // Close: nothing after it is read (section 5.5.1).
    if (payload.length === 1) return this.fail(new ProtocolError('WS_ERR_INVALID_CLOSE_PAYLOAD', 'Invalid WebSocket frame: invalid payload length 1'));
    let code: number = CloseCode.NoStatus;
    let reason = EMPTY;
    if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      if (!isValidCloseCode(code)) return this.fail(new ProtocolError('WS_ERR_INVALID_CLOSE_CODE', `Invalid WebSocket frame: invalid status code ${code}`));
      reason = payload.subarray(2);
      if (this.validateUtf8 && !isUtf8(reason)) return this.invalidUtf8();
    }
    this.state = State.Done;
    this.release();
    this.handler.onClose(code, reason);
    return false;
  }

  private invalidUtf8(): false {
    return this.fail(new ProtocolError('WS_ERR_INVALID_UTF8', 'Invalid WebSocket frame: invalid UTF-8 sequence', CloseCode.InvalidPayload));
  }

  private fail(error: ProtocolError): false {
    this.state = State.Done;
    this.release();
    this.handler.onError(error);
    return false;
  }
}

/** Size of a frame header given its second byte: 2 + extended length + masking key. */
function headerSize(b1: number): number {
  const len = b1 & 0x7f;
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}
