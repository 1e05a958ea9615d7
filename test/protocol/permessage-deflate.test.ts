// permessage-deflate negotiation (RFC 7692 sections 5 and 7.1): parameter
// checks, the server's choice among offers, the client's offer and its check
// of the server's answer.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  acceptDeflateAnswer,
  acceptDeflateOffer,
  DeflateNegotiationError,
  deflateOffer,
  parseDeflateParams,
  parseExtensions,
  PERMESSAGE_DEFLATE,
  type DeflateParams,
  type ExtensionOffer,
  type PerMessageDeflateOptions,
} from '../../packages/switchboard/src/protocol/index.js';

function offers(header: string): ExtensionOffer[] {
  const parsed = parseExtensions(header);
  assert.ok(parsed, `test setup: ${JSON.stringify(header)} must parse`);
  return parsed;
}

function one(header: string): ExtensionOffer {
  const list = offers(header);
  assert.equal(list.length, 1, 'test setup: one extension');
  return list[0]!;
}

function paramsThrows(header: string, isAnswer: boolean, message: RegExp): void {
  assert.throws(
    () => parseDeflateParams(one(header), isAnswer),
    (e: unknown) => e instanceof DeflateNegotiationError && message.test(e.message),
    `parseDeflateParams(${JSON.stringify(header)}, isAnswer=${isAnswer}) must throw ${message}`,
  );
}

function answerThrows(header: string, options: PerMessageDeflateOptions, message: RegExp): void {
  assert.throws(
    () => acceptDeflateAnswer(offers(header), options),
    (e: unknown) => e instanceof DeflateNegotiationError && message.test(e.message),
    `acceptDeflateAnswer(${JSON.stringify(header)}, ${JSON.stringify(options)}) must throw ${message}`,
  );
}

const DEFAULTS: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

test('PERMESSAGE_DEFLATE is the registered extension name', () => {
  assert.equal(PERMESSAGE_DEFLATE, 'permessage-deflate');
});

