import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TOO_MANY_FIELDS, errorResponse, findHeadEnd, parseRequestHead } from '../../packages/switchboard/src/protocol/index.js';

function head(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

describe('findHeadEnd', () => {
  test('finds the end of the blank line, or -1', () => {
    assert.equal(findHeadEnd(head('GET / HTTP/1.1\r\nHost: a\r\n\r\nrest')), 27);
    assert.equal(findHeadEnd(head('GET / HTTP/1.1\r\nHost: a\r\n\r')), -1);
  });

  test('a search resumed after a split inside the blank line still finds it', () => {
    const whole = head('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    for (let split = 1; split < whole.length; split++) assert.equal(findHeadEnd(whole, split), whole.length);
  });
});

describe('parseRequestHead', () => {
  test('request line, raw headers and the headers object', () => {
    const parsed = parseRequestHead(
      head('GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nX-Empty:\r\n\r\n'),
    );
    assert.deepEqual(parsed, {
      method: 'GET',
      target: '/chat?room=1',
      versionMajor: 1,
      versionMinor: 1,
      rawHeaders: ['Host', 'example.com', 'Upgrade', 'websocket', 'Connection', 'keep-alive, Upgrade', 'X-Empty', ''],
      headers: { host: 'example.com', upgrade: 'websocket', connection: 'keep-alive, Upgrade', 'x-empty': '' },
    });
  });

  test('a head with no fields', () => {
    assert.deepEqual(parseRequestHead(head('GET / HTTP/1.1\r\n\r\n'))?.rawHeaders, []);
  });

  test('repeated fields as Node keeps them: joined with ", ", cookie with "; ", host and the like only once, set-cookie a list', () => {
    const parsed = parseRequestHead(
      head('GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nSet-Cookie: a=1\r\nX-A: 3\r\nset-cookie: b=2\r\nCookie: c=3\r\nHost: h1\r\nCOOKIE: d=4\r\nhost: h2\r\n\r\n'),
    )!;
    assert.deepEqual(parsed.headers, { 'x-a': '1, 2, 3', 'set-cookie': ['a=1', 'b=2'], cookie: 'c=3; d=4', host: 'h1' });
    assert.deepEqual(parsed.rawHeaders, ['X-A', '1', 'x-a', '2', 'Set-Cookie', 'a=1', 'X-A', '3', 'set-cookie', 'b=2', 'Cookie', 'c=3', 'Host', 'h1', 'COOKIE', 'd=4', 'host', 'h2']);
  });

  test('names that Object.prototype also has are fields like any other', () => {
    const parsed = parseRequestHead(head('GET / HTTP/1.1\r\nConstructor: a\r\ntoString: b\r\nconstructor: c\r\n\r\n'))!;
    assert.deepEqual({ ...parsed.headers }, { constructor: 'a, c', tostring: 'b' });
  });

  test('spaces and tabs around a value are not part of it; inside it they are', () => {
    const parsed = parseRequestHead(head('GET / HTTP/1.1\r\nX-A: \t a  b \t \r\nX-B:c\r\n\r\n'))!;
    assert.deepEqual(parsed.headers, { 'x-a': 'a  b', 'x-b': 'c' });
  });

  test('values keep bytes above 0x7f (obs-text) as latin1 characters', () => {
    assert.equal(parseRequestHead(head('GET / HTTP/1.1\r\nX-A: caf\xe9 \xa0\r\n\r\n'))!.headers['x-a'], 'caf\xe9 \xa0');
  });

  const malformed: Array<[string, string]> = [
    ['no request line', '\r\n\r\n'],
    ['a request line without a version', 'GET /\r\n\r\n'],
    ['a lower-case version', 'GET / http/1.1\r\n\r\n'],
    ['a method that is not a token', 'G(T / HTTP/1.1\r\n\r\n'],
    ['a field without a colon', 'GET / HTTP/1.1\r\nHost example.com\r\n\r\n'],
    ['a field with an empty name', 'GET / HTTP/1.1\r\n: value\r\n\r\n'],
    ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost : example.com\r\n\r\n'],
    ['a name that is not a token', 'GET / HTTP/1.1\r\nX(A): 1\r\n\r\n'],
    ['obsolete line folding', 'GET / HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n'],
    ['a bare LF in a value', 'GET / HTTP/1.1\r\nX-A: 1\n2\r\n\r\n'],
    ['a bare CR in a value', 'GET / HTTP/1.1\r\nX-A: 1\r2\r\n\r\n'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nX-A: 1\x002\r\n\r\n'],
    ['a control character in a value', 'GET / HTTP/1.1\r\nX-A: 1\x0b2\r\n\r\n'],
    ['DEL in a value', 'GET / HTTP/1.1\r\nX-A: 1\x7f2\r\n\r\n'],
    ['an empty line inside the head', 'GET / HTTP/1.1\r\nX-A: 1\r\n\r\nX-B: 2\r\n\r\n'],
    ['an empty line just before the end', 'GET / HTTP/1.1\r\n\r\n\r\n'],
  ];
  for (const [what, text] of malformed) {
    test(`null for ${what}`, () => {
      assert.equal(parseRequestHead(head(text)), null);
    });
  }

  test('property: any well-formed head parses back to its fields, names and values as sent', () => {
    // Fields Node joins or keeps in its own way are the unit tests' business; "__proto__" cannot be a key.
    const special = new Set([
      'cookie', 'set-cookie', '__proto__',
      'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
      'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
      'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
    ]);
    const name = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,20}$/).filter((n) => !special.has(n.toLowerCase()));
    // Field values: visible ASCII, obs-text, spaces and tabs inside (not at the ends).
    const value = fc
      .array(fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constantFrom(0x20, 0x09)), { maxLength: 40 })
      .map((codes) => String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, ''));
    const padding = fc.constantFrom('', ' ', '\t', '  ', ' \t');
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value, padding, padding), { maxLength: 12 }), fc.constantFrom('/', '/a?b=c', '*'), (fields, target) => {
        let text = `GET ${target} HTTP/1.1\r\n`;
        for (const [n, v, before, after] of fields) text += `${n}:${before}${v}${after}\r\n`;
        const parsed = parseRequestHead(head(`${text}\r\n`));
        assert.ok(parsed !== null);
        assert.equal(parsed.target, target);
        assert.deepEqual(parsed.rawHeaders, fields.flatMap(([n, v]) => [n, v]));
        for (const [n] of fields) {
          const lower = n.toLowerCase();
          const values = fields.filter(([other]) => other.toLowerCase() === lower).map(([, v]) => v);
          assert.deepEqual(parsed.headers[lower], values.join(', '));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseRequestHead: maxFields', () => {
  const withFields = (count: number): Buffer => {
    let text = 'GET / HTTP/1.1\r\n';
    for (let i = 0; i < count; i++) text += `X-${i}: ${i}\r\n`;
    return head(`${text}\r\n`);
  };

  test('up to maxFields fields parse; one more gives TOO_MANY_FIELDS, not null (431, not 400)', () => {
    const parsed = parseRequestHead(withFields(3), 3);
    assert.ok(parsed !== null && parsed !== TOO_MANY_FIELDS);
    assert.equal(parsed.rawHeaders.length, 6);
    assert.equal(parseRequestHead(withFields(4), 3), TOO_MANY_FIELDS);
    assert.equal(parseRequestHead(withFields(3000), 128), TOO_MANY_FIELDS);
    // Without a limit, as before.
    assert.equal((parseRequestHead(withFields(3000)) as { rawHeaders: string[] }).rawHeaders.length, 6000);
  });
});

describe('errorResponse: reason phrases', () => {
  for (const [status, phrase] of [
    [431, 'Request Header Fields Too Large'],
    [413, 'Content Too Large'],
    [414, 'URI Too Long'],
  ] as const) {
    test(`${status} ${phrase}`, () => {
      assert.ok(errorResponse(status, '').startsWith(`HTTP/1.1 ${status} ${phrase}\r\n`));
    });
  }
});
