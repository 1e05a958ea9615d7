import { Buffer } from 'node:buffer';

/**
 * Size of the one buffer allocated and dropped to raise glibc's dynamic
 * thresholds: just under the largest glibc follows. A freed mmapped chunk
 * counts when its size field (the request plus 16 bytes, rounded up to a
 * page, plus the IS_MMAPPED bit) is at most DEFAULT_MMAP_THRESHOLD_MAX,
 * 32 MiB on 64-bit; exactly 32 MiB fails by that bit.
 */
const THRESHOLD_RAISING_SIZE = 32 * 1024 * 1024 - 64 * 1024;

let raised = false;

/**
 * Makes glibc's malloc keep the memory of freed message buffers for reuse
 * instead of returning it to the kernel after every garbage collection.
 * Called once per process, when the first connection starts parsing.
 *
 * Why: every message that spans reads gets a buffer of its own (the
 * application owns what 'message' hands it; ws's contract), 64 KiB at
 * 1,000 connections x 64 KiB. V8 frees these in batches: it scavenges
 * once young array buffers reach 32 MiB (twice the semi-space). glibc
 * then finds more than M_TRIM_THRESHOLD (128 KiB by default) free at the
 * top of its heap and gives it back with brk(); the next 32 MiB of
 * payloads are faulted in again page by page (about 16 minor faults per
 * 64 KiB message, system time above user time: the slow mode of
 * issue #17; docs/performance.md has the counts).
 * Whether the top of the heap happens to be pinned by a live allocation
 * decided the mode, hence the bimodal rounds.
 *
 * glibc raises M_MMAP_THRESHOLD to the size of a freed mmapped chunk (up
 * to 32 MiB) and M_TRIM_THRESHOLD to twice that (mallopt(3), "dynamic
 * mmap threshold"), which it does by itself in any process that once
 * frees a buffer that large. Allocating (not touching: no page is faulted
 * in, no memory is used) and dropping one 32 MiB buffer does it now:
 * afterwards at most 64 MiB of free memory stays at the top of the heap
 * (the retention worst case, per process), and allocations up to 32 MiB
 * come from the heap, where freed ones are reused, instead of a fresh
 * mmap() each. Where the user tuned malloc (MALLOC_TRIM_THRESHOLD_,
 * MALLOC_TOP_PAD_, MALLOC_MMAP_THRESHOLD_ or mallopt), glibc keeps the
 * user's values; other allocators see one short-lived allocation.
 */
export function keepFreedMemoryForReuse(): void {
  if (raised) return;
  raised = true;
  if (process.platform !== 'linux') return;
  // Freed by the next scavenge: nothing refers to it after this line.
  Buffer.allocUnsafeSlow(THRESHOLD_RAISING_SIZE);
}
