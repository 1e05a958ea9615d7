import { Buffer, Blob } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { CloseCode, Opcode, copyMasked, frameHeaderSize, writeFrameHeader, type MessageTransform } from '../protocol/index.js';
import { WebSocketError, type WebSocketErrorCode } from './errors.js';
import { sentChannel } from './diagnostics.js';
import { hasSharedReads } from './shared-reads.js';

export type WebSocketData = string | Buffer | ArrayBuffer | ArrayBufferView | Blob | number | boolean;
export type SendCallback = (error?: Error | null) => void;

/** Payloads up to this size are copied behind their header and written once; larger ones are written separately, uncopied. */
const COPY_THRESHOLD = 16 * 1024;
/** A batch of frames up to this size is joined into one buffer; larger ones go out as a writev. */
const BATCH_COPY_LIMIT = 64 * 1024;

/**
 * Small frames sent while a received chunk's messages are reported (the
 * replies to a pipelined burst) are written one after another into a
 * shared slab, so that the batch leaves as one buffer with no allocation
 * and no copy per frame. A region handed to a socket is written again only
 * once the socket no longer needs it: copied into a joined batch, or taken
 * by the kernel during the write call (a TCP socket of our server with
 * nothing left in its write buffer). Otherwise a full slab is replaced, not
 * rewound.
 */
const SLAB_SIZE = 64 * 1024;
/** Frames up to this size (header included) go into the slab. */
const SLAB_FRAME_LIMIT = 4 * 1024;
/**
 * A batch of small frames leaves as soon as it holds this much, before the
 * chunk is done: the peer gets the first replies while the rest are still
 * being made. Held to the end of a 64 KiB chunk of 1 KiB messages, the
 * replies left in one write and the server and its peer took turns (with
 * one connection and 64 in flight, server and generator CPU added up to
 * one core: 71 % + 27 %); uWebSockets.js writes every 16 KiB (its cork
 * buffer). 32 KiB cost less CPU per message than 16 KiB here (half the
 * writes, fewer TCP segments per message; docs/performance.md, issue 17).
 */
const SLAB_BATCH_FLUSH = 32 * 1024;
let slab: Buffer | null = null;
let slabUsed = SLAB_SIZE;

/** The names of the `readyState` values, for messages and the WebSocket constants. */
export const READY_STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;

/** Masking keys come from the CSPRNG in batches: one syscall per 1,024 client frames, not one per frame. */
const maskPool = Buffer.allocUnsafe(4096);
let maskPoolOffset = maskPool.length;
function nextMaskKey(): Buffer {
  if (maskPoolOffset === maskPool.length) {
    randomFillSync(maskPool);
    maskPoolOffset = 0;
  }
  const key = maskPool.subarray(maskPoolOffset, maskPoolOffset + 4);
  maskPoolOffset += 4;
  return key;
}

/** Turns what `send` accepts into bytes without copying where the input already is bytes. */
export function toBuffer(data: Exclude<WebSocketData, Blob>): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof SharedArrayBuffer !== 'undefined' && (data as unknown) instanceof SharedArrayBuffer) return Buffer.from(data as unknown as ArrayBuffer);
  return Buffer.from(String(data));
}

/** One callback for a batch's senders (a function of its own: a closure in flushBatch would cost every batch its context). */
function callingEach(callbacks: readonly SendCallback[]): SendCallback {
  return (error) => {
    for (const callback of callbacks) callback(error);
  };
}

/** A send on a connection that is not open: its callback learns it (on the next tick, as in ws). */
export function reportSendAfterClose(readyState: number, cb: SendCallback | undefined): void {
  if (cb) {
    const error = new WebSocketError('WS_ERR_NOT_OPEN', `WebSocket is not open: readyState ${readyState} (${READY_STATES[readyState]})`);
    process.nextTick(cb, error);
  }
}

/** What the pipeline needs from its connection (node/websocket-connection.ts). */
export interface SendPipelineOwner {
  readonly readyState: number;
  /** Whether it is a server-side connection (for `switchboard:message:sent`). */
  readonly _isServer: boolean;
  /** A message could not be compressed: the connection fails with 1011. */
  _failWithInternalError(): void;
  /** The peer made us hold more than a limit allows: the connection is destroyed. */
  _failForLimit(code: WebSocketErrorCode, closeCode: number, message: string): void;
  /** A Blob given to send/ping/pong could not be read: the connection fails with 1011 and reports `error`. */
  _failWithSendError(error: Error): void;
}

