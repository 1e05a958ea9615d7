// Serialising switchboard.v1 messages (docs/protocol.md, section 2): one
// JSON object per text frame; a top-level binary `data` travels as base64
// with `bin: 1`.
import { encodeBase64 } from './base64.js';
import type { ClientMessage, ErrorFrame, ServerMessage } from './messages.js';

export function isBinary(data: unknown): data is ArrayBuffer | ArrayBufferView {
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data);
}

/** The bytes of a binary value, without copying. */
export function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The text of a message. A top-level binary `data` (typed array, DataView,
 * ArrayBuffer) is sent base64-encoded with `bin: 1`; `toBase64` lets a
 * caller with a faster codec (Node's Buffer) supply it.
 */
export function encodeMessage(message: ClientMessage | ServerMessage, toBase64: (bytes: Uint8Array) => string = encodeBase64): string {
  const data = (message as { data?: unknown }).data;
  if (isBinary(data)) return JSON.stringify({ ...message, data: toBase64(bytesOf(data)), bin: 1 });
  return JSON.stringify(message);
}

/** An `error` message (section 10). */
export function errorMessage(code: string, message: string, id?: number): ErrorFrame {
  return id === undefined ? { t: 'error', code, message } : { t: 'error', id, code, message };
}
