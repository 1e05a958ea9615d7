// The HS256 JWT check of `serve --hub --jwt-secret` (hub-auth.ts), on its
// own: RFC 7519 claims, RFC 7518 HS256, and the RFC 8725 rule that the
// algorithm is the server's choice, never the token's.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signJwt, TokenError, verifyJwt } from '../../packages/cli/src/hub-auth.js';

const SECRET = 'secret';
const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
function sign(header: unknown, payload: unknown, secret = SECRET): string {
  const signing = `${b64(header)}.${b64(payload)}`;
  return `${signing}.${createHmac('sha256', secret).update(signing).digest('base64url')}`;
}

describe('serve --hub: HS256 JWT verification', () => {
  test('a valid token gives its claims; exp and nbf are honoured at the edges', () => {
    assert.deepEqual(verifyJwt(signJwt({ sub: 'ann', role: 'x' }, SECRET), SECRET), { sub: 'ann', role: 'x' });
    const token = signJwt({ sub: 'ann', exp: 1000, nbf: 900 }, SECRET);
    assert.equal(verifyJwt(token, SECRET, 999.9).sub, 'ann');
    assert.throws(() => verifyJwt(token, SECRET, 1000), /expired/);
    assert.equal(verifyJwt(token, SECRET, 900).sub, 'ann');
    assert.throws(() => verifyJwt(token, SECRET, 899), /not valid yet/);
  });

  test('anything else is a TokenError saying why', () => {
    const cases: Array<[string, RegExp]> = [
      ['a.b', /three dot-separated parts/],
      ['a.b.c.d', /three dot-separated parts/],
      [sign({ alg: 'none' }, { sub: 'x' }), /must be HS256/],
      [sign({ alg: 'HS512' }, { sub: 'x' }), /must be HS256/],
      [sign({ typ: 'JWT' }, { sub: 'x' }), /must be HS256/],
      [sign({ alg: 'HS256' }, { sub: 'x' }, 'other'), /bad signature/],
      [`${sign({ alg: 'HS256' }, { sub: 'x' })}AA`, /bad signature/],
      [sign({ alg: 'HS256' }, { sub: 'x' }).replace(/\.[^.]+$/, '.'), /bad signature/],
      [sign({ alg: 'HS256' }, { sub: 'x' }).replace(/\.[^.]+$/, '.a+b/c='), /signature is not base64url/],
      [`${b64('not json')}.${b64({})}.x`, /header is not JSON/],
      [`${b64([1])}.${b64({})}.x`, /header is not a JSON object/],
      [`a+b.${b64({})}.x`, /header is not base64url/],
      [sign({ alg: 'HS256' }, 'not json'), /payload is not JSON/],
      [sign({ alg: 'HS256' }, { exp: '9999999999' }), /expired/],
      [sign({ alg: 'HS256' }, { nbf: 'now' }), /not valid yet/],
    ];
    for (const [token, why] of cases) assert.throws(() => verifyJwt(token, SECRET, 1000), (e: unknown) => e instanceof TokenError && why.test((e as Error).message), token);
  });
});