/**
 * The sending half of one connection: frames what `send` accepts (masking
 * and permessage-deflate included), keeps sends in order while one is being
 * prepared (a Blob read, a compression), gathers the replies to a received
 * chunk into one write (the batch, small frames in the shared slab), and
 * enforces the write-buffer limit (`disconnectBufferedAmount`).
 */
export class SendPipeline {
  /** Opcode a fragmented send continues with (0 when no fragmented send is open). */
  private fragmentOpcode = 0;
  /** Sends waiting behind one still being prepared (a Blob being read, a message being compressed). */
  private queue: Array<{ task: () => void; cb: SendCallback | undefined }> | null = null;
  private busy = false;
  private queuedBytes = 0;
  /** Whether the message being sent (possibly in fragments) is compressed. */
  private compressing = false;
  /**
   * Frames written while a received chunk's messages are reported wait here
   * and leave together at its end (small frames every SLAB_BATCH_FLUSH
   * bytes): one write for the replies to a pipelined burst, instead of one
   * syscall each. The connection sets it
   * around each chunk and calls `flushBatch()` after.
   */
  batching = false;
  /** Data messages (or fragments) and pre-framed messages written, and their bytes, for `stats()`. */
  messagesSent = 0;
  bytesSent = 0;
  /** The batch's first buffer, and the ones after it (an array only once there is a second: most batches are one reply). */
  private batchFirst: Buffer | null = null;
  private batch: Buffer[] | null = null;
  private batchCallbacks: SendCallback[] | null = null;
  private batchBytes = 0;
  /**
   * This connection's run of frames in the slab: where it starts (-1: none
   * open), in which slab, and where it ends. Another connection may write
   * to the slab while this one's batch is open (a handler's send reaching,
   * through a synchronous stream, a connection of the same process), so a
   * run continues only if nothing else was written behind it.
   */
  private slabRunStart = -1;
  private slabRunEnd = 0;
  private slabRunSlab: Buffer | null = null;

  /**
   * Whether the socket is a TCP socket whose writes go straight to libuv:
   * when nothing stays in its write buffer after a write, the kernel has
   * the bytes and the slab region can be reused (the same memory written
   * again instead of a fresh 64 KiB every 63 replies of 1 KiB).
   * Not for other streams: a Duplex may keep a reference to a written
   * buffer after its callback (a pipe to another connection in the process).
   */
  private readonly reclaimsSlab: boolean;

  constructor(
    private readonly owner: SendPipelineOwner,
    private readonly socket: Duplex,
    /** permessage-deflate, when negotiated. */
    private readonly transform: MessageTransform | null,
    /** Messages smaller than this are sent uncompressed. */
    private readonly compressThreshold: number,
    /** Infinity when there is no limit: each check is one compare. */
    private readonly disconnectBufferedAmount: number,
    /** ws's `generateMask`: the caller fills each frame's masking key (into one buffer reused per frame). */
    private readonly generateMask?: (mask: Buffer) => void,
  ) {
    this.reclaimsSlab = hasSharedReads(socket);
  }

  private maskKeyOf: Buffer | null = null;

  private nextMaskKey(): Buffer {
    if (this.generateMask === undefined) return nextMaskKey();
    const key = (this.maskKeyOf ??= Buffer.alloc(4));
    this.generateMask(key);
    return key;
  }

  /** Bytes accepted but not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.queuedBytes + this.batchBytes + this.socket.writableLength;
  }

  /** Bytes that were being prepared are no longer waiting (failQueued may have zeroed the count meanwhile). */
  private release(bytes: number): void {
    this.queuedBytes = this.queuedBytes > bytes ? this.queuedBytes - bytes : 0;
  }

  /** A pre-framed message (the hub's fan-out, `sendFrame`) is on its way. */
  private countFramed(frame: Buffer): void {
    this.messagesSent++;
    this.bytesSent += frame.length;
    // The frame's opcode says text or binary (RFC 6455 section 5.2).
    if (sentChannel.hasSubscribers) sentChannel.publish({ websocket: this.owner, server: this.owner._isServer, size: frame.length, binary: (frame[0]! & 0x0f) === Opcode.Binary, compressed: false });
  }

  /** Whether nothing is being prepared or waits behind it. */
  get idle(): boolean {
    return !this.busy && this.queue === null;
  }

  /** Whether the write buffer is past `disconnectBufferedAmount`; if so the connection is failed (1013). */
  overLimit(): boolean {
    if (this.bufferedAmount <= this.disconnectBufferedAmount) return false;
    this.owner._failForLimit(
      'WS_ERR_BUFFERED_AMOUNT_EXCEEDED',
      CloseCode.TryAgainLater,
      `More than ${this.disconnectBufferedAmount} bytes wait to be sent: the peer does not read`,
    );
    return true;
  }

