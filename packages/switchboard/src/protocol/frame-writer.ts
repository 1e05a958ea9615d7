import { Buffer } from 'node:buffer';
import { copyMasked } from './mask.js';

/** Largest header: 2 bytes + 8-byte length + 4-byte masking key. */
export const MAX_HEADER_SIZE = 14;

export interface FrameOptions {
  opcode: number;
  fin?: boolean;
  rsv1?: boolean;
  /** Masking key (4 bytes) for frames a client sends; absent for server frames. */
  maskKey?: Uint8Array | null;
}

/** Bytes the header of a frame with this payload length takes. */
export function frameHeaderSize(payloadLength: number, masked: boolean): number {
  return (payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header into `target` at `offset`; returns the offset just past it.
 * The shortest length form is always used (RFC 6455 section 5.2).
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  payloadLength: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  maskKey: Uint8Array | null | undefined,
): number {
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKey ? 0x80 : 0;
  let pos = offset + 2;
  if (payloadLength < 126) {
    target[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target[pos] = payloadLength >>> 8;
    target[pos + 1] = payloadLength & 0xff;
    pos += 2;
  } else {
    target[offset + 1] = maskBit | 127;
    const high = Math.floor(payloadLength / 0x100000000);
    const low = payloadLength >>> 0;
    target[pos] = high >>> 24;
    target[pos + 1] = (high >>> 16) & 0xff;
    target[pos + 2] = (high >>> 8) & 0xff;
    target[pos + 3] = high & 0xff;
    target[pos + 4] = low >>> 24;
    target[pos + 5] = (low >>> 16) & 0xff;
    target[pos + 6] = (low >>> 8) & 0xff;
    target[pos + 7] = low & 0xff;
    pos += 8;
  }
  if (maskKey) {
    target[pos] = maskKey[0]!;
    target[pos + 1] = maskKey[1]!;
    target[pos + 2] = maskKey[2]!;
    target[pos + 3] = maskKey[3]!;
    pos += 4;
  }
  return pos;
}

/**
 * A whole frame (header and payload) in one new buffer. Masked payloads are
 * copied masked; the caller's bytes are never changed.
 */
export function encodeFrame(payload: Uint8Array, options: FrameOptions): Buffer {
  const maskKey = options.maskKey ?? null;
  const headerSize = frameHeaderSize(payload.length, maskKey !== null);
  const frame = Buffer.allocUnsafe(headerSize + payload.length);
  writeFrameHeader(frame, 0, payload.length, options.opcode, options.fin ?? true, options.rsv1 ?? false, maskKey);
  if (maskKey) copyMasked(payload, frame, headerSize, maskKey);
  else frame.set(payload, headerSize);
  return frame;
}

/** Just the header of a frame, for payloads large enough to be written separately (no copy). */
export function encodeFrameHeader(payloadLength: number, options: FrameOptions): Buffer {
  const maskKey = options.maskKey ?? null;
  const header = Buffer.allocUnsafe(frameHeaderSize(payloadLength, maskKey !== null));
  writeFrameHeader(header, 0, payloadLength, options.opcode, options.fin ?? true, options.rsv1 ?? false, maskKey);
  return header;
}

/** The payload of a close frame: the code in network order, then the UTF-8 reason. */
export function encodeClosePayload(code: number | undefined, reason: string | Uint8Array = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  payload.set(reasonBytes, 2);
  return payload;
}
