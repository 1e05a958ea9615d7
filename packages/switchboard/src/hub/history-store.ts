// The in-process adapter's history, bounded in bytes across all rooms
// (HistoryLimits.maxBytes). Per-room limits (count, age) cannot bound a
// process: one client publishing to its 1,000 rooms would fill each of them.
// So every held message is also in one list in publish order, and a store
// that would cross the total evicts from its front: the globally oldest
// messages go first, in O(1) per message. A room whose oldest messages were
// evicted answers a resume from before them with a `gap`, as for the count
// and age limits (they share the room's `start`).
import { isBinary } from './wire.js';
import type { RoomMessage, Sender } from './adapter.js';

const RELEASED = Symbol('released');

/**
 * A message as history holds it. Once delivered live, its parsed `data` is
 * let go and decoded again from `encoded` on each read: parsed JSON can take
 * over 20 times the memory of its text (`[{},{},...]`), which no byte count
 * of the text would bound.
 */
export class StoredMessage implements RoomMessage {
  #data: unknown;
  readonly #binary: boolean;
  encoded?: string;
  from?: Sender;
  except?: readonly string[];

  constructor(
    readonly room: string,
    readonly mid: number,
    readonly ev: string,
    data: unknown,
    readonly time: number,
  ) {
    this.#data = data;
    this.#binary = isBinary(data);
  }

  get data(): unknown {
    if (this.#data !== RELEASED) return this.#data;
    const parsed: unknown = JSON.parse(this.encoded!);
    return this.#binary ? Buffer.from(parsed as string, 'base64') : parsed;
  }

  /** Drops the parsed data when its text is kept to decode it from. */
  releaseData(): void {
    if (this.encoded !== undefined) this.#data = RELEASED;
  }

  toJSON(): Record<string, unknown> {
    return { room: this.room, mid: this.mid, ev: this.ev, data: this.data, encoded: this.encoded, from: this.from, time: this.time, except: this.except };
  }
}

/** One held message: in its room's log and in the global list, oldest first. */
export interface HistoryEntry {
  readonly message: RoomMessage;
  /** Bytes charged for it (see entryCost). */
  readonly cost: number;
  prev: HistoryEntry | null;
  next: HistoryEntry | null;
  /** False once evicted or trimmed. */
  held: boolean;
}

/** Charged per entry besides its text: the message object, its `from`, the log and list slots (a generous estimate). */
export const ENTRY_OVERHEAD = 256;

/**
 * What holding a message costs: its serialised data twice (the text, and the
 * frame the hub builds from it and keeps while the message is held; a V8
 * string takes at most as many bytes as its UTF-8), its room and event names
 * (two bytes a character at most), its `except` ids, and ENTRY_OVERHEAD.
 */
export function entryCost(message: RoomMessage): number {
  const text = message.encoded === undefined ? 0 : Buffer.byteLength(message.encoded);
  return ENTRY_OVERHEAD + 2 * text + 2 * (message.room.length + message.ev.length) + 16 * (message.except?.length ?? 0);
}

/** Every held message in publish order, with the sum of their costs. */
export class HistoryBudget {
  private head: HistoryEntry | null = null;
  private tail: HistoryEntry | null = null;
  /** Sum of the costs of held entries. */
  bytes = 0;
  /** Held entries. */
  count = 0;

  constructor(readonly maxBytes: number) {}

  /** Appends a newly stored message (the newest of all). */
  add(message: RoomMessage): HistoryEntry {
    const entry: HistoryEntry = { message, cost: entryCost(message), prev: this.tail, next: null, held: true };
    if (this.tail === null) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
    this.bytes += entry.cost;
    this.count++;
    return entry;
  }

  /** Unlinks an entry (trimmed by its room, or evicted). */
  remove(entry: HistoryEntry): void {
    if (!entry.held) return;
    entry.held = false;
    if (entry.prev === null) this.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = entry.next = null;
    this.bytes -= entry.cost;
    this.count--;
  }

  /** The oldest held entry while the total is over maxBytes, else null. */
  overflow(): HistoryEntry | null {
    return this.bytes > this.maxBytes ? this.head : null;
  }

  clear(): void {
    this.head = this.tail = null;
    this.bytes = 0;
    this.count = 0;
  }
}
