// Which fallback transport worked, per hub URL (docs/transports.md): a new
// client for the same URL starts there instead of waiting again for a
// WebSocket that the network blocks. Kept for the page's lifetime (this
// module's Map), and in sessionStorage when there is one, so that a reload in
// the same tab remembers too. A WebSocket that works (at once or by moving up)
// forgets the entry. Bounded: the most recent MAX_REMEMBERED URLs.
import type { Transport } from './types.js';

const MAX_REMEMBERED = 32;
const STORAGE_KEY = 'switchboard.transports';

const remembered = new Map<string, Transport>();
let loaded = false;

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

function storage(): StorageLike | undefined {
  try {
    // Reading sessionStorage throws where storage is denied (sandboxed frames, some privacy modes).
    return (globalThis as { sessionStorage?: StorageLike }).sessionStorage;
  } catch {
    return undefined;
  }
}

function load(): void {
  if (loaded) return;
  loaded = true;
  try {
    const saved = JSON.parse(storage()?.getItem(STORAGE_KEY) ?? '[]') as unknown;
    if (!Array.isArray(saved)) return;
    for (const entry of saved.slice(-MAX_REMEMBERED)) {
      if (Array.isArray(entry) && typeof entry[0] === 'string' && (entry[1] === 'sse' || entry[1] === 'polling')) remembered.set(entry[0], entry[1]);
    }
  } catch {}
}

function save(): void {
  try {
    storage()?.setItem(STORAGE_KEY, JSON.stringify([...remembered]));
  } catch {}
}

/** The fallback transport that last worked for `url`, if any. */
export function recallTransport(url: string): Transport | undefined {
  load();
  return remembered.get(url);
}

/** Records what worked for `url`: a fallback is kept (most recent last), 'websocket' forgets the URL. */
export function rememberTransport(url: string, transport: Transport): void {
  load();
  const had = remembered.get(url);
  if (transport === 'websocket') {
    if (had === undefined) return;
    remembered.delete(url);
  } else {
    if (had === transport) return;
    remembered.delete(url);
    remembered.set(url, transport);
    if (remembered.size > MAX_REMEMBERED) remembered.delete(remembered.keys().next().value as string);
  }
  save();
}
