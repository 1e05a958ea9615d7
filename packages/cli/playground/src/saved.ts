// Saved messages, kept in localStorage.
export type ComposeMode = 'text' | 'json' | 'binary';

export interface SavedMessage {
  id: string;
  name: string;
  mode: ComposeMode;
  /** The text, the JSON, or the bytes as hex. */
  body: string;
}

const KEY = 'switchboard-playground:saved-messages';

export function loadSaved(): SavedMessage[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(KEY) ?? '[]') as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (m): m is SavedMessage =>
        typeof m === 'object' && m !== null && typeof m.id === 'string' && typeof m.name === 'string' && typeof m.body === 'string' && ['text', 'json', 'binary'].includes(m.mode),
    );
  } catch {
    return [];
  }
}

/** Stores the list; the error message when the browser refuses (quota, private mode). */
export function storeSaved(messages: SavedMessage[]): string | null {
  try {
    localStorage.setItem(KEY, JSON.stringify(messages));
    return null;
  } catch (error) {
    return `Could not save in this browser's storage: ${(error as Error).message}`;
  }
}

/** Fired on window when the list was changed from outside the composer (an import). */
export const SAVED_CHANGED = 'switchboard-saved-changed';

/** Adds `messages` to the stored list (replacing any of the same name) and tells the composer. */
export function mergeSaved(messages: readonly SavedMessage[]): string | null {
  const names = new Set(messages.map((m) => m.name));
  const problem = storeSaved([...loadSaved().filter((m) => !names.has(m.name)), ...messages]);
  if (problem === null) window.dispatchEvent(new Event(SAVED_CHANGED));
  return problem;
}

export function newId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
