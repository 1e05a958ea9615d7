// `switchboard connect --http2`: the WebSocket rides an HTTP/2 stream (RFC 8441)
// to a server that offers it, and HTTP/1.1 without the flag.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, describe, test } from 'node:test';
import { WebSocketServer, type WebSocket } from '../../packages/switchboard/src/index.js';
import { onceEvent } from '../helpers/async.js';
import { portOf } from '../helpers/h2.js';
import { selfSignedCert } from '../helpers/tls.js';
import { assertBuilt, runCli, stopAll } from './helpers.js';

after(stopAll);

describe('switchboard connect --http2', { timeout: 60_000 }, () => {
  test('sends over an HTTP/2 stream with --http2, over HTTP/1.1 without', async (t) => {
    assertBuilt();
    const { key, cert } = selfSignedCert();
    const server = http2.createSecureServer({ key, cert, allowHTTP1: true });
    const wss = new WebSocketServer({ server });
    const seen: Array<[string, string]> = [];
    wss.on('connection', (ws: WebSocket, req: { httpVersion: string }) => {
      ws.on('message', (data) => {
        seen.push([req.httpVersion, String(data)]);
        ws.send(`echo ${String(data)}`);
      });
    });
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on('session', (s) => sessions.add(s));
    server.listen(0, '127.0.0.1');
    await onceEvent(server, 'listening');
    t.after(async () => {
      wss.close();
      for (const s of sessions) s.destroy();
      await new Promise((r) => server.close(r));
    });
    const url = `wss://127.0.0.1:${portOf(server)}/`;
    const overH2 = await runCli(['connect', '--http2', '--insecure', '-x', 'hello', url], { timeoutMs: 20_000 });
    assert.equal(overH2.code, 0, overH2.stderr);
    const plain = await runCli(['connect', '--insecure', '-x', 'plain', url], { timeoutMs: 20_000 });
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(seen, [['2.0', 'hello'], ['1.1', 'plain']]);
    assert.match(overH2.stdout, /echo hello/);
  });
});
