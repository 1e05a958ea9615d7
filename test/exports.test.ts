// The public surface, frozen (as python-websockets' test_exports.py does):
// the sorted export names of each entry point, ESM and CommonJS, are listed
// here exactly, so adding or removing one is a deliberate change of this file
// (and a CHANGELOG line). Loads dist/ by package self-reference, as a user would.
// Needs `npm run build` (npm test runs it in pretest).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from './helpers/env.js';

const requireFromRoot = createRequire(path.join(repoRoot, 'package.json'));

const ERRORS = ['SwitchboardError'];

const EXPORTS: Record<string, string[]> = {
  switchboard: [
    'CloseCode', 'CloseEvent', 'ErrorEvent', 'HandshakeError', 'MessageEvent', 'Opcode', 'ProtocolError', 'Server', ...ERRORS,
    'WebSocket', 'WebSocketError', 'WebSocketEvent', 'WebSocketServer', 'broadcast', 'createWebSocketStream', 'default', 'onWebSocketStreams', 'refuseStream', 'refuseUpgrade',
  ],
  'switchboard/protocol': [
    'CloseAction', 'CloseCode', 'ClosingHandshake', 'DEFAULT_MAX_FRAGMENTS', 'DEFAULT_MAX_PAYLOAD', 'DeflateNegotiationError', 'FrameParser', 'HANDSHAKE_GUID', 'HandshakeError',
    'MAX_CLOSE_REASON_BYTES', 'MAX_CONTROL_PAYLOAD', 'MAX_HEADER_FIELDS', 'MAX_HEADER_SIZE', 'MAX_HEAD_BYTES', 'Opcode', 'PERMESSAGE_DEFLATE',
    'ProtocolError', 'ReadyState', 'SIMD_BUFFER_SIZE', 'StreamingUtf8Validator', ...ERRORS, 'TOO_MANY_FIELDS', 'acceptDeflateAnswer', 'acceptDeflateOffer',
    'acceptResponse', 'acceptResponseLines', 'applyMask', 'checkUpgradeResponse', 'computeAcceptKey', 'copyMasked', 'deflateOffer', 'encodeClosePayload', 'encodeFrame',
    'encodeFrameHeader', 'errorResponse', 'findHeadEnd', 'formatExtension', 'frameHeaderSize', 'hasToken', 'isValidCloseCode', 'parseDeflateParams',
    'parseExtensions', 'parseProtocolList', 'parseRequestHead', 'simdMaskBuffer', 'validateUpgradeRequest', 'writeFrameHeader',
  ],
  'switchboard/hub': [
    'DEFAULT_LIMITS', 'HUB_EVENTS', 'Hub', 'HubCloseCode', 'HubConnection', 'HubError', 'InProcessAdapter', 'RESERVED_EVENTS', 'RoomOperator',
    'SUBPROTOCOL', ...ERRORS, 'TokenBucket', 'UserOperator', 'WireError', 'encodeMessage', 'parseClientMessage',
  ],
  'switchboard/client': ['HubClient', 'HubError', 'SUBPROTOCOL', ...ERRORS, 'connect'],
  'switchboard/wire': [
    'DEFAULT_HEARTBEAT', 'DEFAULT_MAX_JSON_DEPTH', 'DEFAULT_MAX_MESSAGE_SIZE', 'DEFAULT_MAX_ROOMS', 'DEFAULT_REQUEST_TIMEOUT', 'ERROR_CODES',
    'FINAL_CLOSE_CODES', 'HubCloseCode', 'HubError', 'MAX_NAME_LENGTH', 'MAX_NODE_URLS', 'MAX_NODE_URL_LENGTH', 'MAX_PREVIOUS_IDS', 'RESERVED_EVENTS', 'Requests',
    'SUBPROTOCOL', ...ERRORS, 'WireError', 'bytesOf', 'checkEventName', 'decodeBase64', 'encodeBase64', 'encodeMessage', 'errorMessage', 'isBase64', 'isBinary',
    'isId', 'isName', 'isNodeUrl', 'jsonDepthWithin', 'parseClientMessage', 'parseServerMessage',
  ],
};

/** require('switchboard') is ws's shape: the WebSocket class with the rest attached (and its readyState constants, as ws has). */
const CJS_ROOT = [...EXPORTS.switchboard!.filter((name) => name !== 'default'), 'CLOSED', 'CLOSING', 'CONNECTING', 'OPEN'];

const sorted = (names: Iterable<string>): string[] => [...names].sort();

describe('exports of each entry point', () => {
  test('dist/ is built', () => {
    assert.ok(existsSync(path.join(repoRoot, 'packages/switchboard/dist/cjs/index.cjs')), 'run `npm run build` first (`npm test` does it in pretest)');
  });

  for (const [entry, names] of Object.entries(EXPORTS)) {
    test(`import '${entry}'`, async () => {
      const module = (await import(entry)) as Record<string, unknown>;
      assert.deepEqual(sorted(Object.keys(module)), sorted(names));
    });

    if (entry !== 'switchboard') {
      test(`require('${entry}')`, () => {
        assert.deepEqual(sorted(Object.keys(requireFromRoot(entry) as object)), sorted(names.filter((name) => name !== 'default')));
      });
    }
  }

  test("require('switchboard') is the WebSocket class with the rest attached", () => {
    const api = requireFromRoot('switchboard') as Record<string, unknown> & (new (...args: never[]) => unknown);
    assert.equal(typeof api, 'function');
    assert.equal(api, api.WebSocket);
    assert.equal(api.Server, api.WebSocketServer);
    assert.deepEqual(sorted(Object.keys(api)), sorted(CJS_ROOT));
  });

  test('every entry point exports the same SwitchboardError class', async () => {
    const root = ((await import('switchboard')) as { SwitchboardError: unknown }).SwitchboardError;
    for (const entry of Object.keys(EXPORTS)) {
      assert.equal(((await import(entry)) as { SwitchboardError: unknown }).SwitchboardError, root, entry);
    }
  });
});
