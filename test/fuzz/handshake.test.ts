import { describe, test } from 'node:test';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { handshakeTarget } from './targets/handshake.js';
import { fuzzBriefly } from './helpers.js';

describe('fuzz: opening handshake', () => {
  test('mutated request heads: findHeadEnd, parseRequestHead, validateUpgradeRequest and deflate negotiation throw only typed errors and agree', async () => {
    await fuzzBriefly(handshakeTarget, 30_000, 2);
  });

  test('fast-check: heads built from arbitrary header lines', () => {
    const line = fc.oneof(
      fc.constantFrom('Host: x', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='),
      fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 })).map(([name, value]) => `${name}: ${value}`),
      fc.string({ unit: 'binary', maxLength: 60 }).map((value) => `Sec-WebSocket-Extensions: ${value}`),
      fc.string({ maxLength: 60 }).map((value) => `Sec-WebSocket-Protocol: ${value}`),
    );
    fc.assert(
      fc.property(
        fc.constantFrom('GET / HTTP/1.1', 'GET /hub HTTP/1.1', 'POST / HTTP/1.1', 'GET / HTTP/1.0'),
        fc.array(line, { maxLength: 10 }),
        fc.record({ serverMaxWindowBits: fc.constantFrom(undefined, 9, 15, false), clientMaxWindowBits: fc.constantFrom(undefined, true, 8, 15, false) }),
        (requestLine, lines, deflate) => {
          const head = Buffer.from(`${[requestLine, ...lines].join('\r\n')}\r\n\r\n`, 'utf8');
          handshakeTarget.check({ chunks: [head], deflate }, undefined);
        },
      ),
      { numRuns: 500 },
    );
  });
});
