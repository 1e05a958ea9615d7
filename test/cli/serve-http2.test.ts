// `switchboard serve --tls-cert --tls-key`: HTTP/2 and HTTP/1.1 on one port
// (RFC 8441 WebSocket streams and HTTP/1.1 upgrades), in echo, --exec and
// --hub mode; --no-http2 keeps HTTP/1.1 only. The server's JSON log says
// which way each WebSocket came (`"http": "2"`).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, describe, test } from 'node:test';
import { WebSocket } from '../../packages/switchboard/src/index.js';
import { HubClient } from '../../packages/switchboard/src/client/index.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { selfSignedCert } from '../helpers/tls.js';
import { assertBuilt, startServe, stopAll, type Served } from './helpers.js';

after(stopAll);

const T = { timeout: 60_000 };

function tlsArgs(): string[] {
  const { certPath, keyPath } = selfSignedCert();
  return ['--tls-cert', certPath, '--tls-key', keyPath];
}

/** The `connect` records of a --json log, in order. */
function connects(served: Served): Array<{ path: string; http?: string }> {
  return served.child.lines
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { event: string; path: string; http?: string })
    .filter((record) => record.event === 'connect');
}

async function echoOnce(url: string, options: { http2: boolean; protocol?: string }): Promise<string> {
  const ws = await WebSocket.connect(url, { http2: options.http2, rejectUnauthorized: false, ...(options.protocol ? { protocols: [options.protocol] } : {}) });
  const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
  ws.send('ping over the stream');
  const text = await withTimeout(reply, 10_000, 'the echo');
  ws.close(1000);
  await onceEvent(ws, 'close', 5000);
  return text;
}

/** An HTTP/2 request on a session of its own: its status and whether the answer had an Upgrade header. */
async function h2Get(port: number, path: string): Promise<{ status: number; upgrade: unknown; body: string }> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
  session.on('error', () => {});
  try {
    const req = session.request({ ':path': path });
    const [headers] = await onceEvent<[http2.IncomingHttpHeaders]>(req, 'response', 5000);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    await onceEvent(req, 'end', 5000);
    return { status: Number(headers[':status']), upgrade: headers.upgrade, body };
  } finally {
    session.destroy();
  }
}

describe('switchboard serve over HTTP/2 (--tls-cert/--tls-key)', T, () => {
  test('echo: a WebSocket stream and an HTTP/1.1 upgrade on the same port; the page over HTTP/2; SIGTERM closes both with 1001', async () => {
    assertBuilt();
    const served = await startServe(['--echo', '--json', ...tlsArgs()]);
    assert.match(served.url, /^wss:/);
    assert.equal(await echoOnce(served.url, { http2: true }), 'ping over the stream');
    assert.equal(await echoOnce(served.url, { http2: false }), 'ping over the stream');
    await served.child.waitFor(() => (connects(served).length === 2 ? true : undefined), 'two connect records');
    assert.deepEqual(connects(served).map((c) => c.http), ['2', undefined]);

    // Plain requests over HTTP/2: the page, and a 426 without the HTTP/1.1-only Upgrade header (RFC 9113 section 8.2.2).
    const page = await h2Get(served.port, '/');
    assert.equal(page.status, 200);
    assert.match(page.body, /<html/i);
    const other = await h2Get(served.port, '/not-a-page');
    assert.equal(other.status, 426);
    assert.equal(other.upgrade, undefined);

    // Shutdown with one client of each kind open: both get 1001, the process exits 0 by itself.
    const open = await Promise.all([true, false].map((h2) => WebSocket.connect(served.url, { http2: h2, rejectUnauthorized: false })));
    const codes = open.map((ws) => new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code))));
    const exit = await served.child.stop('SIGTERM', 10_000);
    assert.equal(exit.killed, false, served.child.describe());
    assert.equal(exit.code, 0, served.child.describe());
    assert.deepEqual(await withTimeout(Promise.all(codes), 5000, 'the close codes'), [1001, 1001]);
  });

  test('--no-http2: HTTP/1.1 only (the client asking for HTTP/2 falls back)', async () => {
    const served = await startServe(['--echo', '--json', '--no-http2', ...tlsArgs()]);
    assert.equal(await echoOnce(served.url, { http2: true }), 'ping over the stream');
    await served.child.waitFor(() => (connects(served).length === 1 ? true : undefined), 'the connect record');
    assert.equal(connects(served)[0]!.http, undefined);
    await served.child.stop('SIGTERM', 10_000);
  });

  test('--exec and --hub serve WebSocket streams too', async () => {
    const exec = await startServe(['--exec', `${process.execPath} -e process.stdin.pipe(process.stdout)`, '--json', ...tlsArgs()]);
    const ws = await WebSocket.connect(exec.url, { http2: true, rejectUnauthorized: false });
    const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
    ws.send('a line\n');
    assert.equal((await withTimeout(reply, 10_000, 'the program\'s line')).trim(), 'a line');
    ws.close(1000);
    await onceEvent(ws, 'close', 5000);
    assert.equal(connects(exec)[0]!.http, '2');
    await exec.child.stop('SIGTERM', 10_000);

    const hub = await startServe(['--hub', '--json', ...tlsArgs()]);
    // The hub's browser client, on a WebSocket class that asks for HTTP/2.
    class Http2WebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { http2: true, rejectUnauthorized: false });
      }
    }
    const member = new HubClient(`${hub.url}hub`, { WebSocket: Http2WebSocket, reconnect: false });
    try {
      await withTimeout(member.ready(), 10_000, 'the hub client');
      await member.join('lobby');
      await hub.child.waitFor(() => (connects(hub).length === 1 ? true : undefined), 'the hub\'s connect record', 10_000);
      assert.equal(connects(hub)[0]!.http, '2');
    } finally {
      member.close();
    }
    // A stream for a path the hub does not serve is refused with 400, as an upgrade is.
    await assert.rejects(WebSocket.connect(`${hub.url}elsewhere`, { http2: true, rejectUnauthorized: false }), /400/);
    const exit = await hub.child.stop('SIGTERM', 10_000);
    assert.equal(exit.code, 0, hub.child.describe());
  });
});