  /** Our close frame ends any fragmented message being sent. */
  endFragmentedSend(): void {
    this.fragmentOpcode = 0;
  }

  /** Sends one message or fragment (the connection checked it is open). */
  // The per-message paths (send, sendData, sendFrame) create no closure: a function that does
  // allocates its captured variables' context on every call, taken or not. The waiting and
  // compressing branches are methods of their own.
  send(data: Exclude<WebSocketData, number | boolean>, binary: boolean, fin: boolean, mask: boolean, compress: boolean, cb: SendCallback | undefined): void {
    if (data instanceof Blob) {
      this.sendBlob(data, binary, fin, mask, compress, cb);
      return;
    }
    const bytes = toBuffer(data);
    if (!this.busy && this.queue === null) {
      this.sendData(bytes, binary, fin, mask, compress, cb);
      return;
    }
    this.sendLater(bytes, binary, fin, mask, compress, cb);
  }

  private sendBlob(blob: Blob, binary: boolean, fin: boolean, mask: boolean, compress: boolean, cb: SendCallback | undefined): void {
    this.readBlob(blob, cb, (bytes) => this.sendData(bytes, binary, fin, mask, compress, cb));
  }

  /** A send behind others still being prepared: counted in `bufferedAmount` until its turn. */
  private sendLater(bytes: Buffer, binary: boolean, fin: boolean, mask: boolean, compress: boolean, cb: SendCallback | undefined): void {
    this.queuedBytes += bytes.length;
    this.schedule(() => {
      this.queuedBytes -= bytes.length;
      this.sendData(bytes, binary, fin, mask, compress, cb);
    }, cb);
  }

  /** Writes a message framed already (`WebSocket.sendFrame`; the connection checked it is open and server-side). */
  sendFrame(frame: Buffer, cb: SendCallback | undefined): void {
    if (this.socket.destroyed || this.overLimit()) {
      reportSendAfterClose(this.owner.readyState, cb);
      return;
    }
    if (this.fragmentOpcode !== 0) throw new WebSocketError('WS_ERR_INVALID_STATE', 'sendFrame cannot interleave with a fragmented message being sent');
    this.countFramed(frame);
    if (!this.busy && this.queue === null) {
      this.output(frame, cb);
      return;
    }
    this.sendFrameLater(frame, cb);
  }

  private sendFrameLater(frame: Buffer, cb: SendCallback | undefined): void {
    this.queuedBytes += frame.length;
    this.schedule(() => {
      this.queuedBytes -= frame.length;
      if (this.socket.destroyed) reportSendAfterClose(this.owner.readyState, cb);
      else this.output(frame, cb);
    }, cb);
  }

  /**
   * Writes a frame shared by many connections when it can go as it is:
   * without permessage-deflate, no fragmented send open and nothing queued
   * ahead (the connection checked it is open and server-side).
   */
  writeShared(frame: Buffer): boolean {
    if (this.transform !== null || this.fragmentOpcode !== 0 || this.busy || this.queue !== null) return false;
    // Over the limit, the connection is failed: no longer OPEN, the caller skips it.
    if (this.socket.destroyed || this.overLimit()) return false;
    this.countFramed(frame);
    if (this.batching) this.output(frame, undefined);
    else this.socket.write(frame);
    return true;
  }

  /** A ping or pong with a Blob payload: read first, then written in its turn. */
  writeBlobControl(opcode: number, blob: Blob, mask: boolean, cb: SendCallback | undefined): void {
    this.readBlob(blob, cb, (bytes) => {
      if (this.socket.destroyed) reportSendAfterClose(this.owner.readyState, cb);
      else this.writeFrame(opcode, bytes, true, mask, false, cb);
    });
  }

  /**
   * Reads a Blob in its turn (the sends behind it wait, counted in
   * `bufferedAmount`), then hands its bytes to `use`. A Blob that cannot be
   * read (a file changed since) fails the send and the connection, as in ws.
   */
  private readBlob(blob: Blob, cb: SendCallback | undefined, use: (bytes: Buffer) => void): void {
    this.queuedBytes += blob.size;
    this.schedule(() => {
      this.busy = true;
      blob.arrayBuffer().then(
        (arrayBuffer) => {
          this.release(blob.size);
          this.busy = false;
          use(Buffer.from(arrayBuffer));
          this.runQueue();
        },
        (error: unknown) => {
          this.release(blob.size);
          this.busy = false;
          if (cb) cb(error as Error);
          this.owner._failWithSendError(error as Error);
          this.runQueue();
        },
      );
    }, cb);
  }

