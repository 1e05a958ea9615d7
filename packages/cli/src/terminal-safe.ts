// Peer data on the operator's terminal. Bytes from a peer (messages, close
// reasons, paths, headers, error bodies) can hold terminal escape sequences:
// an OSC that sets the window title or writes the clipboard (OSC 52), a
// clear screen, a carriage return that overwrites a log line, a newline that
// forges one, bidi overrides that reorder what is shown. Every place the CLI
// prints peer data for a person goes through escapeControls, which shows
// such characters as escapes instead ("\x1b", "\r", "\u202e"); JSON output
// goes through safeJson, which keeps the data exact but escapes them too.

/**
 * C0 controls except tab, DEL, C1 controls (U+0080-U+009F, which some
 * terminals obey like ESC sequences), the line and paragraph separators, and
 * the bidi controls (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069).
 */
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same characters, among what JSON.stringify leaves as they are (it escapes C0 itself). */
const UNSAFE_IN_JSON = /[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\b': '\\b', '\f': '\\f', '\v': '\\v', '\0': '\\0' };

function visible(char: string): string {
  const short = SHORT[char];
  if (short !== undefined) return short;
  const code = char.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control character shown as an escape, for a terminal (tab is kept). */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, visible);
}

function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** JSON.stringify, with DEL, C1, separators and bidi controls written as \u escapes: the same JSON value, safe to print. */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE_IN_JSON, unicodeEscape);
}
