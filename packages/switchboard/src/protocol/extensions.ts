import type { ProtocolError } from './errors.js';

/** One extension of a Sec-WebSocket-Extensions header: its name and parameters, in order, duplicates kept. */
export interface ExtensionOffer {
  name: string;
  /** Parameter name → values (`true` for a parameter without a value). More than one value means it was repeated. */
  params: Map<string, Array<string | true>>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a Sec-WebSocket-Extensions header (RFC 6455 section 9.1):
 * `name; param; param=value, name2 ...`, values as tokens or quoted strings.
 * Returns null when the header does not follow the grammar.
 */
export function parseExtensions(header: string): ExtensionOffer[] | null {
  const offers: ExtensionOffer[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && !' \t,;="'.includes(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (true) {
    skipSpace();
    const name = readToken();
    if (!TOKEN.test(name)) return null;
    const offer: ExtensionOffer = { name, params: new Map() };
    skipSpace();
    while (i < n && header[i] === ';') {
      i++;
      skipSpace();
      const key = readToken();
      if (!TOKEN.test(key)) return null;
      skipSpace();
      let value: string | true = true;
      if (i < n && header[i] === '=') {
        i++;
        skipSpace();
        if (header[i] === '"') {
          const end = header.indexOf('"', i + 1);
          if (end === -1) return null;
          value = header.slice(i + 1, end);
          i = end + 1;
          // A quoted value must still be a token once unquoted (section 9.1).
          if (!TOKEN.test(value)) return null;
        } else {
          value = readToken();
          if (!TOKEN.test(value)) return null;
        }
        skipSpace();
      }
      const values = offer.params.get(key);
      if (values) values.push(value);
      else offer.params.set(key, [value]);
    }
    offers.push(offer);
    if (i >= n) return offers;
    if (header[i] !== ',') return null;
    i++;
  }
}

/** Formats one extension for a Sec-WebSocket-Extensions header. */
export function formatExtension(name: string, params: Array<[string, string | number | true]>): string {
  let out = name;
  for (const [key, value] of params) out += value === true ? `; ${key}` : `; ${key}=${value}`;
  return out;
}

/**
 * A per-message extension's transform (RFC 6455 section 9, RFC 7692): what
 * the connection calls for messages with RSV1 set, and to encode outgoing
 * ones. The frame codec only knows that RSV1 is allowed; the transform owns
 * the bytes. Callbacks may run asynchronously; the connection keeps message
 * order around them.
 */
export interface MessageTransform {
  /** Decodes one whole received message (all fragments joined). */
  decode(data: Uint8Array, callback: (error: ProtocolError | null, result?: Uint8Array) => void): void;
  /** Encodes one fragment of an outgoing message (`fin` on the last). */
  encode(data: Uint8Array, fin: boolean, callback: (error: Error | null, result?: Uint8Array) => void): void;
  /** Frees what the transform holds (the connection is gone). */
  release(): void;
}
