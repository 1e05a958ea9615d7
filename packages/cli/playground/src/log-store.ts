// The message log, outside Preact's state: messages are appended as they
// arrive (possibly thousands a second) and handed to the view once per
// animation frame, the list is capped at MAX_ENTRIES (the oldest go first)
// and the filtered view is kept up to date incrementally, so the page only
// ever renders the few rows on screen.
import type { RelayHandshake } from '../../shared/playground-protocol';
import { looksLikeJson, toHex } from './codec';

export type Direction = 'in' | 'out' | 'event';
export type Kind = 'text' | 'binary' | 'ping' | 'pong' | 'open' | 'close' | 'error' | 'handshake' | 'info';

export interface Entry {
  seq: number;
  dir: Direction;
  kind: Kind;
  time: number;
  /** Payload bytes (0 for events). */
  size: number;
  /** Text message, or the description of an event. */
  text?: string;
  bytes?: Uint8Array;
  handshake?: RelayHandshake;
  /** Text that looks like a JSON object or array (see isJson). */
  json?: boolean;
  /** Whether `json` was confirmed by parsing. */
  jsonChecked?: boolean;
  /** Lowercased text the search looks in, made on first use. */
  search?: string;
}

export type DirectionFilter = 'all' | Direction;

export interface Counters {
  inMessages: number;
  inBytes: number;
  outMessages: number;
  outBytes: number;
}

/** How many entries are kept; older ones are dropped (and counted). */
export const MAX_ENTRIES = 10_000;
const PREVIEW_CHARS = 240;

const JSON_CHECK_LIMIT = 256 * 1024;

/**
 * Whether a text message is a JSON object or array: the cheap guess made
 * when it arrived, confirmed by parsing the first time it is shown (only
 * the rows on screen are), and trusted without parsing for very long texts.
 */
export function isJson(entry: Entry): boolean {
  if (!entry.json || entry.jsonChecked || entry.text === undefined) return entry.json === true;
  entry.jsonChecked = true;
  if (entry.text.length <= JSON_CHECK_LIMIT) {
    try {
      JSON.parse(entry.text);
    } catch {
      entry.json = false;
    }
  }
  return entry.json;
}

export function previewOf(entry: Entry): string {
  if (entry.bytes !== undefined && entry.kind === 'binary') return toHex(entry.bytes, 64);
  const text = entry.text ?? '';
  const head = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  return head.replace(/\s+/g, ' ');
}

function searchTextOf(entry: Entry): string {
  if (entry.search === undefined) {
    const body = entry.kind === 'binary' && entry.bytes ? toHex(entry.bytes, 4096) : (entry.text ?? '');
    entry.search = `${entry.kind} ${body}`.toLowerCase();
  }
  return entry.search;
}

export class LogStore {
  entries: Entry[] = [];
  /** The entries the filter lets through, in order. */
  view: Entry[] = [];
  counters: Counters = { inMessages: 0, inBytes: 0, outMessages: 0, outBytes: 0 };
  /** Entries dropped because of the cap since the last clear. */
  dropped = 0;
  /** Bumped whenever the view changes. */
  version = 0;
  private query = '';
  private direction: DirectionFilter = 'all';
  private pending: Entry[] = [];
  private seq = 0;
  private scheduled = false;
  private readonly listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  add(dir: Direction, kind: Kind, fields: Partial<Pick<Entry, 'text' | 'bytes' | 'size' | 'handshake'>> = {}): Entry {
    const entry: Entry = { seq: ++this.seq, dir, kind, time: Date.now(), size: fields.size ?? 0, ...fields };
    if (kind === 'text' && entry.text !== undefined) entry.json = looksLikeJson(entry.text);
    if (kind === 'text' || kind === 'binary') {
      if (dir === 'in') {
        this.counters.inMessages++;
        this.counters.inBytes += entry.size;
      } else if (dir === 'out') {
        this.counters.outMessages++;
        this.counters.outBytes += entry.size;
      }
    }
    this.pending.push(entry);
    // A hidden tab gets no animation frames: keep what waits bounded too.
    if (this.pending.length > MAX_ENTRIES) {
      const excess = this.pending.length - MAX_ENTRIES;
      this.pending.splice(0, excess);
      this.dropped += excess;
    }
    this.schedule();
    return entry;
  }

  setFilter(query: string, direction: DirectionFilter): void {
    this.query = query.trim().toLowerCase();
    this.direction = direction;
    this.view = this.entries.filter((e) => this.matches(e));
    this.changed();
  }

  get filtering(): boolean {
    return this.query !== '' || this.direction !== 'all';
  }

  clear(): void {
    this.entries = [];
    this.view = [];
    this.pending = [];
    this.dropped = 0;
    this.counters = { inMessages: 0, inBytes: 0, outMessages: 0, outBytes: 0 };
    this.changed();
  }

  /** Applies what arrived since the last frame (also called by tests through flushNow). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    for (const entry of batch) {
      this.entries.push(entry);
      if (this.matches(entry)) this.view.push(entry);
    }
    // Trim in chunks, so that a steady stream does not shift the arrays on every frame.
    if (this.entries.length > MAX_ENTRIES * 1.1) {
      const excess = this.entries.length - MAX_ENTRIES;
      const firstKept = this.entries[excess]!.seq;
      this.entries = this.entries.slice(excess);
      this.dropped += excess;
      let cut = 0;
      while (cut < this.view.length && this.view[cut]!.seq < firstKept) cut++;
      if (cut > 0) this.view = this.view.slice(cut);
    }
    this.changed();
  }

  private matches(entry: Entry): boolean {
    if (this.direction !== 'all' && entry.dir !== this.direction) return false;
    return this.query === '' || searchTextOf(entry).includes(this.query);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (typeof document !== 'undefined' && document.hidden) setTimeout(() => this.flush(), 250);
    else requestAnimationFrame(() => this.flush());
  }

  private changed(): void {
    this.version++;
    for (const listener of this.listeners) listener();
  }
}
