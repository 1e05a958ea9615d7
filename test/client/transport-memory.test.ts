// The fallback transport remembered per URL (client/transport-memory.ts) for
// the page's lifetime: kept for the most recent 32 URLs, forgotten when a
// WebSocket works. (sessionStorage, across a reload: upgrade.chromium.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recallTransport, rememberTransport } from '../../packages/switchboard/src/client/transport-memory.js';

test('remembered per URL, bounded to the 32 most recent, forgotten when WebSocket works', () => {
  rememberTransport('wss://a/hub', 'sse');
  rememberTransport('wss://b/hub', 'polling');
  assert.equal(recallTransport('wss://a/hub'), 'sse');
  assert.equal(recallTransport('wss://b/hub'), 'polling');
  assert.equal(recallTransport('wss://c/hub'), undefined);
  rememberTransport('wss://a/hub', 'websocket');
  assert.equal(recallTransport('wss://a/hub'), undefined);
  for (let i = 0; i < 32; i++) rememberTransport(`wss://n${i}/hub`, 'sse');
  assert.equal(recallTransport('wss://b/hub'), undefined, 'the oldest URL was forgotten');
  assert.equal(recallTransport('wss://n0/hub'), 'sse');
  assert.equal(recallTransport('wss://n31/hub'), 'sse');
});
