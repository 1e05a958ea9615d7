// Fuzz target: permessage-deflate decoding (src/node/deflate.ts) on valid,
// mutated and random compressed messages, bombs included, on both the
// synchronous (no context takeover) and the thread-pool path.
import { Buffer } from 'node:buffer';
import { constants as zlib, deflateRawSync } from 'node:zlib';
import { PerMessageDeflate } from '../../../packages/switchboard/src/node/deflate.js';
import { ProtocolError, type DeflateParams } from '../../../packages/switchboard/src/protocol/index.js';
import type { FuzzTarget } from '../engine.js';
import { utf8Text } from '../generators.js';
import { mutateBytes, type Rng } from '../rng.js';

interface CompressedMessage {
  bytes: Buffer;
  /** What it inflates to, when it was not mutated. */
  plain: Buffer | null;
}

export interface DeflateInput {
  params: DeflateParams;
  isServer: boolean;
  maxPayload: number;
  messages: CompressedMessage[];
}

/** How long one decode may take before it counts as never answered. */
const ANSWER_TIMEOUT_MS = 10_000;

function fail(message: string): never {
  throw new Error(message);
}

function compress(plain: Buffer, windowBits: number): Buffer {
  const out = deflateRawSync(plain, { windowBits, finishFlush: zlib.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

const bombs = new Map<number, Buffer>();
function bombOf(size: number): Buffer {
  let bomb = bombs.get(size);
  if (bomb === undefined) bombs.set(size, (bomb = compress(Buffer.alloc(size), 15)));
  return bomb;
}

function decodeOnce(transform: PerMessageDeflate, data: Buffer): Promise<{ error: ProtocolError | null; result?: Uint8Array }> {
  return new Promise((resolve, reject) => {
    let answers = 0;
    const timer = setTimeout(() => reject(new Error(`decode of ${data.length} bytes never answered`)), ANSWER_TIMEOUT_MS);
    transform.decode(data, (error, result) => {
      answers++;
      if (answers > 1) {
        reject(new Error('decode answered twice'));
        return;
      }
      clearTimeout(timer);
      resolve({ error, result });
    });
  });
}

export const deflateTarget: FuzzTarget<DeflateInput> = {
  name: 'deflate',
  concurrency: 8,
  generate(rng: Rng): DeflateInput {
    const bits = (): number => rng.int(9, 15);
    const params: DeflateParams = {
      serverNoContextTakeover: rng.chance(0.5),
      clientNoContextTakeover: rng.chance(0.5),
      serverMaxWindowBits: bits(),
      clientMaxWindowBits: bits(),
    };
    const maxPayload = rng.pick([0, 1, 100, 4096, 65536, 1024 * 1024, 100 * 1024 * 1024]);
    const messages: CompressedMessage[] = [];
    for (let n = rng.int(1, 3); n > 0; n--) {
      const kind = rng.below(10);
      let plain: Buffer;
      let bytes: Buffer;
      if (kind === 0) {
        // A bomb: zeros compress about 1000:1. Compressed once per size, the same bytes every time.
        const size = rng.pick([70_000, 2 * 1024 * 1024, 8 * 1024 * 1024]);
        plain = Buffer.alloc(size);
        bytes = Buffer.from(bombOf(size));
      } else {
        plain = kind < 5 ? utf8Text(rng, 2000) : rng.bytes(rng.size(3000));
        bytes = compress(plain, rng.int(9, 15));
      }
      let known: Buffer | null = plain;
      if (kind >= 6) {
        bytes = mutateBytes(rng, bytes, 3);
        known = null;
      }
      if (rng.chance(0.05)) {
        bytes = rng.bytes(rng.size(200));
        known = null;
      }
      messages.push({ bytes, plain: known });
    }
    return { params, isServer: rng.chance(0.5), maxPayload, messages };
  },
  async check(input: DeflateInput): Promise<void> {
    const transform = new PerMessageDeflate(input.params, input.isServer, input.maxPayload);
    const independent = input.isServer ? input.params.clientNoContextTakeover : input.params.serverNoContextTakeover;
    // With context takeover, a mutated message that inflated to garbage leaves the window garbage: what follows may fail.
    let intact = true;
    try {
      for (const message of input.messages) {
        const expected = intact || independent ? message.plain : null;
        intact &&= message.plain !== null;
        const { error, result } = await decodeOnce(transform, message.bytes);
        if (error !== null) {
          if (!(error instanceof ProtocolError)) fail(`decode failed with ${String(error)}`);
          if (error.closeCode !== 1007 && error.closeCode !== 1009) fail(`decode failed with close code ${error.closeCode}`);
          if (expected !== null && (input.maxPayload === 0 || expected.length <= input.maxPayload)) {
            fail(`a valid message of ${expected.length} bytes was refused: ${error.message}`);
          }
          return; // the connection is failed: nothing more is decoded
        }
        if (!(result instanceof Uint8Array)) fail('decode gave no bytes');
        if (input.maxPayload > 0 && result.length > input.maxPayload) fail(`inflated to ${result.length} bytes, maxPayload ${input.maxPayload}`);
        if (expected !== null && !Buffer.from(result.buffer, result.byteOffset, result.byteLength).equals(expected)) {
          fail(`inflated to other bytes (${result.length}, expected ${expected.length})`);
        }
      }
    } finally {
      transform.release();
    }
  },
  describe(input: DeflateInput): unknown {
    return { ...input, messages: input.messages.map((m) => ({ bytes: m.bytes.toString('base64'), plainLength: m.plain?.length })) };
  },
};