  /** Control frames wait behind data still being prepared, like every other frame. */
  writeControl(opcode: number, payload: Buffer, mask: boolean, cb: SendCallback | undefined): void {
    this.schedule(() => {
      if (this.socket.destroyed) reportSendAfterClose(this.owner.readyState, cb);
      else this.writeFrame(opcode, payload, true, mask, false, cb);
    }, cb);
  }

  /** The connection closed with sends still waiting: their callbacks learn it. */
  failQueued(): void {
    const queue = this.queue;
    this.queue = null;
    this.queuedBytes = 0;
    if (queue === null) return;
    for (const { cb } of queue) reportSendAfterClose(this.owner.readyState, cb);
  }

  /** Ends our side of TCP after whatever is still batched. */
  end(): void {
    this.flushBatch();
    if (!this.socket.writableEnded) this.socket.end();
  }

  /**
   * Runs `task` now, or after the sends before it when one of them is still
   * being prepared (a Blob being read, a message being compressed), so
   * frames leave in the order they were sent.
   */
  private schedule(task: () => void, cb: SendCallback | undefined): void {
    if (!this.busy && this.queue === null) {
      task();
      return;
    }
    (this.queue ??= []).push({ task, cb });
  }

  private runQueue(): void {
    const queue = this.queue;
    if (queue === null) return;
    while (queue.length > 0 && !this.busy) queue.shift()!.task();
    if (queue.length === 0 && this.queue === queue) this.queue = null;
  }

  private sendData(payload: Buffer, binary: boolean, fin: boolean, mask: boolean, compress: boolean, cb: SendCallback | undefined): void {
    if (this.socket.destroyed) {
      reportSendAfterClose(this.owner.readyState, cb);
      return;
    }
    let opcode: number;
    const continuing = this.fragmentOpcode !== 0;
    if (continuing) opcode = Opcode.Continuation;
    else {
      opcode = binary ? Opcode.Binary : Opcode.Text;
      // The whole message is compressed or not, decided on its first fragment.
      this.compressing = this.transform !== null && compress && payload.length >= this.compressThreshold;
    }
    this.fragmentOpcode = fin ? 0 : opcode === Opcode.Continuation ? this.fragmentOpcode : opcode;
    this.messagesSent++;
    this.bytesSent += payload.length;
    if (sentChannel.hasSubscribers) sentChannel.publish({ websocket: this.owner, server: this.owner._isServer, size: payload.length, binary, compressed: this.compressing });
    if (!this.compressing) {
      this.writeFrame(opcode, payload, fin, mask, false, cb);
      return;
    }
    this.compressAndWrite(opcode, payload, fin, mask, continuing, cb);
  }

  private compressAndWrite(opcode: number, payload: Buffer, fin: boolean, mask: boolean, continuing: boolean, cb: SendCallback | undefined): void {
    this.busy = true;
    // Counted in bufferedAmount while it is compressed, as in ws.
    this.queuedBytes += payload.length;
    this.transform!.encode(payload, fin, (error, compressed) => {
      this.busy = false;
      this.release(payload.length);
      if (error) {
        if (cb) cb(error);
        // The peer's decompressor and ours no longer agree on what was sent: end the connection (1011).
        this.owner._failWithInternalError();
      } else if (!this.socket.destroyed) {
        this.writeFrame(opcode, compressed as Buffer, fin, mask, !continuing, cb);
      } else {
        reportSendAfterClose(this.owner.readyState, cb);
      }
      this.runQueue();
    });
  }

  /** Writes one frame: header and payload in one buffer when small, header then the caller's payload (uncopied) when large. */
  private writeFrame(opcode: number, payload: Buffer, fin: boolean, mask: boolean, rsv1: boolean, cb: SendCallback | undefined): void {
    const socket = this.socket;
    const maskKey = mask ? this.nextMaskKey() : null;
    const length = payload.length;
    const headerSize = frameHeaderSize(length, maskKey !== null);
    if (this.batching && maskKey === null && headerSize + length <= SLAB_FRAME_LIMIT) {
      this.slabFrame(opcode, payload, fin, rsv1, headerSize, cb);
      return;
    }
    if (length <= COPY_THRESHOLD || maskKey !== null) {
      // Masked payloads must be copied anyway (the caller's bytes stay as they are).
      const frame = Buffer.allocUnsafe(headerSize + length);
      writeFrameHeader(frame, 0, length, opcode, fin, rsv1, maskKey);
      if (maskKey !== null) {
        copyMasked(payload, frame, headerSize, maskKey);
      } else if (length > 0) {
        payload.copy(frame, headerSize);
      }
      this.output(frame, cb);
      return;
    }
    const header = Buffer.allocUnsafe(headerSize);
    writeFrameHeader(header, 0, length, opcode, fin, rsv1, null);
    if (this.batching) {
      this.output(header, undefined);
      this.output(payload, cb);
      return;
    }
    socket.cork();
    socket.write(header);
    socket.write(payload, cb);
    socket.uncork();
  }

