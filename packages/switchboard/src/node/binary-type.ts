// How a received binary message is handed to 'message' listeners: the
// `binaryType` attribute (ws's values plus the browser's 'blob').
import { Blob, type Buffer } from 'node:buffer';

export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';

export function isBinaryType(type: unknown): type is BinaryType {
  return type === 'nodebuffer' || type === 'arraybuffer' || type === 'fragments' || type === 'blob';
}

/** The message as `binaryType` asks for it; a Buffer ('nodebuffer') is handed on as it is. */
export function convertBinary(data: Buffer, binaryType: BinaryType): unknown {
  switch (binaryType) {
    case 'nodebuffer':
      return data;
    case 'arraybuffer':
      return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
        ? data.buffer
        : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    case 'fragments':
      return [data];
    case 'blob':
      return new Blob([data]);
  }
}
