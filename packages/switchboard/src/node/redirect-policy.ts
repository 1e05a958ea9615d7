// What a client following redirects (followRedirects) may take along to the
// next URL. The rules are ws 8's, which are curl 7.77's: credentials
// (`Authorization`, `Cookie`, URL userinfo or the `auth` option) go only to
// the host they were meant for, and never from wss: down to ws:. On top of
// ws, a redirect may not lead into a Unix socket unless the first URL was
// one: a remote server must not be able to send the client's request (and
// whatever it carries) to a local IPC endpoint.

/** Where the first request of a handshake went. */
export interface RedirectOrigin {
  unix: boolean;
  secure: boolean;
  /** `url.host` (hostname and non-default port, as ws compares them), or the socket path of a ws+unix: URL. */
  hostOrSocketPath: string;
}

export function redirectOrigin(url: URL, socketPath: string | undefined): RedirectOrigin {
  const unix = url.protocol === 'ws+unix:';
  return { unix, secure: url.protocol === 'wss:', hostOrSocketPath: unix ? (socketPath ?? '') : url.host };
}

/** Why the client refuses to follow a redirect to `next`, or null when it may. */
export function refusedRedirect(origin: RedirectOrigin, next: URL): string | null {
  if (next.protocol === 'ws+unix:' && !origin.unix) return `Refusing to follow a redirect to a ws+unix: URL from a network URL: ${next.href}`;
  return null;
}

/**
 * Whether credentials go along to `next`: only to the same host (or socket)
 * and not from wss: to ws:. `sameHost` also decides whether a `Host` header
 * of the caller's is kept.
 */
export function credentialsFollow(origin: RedirectOrigin, next: URL, socketPath: string | undefined): { sameHost: boolean; keep: boolean } {
  const unix = next.protocol === 'ws+unix:';
  const sameHost = unix === origin.unix && (unix ? socketPath : next.host) === origin.hostOrSocketPath;
  return { sameHost, keep: sameHost && !(origin.secure && next.protocol !== 'wss:') };
}

/** The request headers that carry credentials, lowercase (the caller's headers are lowercased when following redirects, as ws does). */
export const CREDENTIAL_HEADERS = ['authorization', 'cookie'] as const;
