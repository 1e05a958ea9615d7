// Authentication for `serve --hub`: a shared secret (--auth-token) or a JSON
// Web Token signed with HMAC-SHA256 (--jwt-secret, RFC 7519 with the HS256
// algorithm of RFC 7518 section 3.2), checked with node:crypto alone. The
// token comes from the client's hello (`auth: { token }`), the `token` query
// parameter, or an `Authorization: Bearer` header.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { HubError, type HubConnection } from 'switchboard/hub';

export type HubAuth = { kind: 'token'; secret: string } | { kind: 'jwt'; secret: string };

/** The claims `serve --hub` reads: `sub` is the user id; `exp` and `nbf` are checked (RFC 7519 section 4.1). */
export interface JwtClaims {
  sub?: unknown;
  exp?: unknown;
  nbf?: unknown;
  [claim: string]: unknown;
}

/** Why a token was refused: for the log and the client's `error` message. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodeJson(part: string, what: string): Record<string, unknown> {
  if (!BASE64URL.test(part)) throw new TokenError(`the ${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new TokenError(`the ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TokenError(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * The claims of a valid HS256 token signed with `secret`; a TokenError otherwise. Only HS256 is
 * accepted, whatever the header says (no `none`, no algorithm switching: RFC 8725 section 3.1).
 */
export function verifyJwt(token: string, secret: string, nowSeconds = Date.now() / 1000): JwtClaims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('not a JWT (three dot-separated parts)');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart, 'header');
  if (header.alg !== 'HS256') throw new TokenError(`the algorithm must be HS256 (got ${JSON.stringify(header.alg)})`);
  if (!BASE64URL.test(signaturePart)) throw new TokenError('the signature is not base64url');
  const expected = createHmac('sha256', secret).update(`${headerPart}.${payloadPart}`).digest();
  const given = Buffer.from(signaturePart, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new TokenError('bad signature');
  const claims = decodeJson(payloadPart, 'payload') as JwtClaims;
  if (claims.exp !== undefined && (typeof claims.exp !== 'number' || nowSeconds >= claims.exp)) throw new TokenError('expired');
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || nowSeconds < claims.nbf)) throw new TokenError('not valid yet');
  return claims;
}

/** A signed HS256 token (for tests and `switchboard` users who need one quickly). */
export function signJwt(claims: Record<string, unknown>, secret: string): string {
  const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

/** The token a connection presented: hello `auth.token` (or `auth` itself as a string), `?token=`, or `Authorization: Bearer`. */
export function presentedToken(client: HubConnection<any, any>): string | undefined {
  const auth = client.handshake.auth as { token?: unknown } | string | undefined;
  if (typeof auth === 'string') return auth;
  if (auth && typeof auth === 'object' && typeof auth.token === 'string') return auth.token;
  const query = client.handshake.query.get('token');
  if (query !== null) return query;
  const header = client.handshake.headers.authorization;
  const m = header === undefined ? null : /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Hub middleware for `auth`. With a JWT, the user id is its `sub`. With the shared secret, whoever
 * holds it is trusted: the user id is the hello's `auth.user` when it is a string (for services and
 * internal tools; browsers should get JWTs).
 */
export function authMiddleware(auth: HubAuth): (client: HubConnection<any, any>, next: (error?: Error) => void) => void {
  const secretDigest = digest(auth.secret);
  return (client, next) => {
    const token = presentedToken(client);
    if (token === undefined) {
      next(new HubError('unauthorized', 'A token is required (hello auth.token, ?token= or Authorization: Bearer)'));
      return;
    }
    if (auth.kind === 'token') {
      if (!timingSafeEqual(digest(token), secretDigest)) {
        next(new HubError('unauthorized', 'Wrong token'));
        return;
      }
      const user = (client.handshake.auth as { user?: unknown } | undefined)?.user;
      if (typeof user === 'string' && user.length > 0 && user.length <= 256) client.userId = user;
      next();
      return;
    }
    let claims: JwtClaims;
    try {
      claims = verifyJwt(token, auth.secret);
    } catch (error) {
      next(new HubError('unauthorized', `Invalid token: ${(error as Error).message}`));
      return;
    }
    if (typeof claims.sub === 'string' && claims.sub.length > 0 && claims.sub.length <= 256) client.userId = claims.sub;
    next();
  };
}
