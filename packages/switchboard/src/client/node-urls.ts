// The node URLs a hub sends in `welcome.nodes` (docs/protocol.md, section 1),
// merged into the URLs a HubClient fails over between. A server that could
// send the client anywhere could make it carry its `hello` credentials to
// another host, so by default only URLs on a host the application already
// named are taken, and never a downgrade from wss: to ws:.
import { MAX_NODE_URLS } from '../wire/index.js';

/**
 * Which URLs of `welcome.nodes` a client adds to its list:
 * - `'same-host'` (default): those whose host name is the host name of one of the URLs the
 *   application gave (any port and path), with the same scheme (wss: stays wss:);
 * - `'any'`: every ws: or wss: URL the server names;
 * - a function: those it returns true for (the URL as the server sent it);
 * - `false`: none (the client uses only the application's URLs).
 */
export type NodeUrlPolicy = 'same-host' | 'any' | false | ((url: string) => boolean);

/** `url` parsed, with http(s) read as ws(s) (the HTTP transports take the same URL); null when it does not parse. */
function parse(url: string): URL | null {
  try {
    // A relative URL is resolved against the page, as the WebSocket constructor does.
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    const parsed = new URL(url, base);
    if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
    else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
    return parsed;
  } catch {
    return null;
  }
}

function accepts(policy: NodeUrlPolicy, own: readonly (URL | null)[], url: string): boolean {
  if (policy === false) return false;
  if (policy === 'any') return true;
  if (typeof policy === 'function') {
    try {
      return policy(url) === true;
    } catch {
      return false;
    }
  }
  const offered = parse(url);
  return offered !== null && own.some((o) => o !== null && o.hostname === offered.hostname && o.protocol === offered.protocol);
}

/**
 * The client's URL list after a `welcome` carrying `offered`: the application's URLs first, in
 * their order, then the offered ones the policy accepts that are not already in the list (at most
 * 16, as the wire module bounds them), and `current` (the URL of this connection) kept if it is
 * neither, so that the client can tell where it is. Each welcome's list replaces the previous one.
 */
export function mergeNodeUrls(own: readonly string[], current: string, offered: readonly string[], policy: NodeUrlPolicy): string[] {
  const ownParsed = own.map(parse);
  const merged = [...own];
  const seen = new Set(ownParsed.map((u, i) => u?.href ?? own[i]!));
  let learnt = 0;
  for (const url of offered) {
    if (learnt === MAX_NODE_URLS) break;
    const key = parse(url)?.href ?? url;
    if (seen.has(key) || !accepts(policy, ownParsed, url)) continue;
    seen.add(key);
    merged.push(url);
    learnt++;
  }
  if (!merged.includes(current)) merged.push(current);
  return merged;
}