describe('parseDeflateParams', () => {
  test('no parameters', () => {
    assert.deepEqual(parseDeflateParams(one('permessage-deflate'), false), {});
    assert.deepEqual(parseDeflateParams(one('permessage-deflate'), true), {});
  });

  test('all four parameters, window bits as numbers (quoted or not)', () => {
    const header = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits="9"';
    for (const isAnswer of [false, true]) {
      assert.deepEqual(parseDeflateParams(one(header), isAnswer), {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 9,
      });
    }
  });

  test('every window size from 8 to 15 is accepted', () => {
    for (let bits = 8; bits <= 15; bits++) {
      assert.deepEqual(parseDeflateParams(one(`permessage-deflate; server_max_window_bits=${bits}; client_max_window_bits=${bits}`), true), {
        server_max_window_bits: bits,
        client_max_window_bits: bits,
      });
    }
  });

  test('client_max_window_bits without a value: allowed in an offer only', () => {
    assert.deepEqual(parseDeflateParams(one('permessage-deflate; client_max_window_bits'), false), { client_max_window_bits: true });
    paramsThrows('permessage-deflate; client_max_window_bits', true, /client_max_window_bits needs a value/);
  });

  test('server_max_window_bits without a value: never allowed', () => {
    paramsThrows('permessage-deflate; server_max_window_bits', false, /server_max_window_bits needs a value/);
    paramsThrows('permessage-deflate; server_max_window_bits', true, /server_max_window_bits needs a value/);
  });

  test('a parameter given twice (with or without the same value)', () => {
    for (const isAnswer of [false, true]) {
      paramsThrows('permessage-deflate; server_no_context_takeover; server_no_context_takeover', isAnswer, /server_no_context_takeover given more than once/);
      paramsThrows('permessage-deflate; client_no_context_takeover; client_no_context_takeover', isAnswer, /more than once/);
      paramsThrows('permessage-deflate; server_max_window_bits=10; server_max_window_bits=10', isAnswer, /server_max_window_bits given more than once/);
      paramsThrows('permessage-deflate; client_max_window_bits=10; client_max_window_bits=11', isAnswer, /more than once/);
    }
    paramsThrows('permessage-deflate; client_max_window_bits; client_max_window_bits=10', false, /more than once/);
  });

  test('unknown parameters', () => {
    for (const isAnswer of [false, true]) {
      paramsThrows('permessage-deflate; foo', isAnswer, /Unknown parameter foo/);
      paramsThrows('permessage-deflate; server_max_window_bits=10; x=1', isAnswer, /Unknown parameter x/);
      // Names are case-sensitive tokens: these are not the RFC's parameters.
      paramsThrows('permessage-deflate; Server_No_Context_Takeover', isAnswer, /Unknown parameter/);
      paramsThrows('permessage-deflate; max_window_bits=10', isAnswer, /Unknown parameter/);
    }
  });

  test('a value on server_no_context_takeover / client_no_context_takeover', () => {
    for (const isAnswer of [false, true]) {
      paramsThrows('permessage-deflate; server_no_context_takeover=1', isAnswer, /server_no_context_takeover must not have a value/);
      paramsThrows('permessage-deflate; client_no_context_takeover="true"', isAnswer, /client_no_context_takeover must not have a value/);
    }
  });

  test('window bits outside 8..15', () => {
    for (const value of ['0', '1', '7', '16', '20', '255', '99999999999999999999999']) {
      for (const key of ['server_max_window_bits', 'client_max_window_bits']) {
        for (const isAnswer of [false, true]) paramsThrows(`permessage-deflate; ${key}=${value}`, isAnswer, new RegExp(`Invalid value for ${key}`));
      }
    }
  });

  test('window bits that are not plain decimal integers (signs, fractions, exponents, hex, leading zeros)', () => {
    for (const value of ['abc', 'ten', '+9', '-9', '9.0', '1e1', '0x0a', '010', '08', '00015', '9a', '"1"0']) {
      const header = `permessage-deflate; server_max_window_bits=${value}`;
      const parsed = parseExtensions(header);
      if (parsed === null) continue; // not even a token: the header itself is malformed
      for (const isAnswer of [false, true]) paramsThrows(header, isAnswer, /Invalid value for server_max_window_bits/);
      paramsThrows(`permessage-deflate; client_max_window_bits=${value}`, false, /Invalid value for client_max_window_bits/);
    }
  });
});

