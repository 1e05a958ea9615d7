import { Buffer } from 'node:buffer';
import { markAsUntransferable } from 'node:worker_threads';

/**
 * Received payloads up to this size are carved from a slab. Above it each
 * gets a buffer of its own (`Buffer.allocUnsafe`).
 */
export const SLAB_PAYLOAD_LIMIT = 4 * 1024;
/**
 * The slab's size. A payload the application keeps keeps its slab alive, as
 * a `Buffer.allocUnsafe` buffer keeps Node's 8 KiB pool and a `ws` message
 * keeps the 64 KiB chunk it was read in: up to 32 KiB per kept small message
 * at worst. Why not Node's pool: it is refilled every 8 KiB, and making an
 * ArrayBuffer costs more than copying a 1 KiB payload; with 32 KiB slabs,
 * owning a 1 KiB payload took 75 ns against 164 ns from the pool
 * (2026-12-06, a micro-benchmark in docs/performance.md).
 */
const SLAB_SIZE = 32 * 1024;

let slab: ArrayBuffer = new ArrayBuffer(0);
let slabUsed = 0;
/** The slab's size, kept apart: ArrayBuffer#byteLength is a getter. */
let slabCapacity = 0;

/**
 * Where the frame parser copies a payload out of the shared read buffer
 * (shared-reads.ts) when it sits whole in one read: the application owns
 * it from there, as with `ws`. Small ones share a slab, 8-byte aligned as
 * Node's pool is.
 */
export function allocatePayload(length: number): Buffer {
  if (length > SLAB_PAYLOAD_LIMIT) return Buffer.allocUnsafe(length);
  if (slabUsed + length > slabCapacity) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE).buffer as ArrayBuffer;
    // As Node's pool: transferring one payload's ArrayBuffer to a worker would empty every other payload in it.
    markAsUntransferable(slab);
    slabUsed = 0;
    slabCapacity = SLAB_SIZE;
  }
  const payload = Buffer.from(slab, slabUsed, length);
  slabUsed = (slabUsed + length + 7) & ~7;
  return payload;
}