  /** Hands bytes to the socket, or to the batch while a chunk is being reported. */
  private output(bytes: Buffer, cb: SendCallback | undefined): void {
    if (!this.batching) {
      this.socket.write(bytes, cb);
      return;
    }
    if (this.slabRunStart >= 0) this.closeSlabRun();
    this.addToBatch(bytes);
    this.batchBytes += bytes.length;
    if (cb !== undefined) (this.batchCallbacks ??= []).push(cb);
  }

  /** Writes a small unmasked frame into the slab, for the batch being gathered. */
  private slabFrame(opcode: number, payload: Buffer, fin: boolean, rsv1: boolean, headerSize: number, cb: SendCallback | undefined): void {
    const size = headerSize + payload.length;
    if (this.slabRunStart >= 0 && (this.slabRunSlab !== slab || this.slabRunEnd !== slabUsed)) this.closeSlabRun();
    if (slabUsed + size > SLAB_SIZE) {
      if (this.slabRunStart >= 0) this.closeSlabRun();
      slab = Buffer.allocUnsafe(SLAB_SIZE);
      slabUsed = 0;
    }
    const target = slab!;
    if (this.slabRunStart < 0) {
      this.slabRunStart = slabUsed;
      this.slabRunSlab = target;
    }
    writeFrameHeader(target, slabUsed, payload.length, opcode, fin, rsv1, null);
    if (payload.length > 0) target.set(payload, slabUsed + headerSize);
    slabUsed += size;
    this.slabRunEnd = slabUsed;
    this.batchBytes += size;
    if (cb !== undefined) (this.batchCallbacks ??= []).push(cb);
    if (this.batchBytes >= SLAB_BATCH_FLUSH) this.flushBatch();
  }

  /** Ends this connection's run of frames in the slab: the run joins the batch as one buffer. */
  private closeSlabRun(): void {
    this.addToBatch(this.slabRunSlab!.subarray(this.slabRunStart, this.slabRunEnd));
    this.slabRunStart = -1;
    this.slabRunSlab = null;
  }

  private addToBatch(bytes: Buffer): void {
    if (this.batchFirst === null) this.batchFirst = bytes;
    else (this.batch ??= [this.batchFirst]).push(bytes);
  }

  /** Writes the frames gathered while a received chunk was reported, in one write when small. */
  flushBatch(): void {
    // The batch's last buffer, when it is a run at the top of the slab, can be written over once the socket is done with it.
    let reclaimFrom = -1;
    let reclaimTo = 0;
    const runSlab = this.slabRunSlab;
    if (this.slabRunStart >= 0) {
      if (runSlab === slab && this.slabRunEnd === slabUsed) {
        reclaimFrom = this.slabRunStart;
        reclaimTo = this.slabRunEnd;
      }
      this.closeSlabRun();
    }
    const first = this.batchFirst;
    if (first === null) return;
    const frames = this.batch;
    const callbacks = this.batchCallbacks;
    const bytes = this.batchBytes;
    this.batchFirst = null;
    this.batch = null;
    this.batchCallbacks = null;
    this.batchBytes = 0;
    const cb: SendCallback | undefined = callbacks === null ? undefined : callbacks.length === 1 ? callbacks[0] : callingEach(callbacks);
    const socket = this.socket;
    if (socket.destroyed) {
      // terminate() from a handler: the batch goes nowhere; its senders learn it.
      if (cb) process.nextTick(cb, new WebSocketError('WS_ERR_NOT_OPEN', 'WebSocket is not open: the connection was destroyed'));
      return;
    }
    if (frames === null) {
      socket.write(first, cb);
      if (reclaimFrom >= 0 && this.reclaimsSlab && socket.writableLength === 0 && slab === runSlab && slabUsed === reclaimTo) slabUsed = reclaimFrom;
    } else if (bytes <= BATCH_COPY_LIMIT) {
      socket.write(Buffer.concat(frames, bytes), cb);
      // Copied: the run is free again (unless another connection's run has been written behind it meanwhile).
      if (reclaimFrom >= 0 && slab === runSlab && slabUsed === reclaimTo) slabUsed = reclaimFrom;
    } else {
      socket.cork();
      const last = frames.length - 1;
      for (let i = 0; i < last; i++) socket.write(frames[i]!);
      socket.write(frames[last]!, cb);
      socket.uncork();
    }
  }
}