describe('acceptDeflateOffer (server side)', () => {
  test('a plain offer: default parameters, answer without parameters', () => {
    assert.deepEqual(acceptDeflateOffer(offers('permessage-deflate'), {}), { params: DEFAULTS, response: 'permessage-deflate' });
  });

  test("a browser's offer (client_max_window_bits without a value)", () => {
    assert.deepEqual(acceptDeflateOffer(offers('permessage-deflate; client_max_window_bits'), {}), { params: DEFAULTS, response: 'permessage-deflate' });
  });

  test('returns null when nothing is acceptable', () => {
    assert.equal(acceptDeflateOffer([], {}), null);
    assert.equal(acceptDeflateOffer(offers('x-webkit-deflate-frame'), {}), null);
    assert.equal(acceptDeflateOffer(offers('x-webkit-deflate-frame, permessage-foo; a=1'), {}), null);
    assert.equal(acceptDeflateOffer(offers('permessage-deflate; foo, permessage-deflate; server_max_window_bits=8'), {}), null);
  });

  test('offers with invalid parameters are skipped', () => {
    for (const bad of [
      'permessage-deflate; foo',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; client_max_window_bits=7',
      'permessage-deflate; server_no_context_takeover=yes',
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
      'permessage-deflate; server_max_window_bits=010',
    ]) {
      assert.equal(acceptDeflateOffer(offers(bad), {}), null, `${bad} alone must be declined`);
      const r = acceptDeflateOffer(offers(`${bad}, permessage-deflate; server_max_window_bits=11`), {});
      assert.deepEqual(r, { params: { ...DEFAULTS, serverMaxWindowBits: 11 }, response: 'permessage-deflate; server_max_window_bits=11' }, `after ${bad}`);
    }
  });

  test('the first acceptable offer is chosen among several', () => {
    const header = [
      'x-webkit-deflate-frame',
      'permessage-deflate; server_max_window_bits=8',
      'permessage-deflate; bogus',
      'permessage-deflate; client_no_context_takeover; server_max_window_bits=12',
      'permessage-deflate; server_no_context_takeover',
      'permessage-deflate',
    ].join(', ');
    assert.deepEqual(acceptDeflateOffer(offers(header), {}), {
      params: { ...DEFAULTS, clientNoContextTakeover: true, serverMaxWindowBits: 12 },
      response: 'permessage-deflate; client_no_context_takeover; server_max_window_bits=12',
    });
  });

  test('server_max_window_bits=8 is declined (zlib cannot deflate with an 8-bit window)', () => {
    assert.equal(acceptDeflateOffer(offers('permessage-deflate; server_max_window_bits=8'), {}), null);
    assert.equal(acceptDeflateOffer(offers('permessage-deflate; server_max_window_bits=8'), { serverMaxWindowBits: 15 }), null);
    const r = acceptDeflateOffer(offers('permessage-deflate; server_max_window_bits=9'), {});
    assert.deepEqual(r?.params, { ...DEFAULTS, serverMaxWindowBits: 9 });
    assert.equal(r?.response, 'permessage-deflate; server_max_window_bits=9');
  });

  test('the requested server_max_window_bits is answered (RFC 7692 7.1.2.1), at most the configured one', () => {
    assert.equal(acceptDeflateOffer(offers('permessage-deflate; server_max_window_bits=10'), {})?.response, 'permessage-deflate; server_max_window_bits=10');
    assert.equal(acceptDeflateOffer(offers('permessage-deflate; server_max_window_bits=10'), { serverMaxWindowBits: 12 })?.response, 'permessage-deflate; server_max_window_bits=10');
    const r = acceptDeflateOffer(offers('permessage-deflate; server_max_window_bits=13'), { serverMaxWindowBits: 11 });
    assert.equal(r?.response, 'permessage-deflate; server_max_window_bits=11');
    assert.equal(r?.params.serverMaxWindowBits, 11);
  });

  test('option serverNoContextTakeover: true is imposed', () => {
    const r = acceptDeflateOffer(offers('permessage-deflate; client_max_window_bits'), { serverNoContextTakeover: true });
    assert.deepEqual(r, { params: { ...DEFAULTS, serverNoContextTakeover: true }, response: 'permessage-deflate; server_no_context_takeover' });
  });

  test('option serverNoContextTakeover: false declines offers that request it', () => {
    assert.equal(acceptDeflateOffer(offers('permessage-deflate; server_no_context_takeover'), { serverNoContextTakeover: false }), null);
    assert.deepEqual(
      acceptDeflateOffer(offers('permessage-deflate; server_no_context_takeover, permessage-deflate'), { serverNoContextTakeover: false }),
      { params: DEFAULTS, response: 'permessage-deflate' },
    );
    // Without the option the request is granted.
    assert.deepEqual(acceptDeflateOffer(offers('permessage-deflate; server_no_context_takeover'), {}), {
      params: { ...DEFAULTS, serverNoContextTakeover: true },
      response: 'permessage-deflate; server_no_context_takeover',
    });
  });

  test('option clientNoContextTakeover: true is imposed even when not requested; a request is granted', () => {
    assert.deepEqual(acceptDeflateOffer(offers('permessage-deflate'), { clientNoContextTakeover: true }), {
      params: { ...DEFAULTS, clientNoContextTakeover: true },
      response: 'permessage-deflate; client_no_context_takeover',
    });
    assert.deepEqual(acceptDeflateOffer(offers('permessage-deflate; client_no_context_takeover'), {}), {
      params: { ...DEFAULTS, clientNoContextTakeover: true },
      response: 'permessage-deflate; client_no_context_takeover',
    });
  });

  test('option serverMaxWindowBits: a number is announced; false declines offers that limit it', () => {
    assert.deepEqual(acceptDeflateOffer(offers('permessage-deflate'), { serverMaxWindowBits: 10 }), {
      params: { ...DEFAULTS, serverMaxWindowBits: 10 },
      response: 'permessage-deflate; server_max_window_bits=10',
    });
    // 8 cannot be produced by zlib: 9 is announced instead.
    assert.equal(acceptDeflateOffer(offers('permessage-deflate'), { serverMaxWindowBits: 8 })?.response, 'permessage-deflate; server_max_window_bits=9');
    assert.equal(acceptDeflateOffer(offers('permessage-deflate; server_max_window_bits=10'), { serverMaxWindowBits: false }), null);
    assert.deepEqual(acceptDeflateOffer(offers('permessage-deflate'), { serverMaxWindowBits: false }), { params: DEFAULTS, response: 'permessage-deflate' });
  });

  test('option clientMaxWindowBits: a number needs client_max_window_bits in the offer and is announced', () => {
    assert.equal(acceptDeflateOffer(offers('permessage-deflate'), { clientMaxWindowBits: 10 }), null);
    assert.deepEqual(acceptDeflateOffer(offers('permessage-deflate; client_max_window_bits'), { clientMaxWindowBits: 10 }), {
      params: { ...DEFAULTS, clientMaxWindowBits: 10 },
      response: 'permessage-deflate; client_max_window_bits=10',
    });
    // The client asked for less: the smaller of both.
    assert.deepEqual(acceptDeflateOffer(offers('permessage-deflate; client_max_window_bits=9'), { clientMaxWindowBits: 12 }), {
      params: { ...DEFAULTS, clientMaxWindowBits: 9 },
      response: 'permessage-deflate; client_max_window_bits=9',
    });
    // The first offer without the parameter is skipped for the second.
    assert.equal(
      acceptDeflateOffer(offers('permessage-deflate, permessage-deflate; client_max_window_bits'), { clientMaxWindowBits: 11 })?.response,
      'permessage-deflate; client_max_window_bits=11',
    );
  });

  test("a client that limits its own window: the server records it (and need not answer it)", () => {
    const r = acceptDeflateOffer(offers('permessage-deflate; client_max_window_bits=10'), {});
    assert.deepEqual(r?.params, { ...DEFAULTS, clientMaxWindowBits: 10 });
    assert.equal(r?.response, 'permessage-deflate');
  });

  test('all options at once are reflected in the answer', () => {
    const r = acceptDeflateOffer(offers('permessage-deflate; client_max_window_bits'), {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 11,
      clientMaxWindowBits: 12,
    });
    assert.deepEqual(r, {
      params: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 11, clientMaxWindowBits: 12 },
      response: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=12',
    });
  });

  test('the answer is itself a valid answer for the client-side check', () => {
    const r = acceptDeflateOffer(offers('permessage-deflate; client_max_window_bits'), { serverNoContextTakeover: true, clientMaxWindowBits: 12 })!;
    const answer = parseExtensions(r.response);
    assert.ok(answer);
    assert.deepEqual(acceptDeflateAnswer(answer, {}), r.params);
  });
});

