import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  acceptResponse,
  acceptResponseLines,
  checkUpgradeResponse,
  computeAcceptKey,
  errorResponse,
  HANDSHAKE_GUID,
  HandshakeError,
  hasToken,
  parseProtocolList,
  validateUpgradeRequest,
  type UpgradeOffer,
  type UpgradeRequest,
} from '../../packages/switchboard/src/protocol/index.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function request(headers: Record<string, string | string[] | undefined> = {}, extra: Partial<UpgradeRequest> = {}): UpgradeRequest {
  const base: Record<string, string | string[] | undefined> = {
    host: 'example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': KEY,
    'sec-websocket-version': '13',
  };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return { method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, headers: base, ...extra };
}

function rejects(req: UpgradeRequest, code: string, status: number, headers: Record<string, string> = {}): HandshakeError {
  let caught: unknown;
  try {
    validateUpgradeRequest(req);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError, got ${String(caught)}`);
  assert.equal(caught.name, 'HandshakeError');
  assert.equal(caught.code, code);
  assert.equal(caught.status, status);
  assert.deepEqual(caught.headers, headers);
  assert.ok(caught.message.length > 0);
  return caught;
}

describe('validateUpgradeRequest: refusals', () => {
  test('POST is WS_ERR_INVALID_METHOD / 405 with Allow: GET', () => {
    rejects(request({}, { method: 'POST' }), 'WS_ERR_INVALID_METHOD', 405, { Allow: 'GET' });
    rejects(request({}, { method: 'HEAD' }), 'WS_ERR_INVALID_METHOD', 405, { Allow: 'GET' });
  });

  test('HTTP/1.0 (and 0.9) is WS_ERR_INVALID_HTTP_VERSION / 400', () => {
    rejects(request({}, { httpVersionMajor: 1, httpVersionMinor: 0 }), 'WS_ERR_INVALID_HTTP_VERSION', 400);
    rejects(request({}, { httpVersionMajor: 0, httpVersionMinor: 9 }), 'WS_ERR_INVALID_HTTP_VERSION', 400);
  });

  test('missing or empty Host is WS_ERR_MISSING_HOST / 400', () => {
    rejects(request({ host: undefined }), 'WS_ERR_MISSING_HOST', 400);
    rejects(request({ host: '' }), 'WS_ERR_MISSING_HOST', 400);
  });

  test('missing or wrong Upgrade is WS_ERR_INVALID_UPGRADE_HEADER / 400', () => {
    rejects(request({ upgrade: undefined }), 'WS_ERR_INVALID_UPGRADE_HEADER', 400);
    rejects(request({ upgrade: 'h2c' }), 'WS_ERR_INVALID_UPGRADE_HEADER', 400);
    rejects(request({ upgrade: 'websockets' }), 'WS_ERR_INVALID_UPGRADE_HEADER', 400);
    rejects(request({ upgrade: '' }), 'WS_ERR_INVALID_UPGRADE_HEADER', 400);
  });

  test('Connection without the upgrade token is WS_ERR_INVALID_CONNECTION_HEADER / 400', () => {
    rejects(request({ connection: undefined }), 'WS_ERR_INVALID_CONNECTION_HEADER', 400);
    rejects(request({ connection: 'keep-alive' }), 'WS_ERR_INVALID_CONNECTION_HEADER', 400);
    rejects(request({ connection: 'upgraded, close' }), 'WS_ERR_INVALID_CONNECTION_HEADER', 400);
    rejects(request({ connection: 'keep-alive upgrade' }), 'WS_ERR_INVALID_CONNECTION_HEADER', 400);
  });

  test('missing, invalid or 15-byte Sec-WebSocket-Key is WS_ERR_INVALID_KEY / 400', () => {
    rejects(request({ 'sec-websocket-key': undefined }), 'WS_ERR_INVALID_KEY', 400);
    rejects(request({ 'sec-websocket-key': '' }), 'WS_ERR_INVALID_KEY', 400);
    rejects(request({ 'sec-websocket-key': 'not base64 at all!!!!!==' }), 'WS_ERR_INVALID_KEY', 400);
    rejects(request({ 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ' }), 'WS_ERR_INVALID_KEY', 400); // no padding
    rejects(request({ 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZSE=' }), 'WS_ERR_INVALID_KEY', 400); // 17 bytes
    const fifteen = Buffer.alloc(15, 1).toString('base64');
    assert.equal(fifteen.length, 20);
    rejects(request({ 'sec-websocket-key': fifteen }), 'WS_ERR_INVALID_KEY', 400);
    const seventeen = Buffer.alloc(17, 1).toString('base64');
    rejects(request({ 'sec-websocket-key': seventeen }), 'WS_ERR_INVALID_KEY', 400);
  });

  test('a duplicated key (joined as "a, b" or given as an array) is WS_ERR_INVALID_KEY / 400', () => {
    const other = 'AAAAAAAAAAAAAAAAAAAAAA==';
    rejects(request({ 'sec-websocket-key': `${KEY}, ${other}` }), 'WS_ERR_INVALID_KEY', 400);
    rejects(request({ 'sec-websocket-key': [KEY, other] }), 'WS_ERR_INVALID_KEY', 400);
    rejects(request({ 'sec-websocket-key': [KEY, KEY] }), 'WS_ERR_INVALID_KEY', 400);
  });

  test('unsupported or missing version is WS_ERR_INVALID_VERSION / 426 with Sec-WebSocket-Version: 13', () => {
    const h = { 'Sec-WebSocket-Version': '13' };
    rejects(request({ 'sec-websocket-version': '99' }), 'WS_ERR_INVALID_VERSION', 426, h);
    rejects(request({ 'sec-websocket-version': undefined }), 'WS_ERR_INVALID_VERSION', 426, h);
    rejects(request({ 'sec-websocket-version': '8' }), 'WS_ERR_INVALID_VERSION', 426, h);
    rejects(request({ 'sec-websocket-version': '' }), 'WS_ERR_INVALID_VERSION', 426, h);
    rejects(request({ 'sec-websocket-version': 'thirteen' }), 'WS_ERR_INVALID_VERSION', 426, h);
    rejects(request({ 'sec-websocket-version': '13, 8' }), 'WS_ERR_INVALID_VERSION', 426, h);
    rejects(request({ 'sec-websocket-version': ['13', '13'] }), 'WS_ERR_INVALID_VERSION', 426, h);
  });

  test('a version that only converts to 13 (not the token "13") is refused', () => {
    const h = { 'Sec-WebSocket-Version': '13' };
    for (const v of ['0x0d', '13.0', '+13', '013', '1.3e1']) {
      rejects(request({ 'sec-websocket-version': v }), 'WS_ERR_INVALID_VERSION', 426, h);
    }
  });

  test('invalid or duplicated subprotocols are WS_ERR_INVALID_PROTOCOL_HEADER / 400', () => {
    for (const value of ['chat, chat', 'a b', 'chat,', ',chat', '', 'ch@t', 'chat; v=1', 'a, b, a', '"chat"']) {
      rejects(request({ 'sec-websocket-protocol': value }), 'WS_ERR_INVALID_PROTOCOL_HEADER', 400);
    }
    rejects(request({ 'sec-websocket-protocol': ['chat', 'chat'] }), 'WS_ERR_INVALID_PROTOCOL_HEADER', 400);
  });

  test('the first broken rule is the one reported', () => {
    // POST + HTTP/1.0 + no host: the method comes first.
    rejects(request({ host: undefined }, { method: 'POST', httpVersionMinor: 0 }), 'WS_ERR_INVALID_METHOD', 405, { Allow: 'GET' });
    // Bad key and bad version: the key comes first.
    rejects(request({ 'sec-websocket-key': 'x', 'sec-websocket-version': '7' }), 'WS_ERR_INVALID_KEY', 400);
  });
});

describe('validateUpgradeRequest: accepted variants', () => {
  test('a minimal valid request', () => {
    const result = validateUpgradeRequest(request());
    assert.deepEqual(result, { key: KEY, version: 13, protocols: new Set(), extensions: undefined });
  });

  test('case-insensitive tokens and "keep-alive, Upgrade"', () => {
    for (const [upgrade, connection] of [
      ['WebSocket', 'keep-alive, Upgrade'],
      ['WEBSOCKET', 'UPGRADE'],
      ['websocket', 'upgrade'],
      ['websocket', 'Upgrade, keep-alive'],
      ['websocket', ' keep-alive ,  upgrade '],
      ['h2c, websocket', 'Upgrade'],
    ]) {
      assert.equal(validateUpgradeRequest(request({ upgrade, connection })).key, KEY, `${upgrade} / ${connection}`);
    }
  });

  test('method and HTTP version may be absent; HTTP/2+ versions pass the version rule', () => {
    assert.equal(validateUpgradeRequest({ headers: request().headers }).version, 13);
    assert.equal(validateUpgradeRequest(request({}, { httpVersionMajor: 2, httpVersionMinor: 0 })).version, 13);
  });

  test('key and version are trimmed', () => {
    const r = validateUpgradeRequest(request({ 'sec-websocket-key': `  ${KEY} `, 'sec-websocket-version': ' 13 ' }));
    assert.equal(r.key, KEY);
    assert.equal(r.version, 13);
  });

  test('subprotocols in order, and the raw extensions offer', () => {
    const r = validateUpgradeRequest(
      request({ 'sec-websocket-protocol': 'v2.chat, superchat ,x-1', 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' }),
    );
    assert.deepEqual([...r.protocols], ['v2.chat', 'superchat', 'x-1']);
    assert.equal(r.extensions, 'permessage-deflate; client_max_window_bits');
    // Repeated headers are joined.
    const joined = validateUpgradeRequest(request({ 'sec-websocket-protocol': ['a', 'b'] }));
    assert.deepEqual([...joined.protocols], ['a', 'b']);
  });
});

describe('handshake helpers', () => {
  test('computeAcceptKey matches the RFC 6455 example', () => {
    // RFC 6455 section 1.3: SHA-1 = b3 7a 4f 2c c0 62 4f 16 90 f6 46 06 cf 38 59 45 b2 be c4 ea,
    // base64 "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
    assert.equal(computeAcceptKey(KEY), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    assert.equal(Buffer.from(computeAcceptKey(KEY), 'base64').toString('hex'), 'b37a4f2cc0624f1690f64606cf385945b2bec4ea');
    assert.equal(HANDSHAKE_GUID, '258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
    const other = 'x3JJHMbDL1EzLkh9GBhXDw==';
    assert.equal(computeAcceptKey(other), createHash('sha1').update(other + HANDSHAKE_GUID).digest('base64'));
    assert.equal(computeAcceptKey(other), 'HSmrc0sMlYUkAGmm5OPpG2HaGWk=');
  });

  test('acceptResponseLines', () => {
    assert.deepEqual(acceptResponseLines(KEY, undefined, undefined), [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    ]);
    assert.deepEqual(acceptResponseLines(KEY, 'chat', 'permessage-deflate').slice(4), [
      'Sec-WebSocket-Protocol: chat',
      'Sec-WebSocket-Extensions: permessage-deflate',
    ]);
  });

  test('acceptResponse is the lines of acceptResponseLines joined, ending with the blank line', () => {
    for (const [protocol, extensions] of [[undefined, undefined], ['chat', undefined], [undefined, 'permessage-deflate'], ['chat', 'permessage-deflate']] as const) {
      assert.equal(acceptResponse(KEY, protocol, extensions), `${acceptResponseLines(KEY, protocol, extensions).join('\r\n')}\r\n\r\n`);
    }
  });

  test('errorResponse', () => {
    const res = errorResponse(426, 'Unsupported version é', { 'Sec-WebSocket-Version': '13' });
    const [head, body] = res.split('\r\n\r\n');
    assert.equal(body, 'Unsupported version é');
    const lines = head!.split('\r\n');
    assert.equal(lines[0], 'HTTP/1.1 426 Upgrade Required');
    assert.ok(lines.includes('Connection: close'));
    assert.ok(lines.includes(`Content-Length: ${Buffer.byteLength('Unsupported version é')}`));
    assert.ok(lines.includes('Content-Length: 22'));
    assert.ok(lines.includes('Sec-WebSocket-Version: 13'));
    assert.equal(errorResponse(400, ''), 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n\r\nBad Request');
    assert.ok(errorResponse(599, 'x').startsWith('HTTP/1.1 599 Error\r\n'));
  });

  test('hasToken', () => {
    assert.equal(hasToken(undefined, 'upgrade'), false);
    assert.equal(hasToken('Upgrade', 'upgrade'), true);
    assert.equal(hasToken('keep-alive,upgrade', 'upgrade'), true);
    assert.equal(hasToken('keep-alive, upgraded', 'upgrade'), false);
    assert.equal(hasToken('', 'upgrade'), false);
  });

  test('parseProtocolList', () => {
    assert.deepEqual([...parseProtocolList('a,b , c')], ['a', 'b', 'c']);
    assert.throws(() => parseProtocolList('a,,b'), (e: unknown) => e instanceof HandshakeError && e.code === 'WS_ERR_INVALID_PROTOCOL_HEADER' && e.status === 400);
    assert.throws(() => parseProtocolList('a, a'), (e: unknown) => e instanceof HandshakeError && e.status === 400);
  });
});

describe('checkUpgradeResponse: the client checks the server\'s answer (RFC 6455 section 4.1)', () => {
  const offer: UpgradeOffer = { key: KEY, protocols: [], perMessageDeflate: null };
  // RFC 6455 section 1.3's example key and accept value.
  const answer = (headers: Record<string, string | string[] | undefined> = {}, status = 101) => {
    const base: Record<string, string | string[] | undefined> = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' };
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) delete base[name];
      else base[name] = value;
    }
    return { status, headers: base };
  };
  function refuses(response: ReturnType<typeof answer>, code: string, message: RegExp, withOffer: UpgradeOffer = offer): void {
    assert.throws(
      () => checkUpgradeResponse(response, withOffer),
      (error: unknown) => error instanceof HandshakeError && error.code === code && error.status === response.status && message.test(error.message),
    );
  }

  test('a correct answer gives the agreed subprotocol and extensions', () => {
    assert.deepEqual(checkUpgradeResponse(answer(), offer), { protocol: '', extensions: '', deflate: null });
    const chosen = checkUpgradeResponse(answer({ 'sec-websocket-protocol': ' chat ', connection: 'keep-alive, Upgrade', upgrade: 'WebSocket' }), {
      ...offer,
      protocols: ['superchat', 'chat'],
    });
    assert.equal(chosen.protocol, 'chat');
  });

  test('permessage-deflate: the answer to our offer is accepted with its parameters', () => {
    const header = 'permessage-deflate; server_no_context_takeover; client_max_window_bits=10';
    const accepted = checkUpgradeResponse(answer({ 'sec-websocket-extensions': header }), { ...offer, perMessageDeflate: {} });
    assert.equal(accepted.extensions, header);
    assert.deepEqual(accepted.deflate, { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 10 });
  });

  test('a status other than 101', () => refuses(answer({}, 200), 'WS_ERR_UNEXPECTED_RESPONSE', /Unexpected server response: 200/));
  test('Upgrade missing or not websocket', () => {
    refuses(answer({ upgrade: undefined }), 'WS_ERR_INVALID_UPGRADE_HEADER', /Upgrade/);
    refuses(answer({ upgrade: 'h2c' }), 'WS_ERR_INVALID_UPGRADE_HEADER', /Upgrade/);
  });
  test('Connection without the Upgrade token', () => refuses(answer({ connection: 'keep-alive' }), 'WS_ERR_INVALID_CONNECTION_HEADER', /Connection/));
  test('Sec-WebSocket-Accept missing or not the key\'s', () => {
    refuses(answer({ 'sec-websocket-accept': undefined }), 'WS_ERR_INVALID_ACCEPT', /^Invalid Sec-WebSocket-Accept header$/);
    refuses(answer({ 'sec-websocket-accept': computeAcceptKey('AAAAAAAAAAAAAAAAAAAAAA==') }), 'WS_ERR_INVALID_ACCEPT', /Invalid/);
  });
  test('a subprotocol that was not offered', () => {
    refuses(answer({ 'sec-websocket-protocol': 'chat' }), 'WS_ERR_INVALID_SUBPROTOCOL', /none was requested/);
    refuses(answer({ 'sec-websocket-protocol': 'other' }), 'WS_ERR_INVALID_SUBPROTOCOL', /^Server sent an invalid subprotocol$/, { ...offer, protocols: ['chat'] });
    refuses(answer({ 'sec-websocket-protocol': ['chat', 'chat'] }), 'WS_ERR_INVALID_SUBPROTOCOL', /invalid subprotocol/, { ...offer, protocols: ['chat'] });
  });
  test('an extension that was not offered, a malformed header, an unacceptable deflate answer', () => {
    refuses(answer({ 'sec-websocket-extensions': 'permessage-deflate' }), 'WS_ERR_INVALID_EXTENSION', /^Server sent a Sec-WebSocket-Extensions header but no extension was requested$/);
    const deflate = { ...offer, perMessageDeflate: {} };
    refuses(answer({ 'sec-websocket-extensions': 'permessage-deflate; ;' }), 'WS_ERR_INVALID_EXTENSION', /Invalid Sec-WebSocket-Extensions/, deflate);
    refuses(answer({ 'sec-websocket-extensions': 'permessage-deflate; server_max_window_bits=99' }), 'WS_ERR_INVALID_EXTENSION', /^Invalid Sec-WebSocket-Extensions header$/, deflate);
    refuses(answer({ 'sec-websocket-extensions': 'foo' }), 'WS_ERR_INVALID_EXTENSION', /^Server indicated an extension that was not requested$/, deflate);
    refuses(answer({ 'sec-websocket-extensions': 'permessage-deflate, foo' }), 'WS_ERR_INVALID_EXTENSION', /^Server indicated an extension that was not requested$/, deflate);
  });
});
