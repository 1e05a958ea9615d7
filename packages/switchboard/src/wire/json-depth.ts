// The nesting depth of a JSON text, found by one linear scan.
//
// JSON.parse accepts any depth (V8's parser is iterative), but JSON.stringify
// recurses and throws a RangeError a few thousand levels down: a message
// that parses could then never be sent on. Checking the depth on the text,
// before parsing, costs no allocation and no recursion.

const QUOTE = 0x22;
const QUOTE_CHAR = '"';
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Whether the JSON `text` nests objects and arrays at most `max` deep (`{}`
 * is depth 1, `{"a":[1]}` depth 2). Brackets inside strings do not count;
 * the text need not be valid JSON (the parser judges that). Strings are
 * skipped with the native `indexOf`, so long string values (base64 data)
 * cost little.
 */
export function jsonDepthWithin(text: string, max: number): boolean {
  const length = text.length;
  // Each level needs an opening bracket: a text this short cannot be too deep.
  if (length <= max) return true;
  let depth = 0;
  let i = 0;
  while (i < length) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      // Jump to the closing quote: one not preceded by an odd number of backslashes.
      let end = i;
      for (;;) {
        end = text.indexOf(QUOTE_CHAR, end + 1);
        if (end === -1) return true; // an unterminated string: JSON.parse refuses it
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
        if ((backslashes & 1) === 0) break;
      }
      i = end + 1;
      continue;
    }
    if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth > max) return false;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--;
    i++;
  }
  return true;
}