describe('deflateOffer (client side)', () => {
  test('by default: client_max_window_bits without a value (as browsers offer)', () => {
    assert.equal(deflateOffer({}), 'permessage-deflate; client_max_window_bits');
    assert.equal(deflateOffer({ clientMaxWindowBits: true }), 'permessage-deflate; client_max_window_bits');
  });

  test('clientMaxWindowBits: false leaves the parameter out', () => {
    assert.equal(deflateOffer({ clientMaxWindowBits: false }), 'permessage-deflate');
  });

  test('every option, in the RFC order', () => {
    assert.equal(
      deflateOffer({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  test('clientMaxWindowBits: 8 is offered as 9 (zlib cannot compress with an 8-bit window), and a server echoing 9 is accepted', () => {
    assert.equal(deflateOffer({ clientMaxWindowBits: 8 }), 'permessage-deflate; client_max_window_bits=9');
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate; client_max_window_bits=9'), { clientMaxWindowBits: 8 }), { ...DEFAULTS, clientMaxWindowBits: 9 });
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate'), { clientMaxWindowBits: 8 }), { ...DEFAULTS, clientMaxWindowBits: 9 });
  });

  test('options that only matter locally do not appear', () => {
    assert.equal(
      deflateOffer({ threshold: 0, concurrencyLimit: 2, zlibDeflateOptions: { level: 1 }, zlibInflateOptions: {}, serverMaxWindowBits: true, serverNoContextTakeover: false }),
      'permessage-deflate; client_max_window_bits',
    );
  });

  test('the offer parses and a server accepts it', () => {
    for (const o of [{}, { clientMaxWindowBits: false }, { serverNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10 }] as PerMessageDeflateOptions[]) {
      const parsed = parseExtensions(deflateOffer(o));
      assert.ok(parsed, deflateOffer(o));
      assert.doesNotThrow(() => parseDeflateParams(parsed[0]!, false));
      assert.ok(acceptDeflateOffer(parsed, {}), `a default server accepts ${deflateOffer(o)}`);
    }
  });
});

describe('acceptDeflateAnswer (client side)', () => {
  test('a plain answer: default parameters', () => {
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate'), {}), DEFAULTS);
  });

  test('the answer parameters become the agreed parameters', () => {
    assert.deepEqual(
      acceptDeflateAnswer(offers('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11'), {}),
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
    );
  });

  test('the server may add server_no_context_takeover or server_max_window_bits unasked', () => {
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate; server_no_context_takeover'), {}), { ...DEFAULTS, serverNoContextTakeover: true });
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate; server_max_window_bits=8'), {}), { ...DEFAULTS, serverMaxWindowBits: 8 });
  });

  test('the client keeps its own clientNoContextTakeover even when the server does not echo it', () => {
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate'), { clientNoContextTakeover: true }), { ...DEFAULTS, clientNoContextTakeover: true });
  });

  test('a client that offered client_max_window_bits=N compresses with N when the answer omits it', () => {
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate'), { clientMaxWindowBits: 10 }), { ...DEFAULTS, clientMaxWindowBits: 10 });
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate; client_max_window_bits=9'), { clientMaxWindowBits: 10 }), { ...DEFAULTS, clientMaxWindowBits: 9 });
  });

  test('rejects unknown and duplicated parameters', () => {
    answerThrows('permessage-deflate; foo', {}, /Unknown parameter foo/);
    answerThrows('permessage-deflate; foo=bar', {}, /Unknown parameter foo/);
    answerThrows('permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, /more than once/);
    answerThrows('permessage-deflate; client_max_window_bits=10; client_max_window_bits=10', {}, /more than once/);
  });

  test('rejects invalid values', () => {
    answerThrows('permessage-deflate; server_max_window_bits=16', {}, /Invalid value/);
    answerThrows('permessage-deflate; server_max_window_bits=7', {}, /Invalid value/);
    answerThrows('permessage-deflate; server_max_window_bits=abc', {}, /Invalid value/);
    answerThrows('permessage-deflate; client_no_context_takeover=1', {}, /must not have a value/);
    answerThrows('permessage-deflate; server_max_window_bits', {}, /needs a value/);
  });

  test('rejects client_max_window_bits without a value in an answer', () => {
    answerThrows('permessage-deflate; client_max_window_bits', {}, /client_max_window_bits needs a value/);
  });

  test('rejects an extension that was not offered', () => {
    answerThrows('x-webkit-deflate-frame', {}, /not offered: x-webkit-deflate-frame/);
    answerThrows('permessage-bzip2', {}, /not offered/);
  });

  test('rejects two extensions (even twice permessage-deflate)', () => {
    answerThrows('permessage-deflate, permessage-deflate', {}, /more than one extension/);
    answerThrows('permessage-deflate, x-foo', {}, /more than one extension/);
  });

  test('rejects client_max_window_bits when the offer did not have it', () => {
    answerThrows('permessage-deflate; client_max_window_bits=15', { clientMaxWindowBits: false }, /client_max_window_bits, which was not offered/);
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate'), { clientMaxWindowBits: false }), DEFAULTS);
  });

  test('rejects client_max_window_bits above the offered value', () => {
    answerThrows('permessage-deflate; client_max_window_bits=11', { clientMaxWindowBits: 10 }, /above the offered value/);
  });

  test('rejects client_max_window_bits=8 (zlib cannot compress with an 8-bit window)', () => {
    answerThrows('permessage-deflate; client_max_window_bits=8', {}, /client_max_window_bits=8/);
  });

  test('rejects a server that ignored a requested server_no_context_takeover', () => {
    answerThrows('permessage-deflate', { serverNoContextTakeover: true }, /ignored the server_no_context_takeover request/);
    answerThrows('permessage-deflate; client_no_context_takeover', { serverNoContextTakeover: true }, /server_no_context_takeover/);
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate; server_no_context_takeover'), { serverNoContextTakeover: true }), {
      ...DEFAULTS,
      serverNoContextTakeover: true,
    });
  });

  test('rejects a server that ignored or exceeded a requested server_max_window_bits', () => {
    answerThrows('permessage-deflate', { serverMaxWindowBits: 10 }, /ignored the server_max_window_bits request/);
    answerThrows('permessage-deflate; server_max_window_bits=11', { serverMaxWindowBits: 10 }, /server_max_window_bits/);
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate; server_max_window_bits=10'), { serverMaxWindowBits: 10 }), { ...DEFAULTS, serverMaxWindowBits: 10 });
    assert.deepEqual(acceptDeflateAnswer(offers('permessage-deflate; server_max_window_bits=9'), { serverMaxWindowBits: 10 }), { ...DEFAULTS, serverMaxWindowBits: 9 });
  });
});

describe('offer -> server answer -> client check: both sides agree', () => {
  const bits = fc.constantFrom<number | boolean | undefined>(undefined, true, false, 8, 9, 10, 11, 12, 13, 14, 15);
  const flag = fc.constantFrom<boolean | undefined>(undefined, true, false);
  const options = fc.record(
    { serverNoContextTakeover: flag, clientNoContextTakeover: flag, serverMaxWindowBits: bits, clientMaxWindowBits: bits },
    { requiredKeys: [] },
  ) as fc.Arbitrary<PerMessageDeflateOptions>;

  test('whenever the server accepts, the client accepts the answer and computes the same parameters', () => {
    let accepted = 0;
    fc.assert(
      fc.property(options, options, (client, server) => {
        const offer = deflateOffer(client);
        const result = acceptDeflateOffer(offers(offer), server);
        if (result === null) return;
        accepted++;
        const answer = parseExtensions(result.response);
        assert.ok(answer, `answer ${result.response} must parse`);
        let agreed: DeflateParams | undefined;
        try {
          agreed = acceptDeflateAnswer(answer, client);
        } catch (e) {
          // The one answer a client may refuse: an 8-bit window imposed on it (see above).
          assert.match((e as Error).message, /client_max_window_bits=8/, `offer ${offer}, answer ${result.response}`);
          assert.equal(server.clientMaxWindowBits, 8);
          return;
        }
        assert.deepEqual(agreed, result.params, `offer ${offer}, server ${JSON.stringify(server)}, answer ${result.response}`);
        // Neither side ever compresses with a window it cannot produce, nor above what the other allowed.
        assert.ok(result.params.serverMaxWindowBits >= 9 && result.params.serverMaxWindowBits <= 15);
        if (typeof client.serverMaxWindowBits === 'number') assert.ok(result.params.serverMaxWindowBits <= Math.max(9, client.serverMaxWindowBits));
        if (typeof client.clientMaxWindowBits === 'number') assert.ok(agreed.clientMaxWindowBits <= Math.max(9, client.clientMaxWindowBits));
        assert.ok(agreed.clientMaxWindowBits >= 9, 'the client never compresses with an 8-bit window');
        if (client.serverNoContextTakeover) assert.equal(agreed.serverNoContextTakeover, true);
        if (server.serverNoContextTakeover === true) assert.equal(agreed.serverNoContextTakeover, true);
        if (server.clientNoContextTakeover === true || client.clientNoContextTakeover === true) assert.equal(agreed.clientNoContextTakeover, true);
      }),
      { numRuns: 2000, seed: 7692 },
    );
    assert.ok(accepted > 100, `only ${accepted} of 2000 combinations were accepted`);
  });
});
