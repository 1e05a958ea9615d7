import { describe, test } from 'node:test';
import fc from 'fast-check';
import { hubWireTarget } from './targets/hub-wire.js';
import { fuzzBriefly } from './helpers.js';

describe('fuzz: hub wire parser', () => {
  const target = hubWireTarget();

  test('random and mutated switchboard.v1 messages: only WireError, and what parses keeps the message contract', async () => {
    await fuzzBriefly(target, 40_000, 2);
  });

  test('fast-check: arbitrary JSON objects (with __proto__ and the protocol keys) around every message type', () => {
    const key = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 't', 'id', 'room', 'rooms', 'ev', 'data', 'bin', 'to', 'was', 'since', 'volatile'), fc.string({ maxLength: 6 }));
    const value = fc.oneof(
      fc.constantFrom('hello', 'join', 'leave', 'resume', 'pub', 'dm', 'emit', 'req', 'ack', 'error', 'ping', '__proto__', 1, -1, 2 ** 53, 1e308, 0.5, null, true),
      fc.jsonValue({ maxDepth: 3 }),
      fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    );
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), (message) => {
        target.check({ text: JSON.stringify(message) }, undefined);
      }),
      { numRuns: 1000 },
    );
  });
});
