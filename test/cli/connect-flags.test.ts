// `switchboard connect`'s wscat and websocat flags against real servers on
// 127.0.0.1: --wait -1 and long waits, raw binary in and out, URLs without a
// scheme, the TLS/plain hints, --auth, --proxy (a CONNECT proxy written
// here) and HTTP_PROXY, client certificates, -L, -v, keepalive pings and
// --reconnect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions, type WebSocket as WsSocket } from 'ws';
import { onceEvent } from '../helpers/async.js';
import { assertBuilt, CLI, cliEnv, runCli, spawnCli, stopAll, until } from './helpers.js';

const T = { timeout: 30_000 };

interface Conn {
  ws: WsSocket;
  req: IncomingMessage;
  messages: Array<{ data: Buffer; isBinary: boolean }>;
  pings: number;
  closed?: { code: number; reason: string };
}

interface Peer {
  wss: WebSocketServer;
  port: number;
  url: string;
  conns: Conn[];
}

const cleanups: Array<() => void> = [];

/** A ws server on 127.0.0.1 (or on `server`), recording its connections. */
async function peer(options: Omit<ServerOptions, 'port' | 'host'> = {}, onConnection: (ws: WsSocket, conn: Conn) => void = () => {}, scheme = 'ws'): Promise<Peer> {
  const external = options.server !== undefined || options.noServer === true;
  const wss = external ? new WebSocketServer(options) : new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  if (!external) await onceEvent(wss, 'listening');
  cleanups.push(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
  const address = (options.noServer ? { port: 0 } : options.server ? options.server.address() : wss.address()) as AddressInfo;
  const p: Peer = { wss, port: address.port, url: `${scheme}://127.0.0.1:${address.port}/`, conns: [] };
  wss.on('connection', (ws, req) => {
    const conn: Conn = { ws, req, messages: [], pings: 0 };
    p.conns.push(conn);
    ws.on('message', (data, isBinary) => conn.messages.push({ data: Buffer.from(data as Buffer), isBinary }));
    ws.on('ping', () => conn.pings++);
    ws.on('close', (code, reason) => (conn.closed = { code, reason: reason.toString() }));
    onConnection(ws, conn);
  });
  return p;
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await onceEvent(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections?.();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

let dir: string;
const file = (name: string): string => path.join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore', timeout: 20_000 });

describe('switchboard connect: wscat and websocat flags', { timeout: 300_000 }, () => {
  let echo: Peer;
  before(async () => {
    assertBuilt();
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-cli-flags-'));
    // A CA, a server certificate for 127.0.0.1 and a client certificate (its key also encrypted), signed by it.
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=test CA');
    for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
      openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${name}`);
      writeFileSync(file(`${name}.ext`), `${ext}\n`);
      openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file(`${name}.pem`), '-days', '2', '-extfile', file(`${name}.ext`));
    }
    openssl('pkey', '-in', file('client.key'), '-aes256', '-passout', 'pass:s3cret', '-out', file('client-encrypted.key'));
    echo = await peer({}, (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  });
  after(async () => {
    await stopAll();
    for (const cleanup of cleanups) cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('--wait -1 stays until the server closes; a wait past 24.8 days does not overflow into 1 ms', T, async () => {
    const late = await peer({}, (ws) => ws.on('message', () => setTimeout(() => (ws.send('late news'), ws.close(1000, 'done')), 1500)));
    const forever = await runCli(['connect', late.url, '-x', 'subscribe', '--wait', '-1']);
    assert.equal(forever.code, 0, forever.child.describe());
    assert.equal(forever.stdout, 'late news\n');
    assert.deepEqual(late.conns[0]!.closed, { code: 1000, reason: 'done' }, 'the server closed, not the client');

    const long = await runCli(['connect', late.url, '-x', 'subscribe', '--wait', '3000000']);
    assert.equal(long.code, 0, long.child.describe());
    assert.equal(long.stdout, 'late news\n');
    assert.doesNotMatch(long.stderr, /TimeoutOverflowWarning/);
    assert.deepEqual(late.conns[1]!.closed, { code: 1000, reason: 'done' });
  });

  test('--binary sends each line\'s raw bytes; --binary-file sends a file as one message; --binary-output base64 and raw', T, async () => {
    const raw = await runCli(['connect', echo.url, '--binary'], { stdin: Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0a, 0x41, 0x0a]) });
    assert.equal(raw.code, 0, raw.child.describe());
    assert.equal(raw.stdout, 'fffe0001\n41\n');
    const sent = echo.conns.at(-1)!.messages;
    assert.deepEqual(sent.map((m) => [m.data.toString('hex'), m.isBinary]), [['fffe0001', true], ['41', true]]);

    const bytes = Buffer.from([0x00, 0x0a, 0xff, 0x0a, 0x80, 0x7f]);
    writeFileSync(file('payload.bin'), bytes);
    const whole = await runCli(['connect', echo.url, '--binary-file', file('payload.bin'), '--binary-output', 'base64', '--wait', '0.3']);
    assert.equal(whole.code, 0, whole.child.describe());
    assert.equal(whole.stdout, `${bytes.toString('base64')}\n`);
    assert.deepEqual(echo.conns.at(-1)!.messages.map((m) => m.data.toString('hex')), [bytes.toString('hex')]);

    const fromStdin = await runCli(['connect', echo.url, '--binary-file', '-', '--binary-output', 'raw', '--wait', '0.3'], { stdin: bytes });
    assert.equal(fromStdin.code, 0, fromStdin.child.describe());
    // The harness decodes stdout as UTF-8: the raw bytes decode the same way, and nothing is added.
    assert.deepEqual(echo.conns.at(-1)!.messages.map((m) => m.data.toString('hex')), [bytes.toString('hex')]);
    assert.equal(fromStdin.stdout, bytes.toString('utf8'), 'raw output adds nothing: no newline, no hex');
  });

  test('a URL without a scheme gets ws:// (as wscat does)', T, async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const r = await runCli(['connect', `${host}:${echo.port}`, '-x', 'hi', '--wait', '0.3']);
      assert.equal(r.code, 0, `${host}: ${r.child.describe()}`);
      assert.equal(r.stdout, 'hi\n');
    }
  });

  test('one-line hints: ws:// to a TLS server, wss:// to a plain one', T, async () => {
    const https = createHttpsServer({ cert: readFileSync(file('server.pem')), key: readFileSync(file('server.key')) });
    const port = await listen(https);
    const wsToTls = await runCli(['connect', `ws://127.0.0.1:${port}/`, '-x', 'hi']);
    assert.equal(wsToTls.code, 1, wsToTls.child.describe());
    assert.match(wsToTls.stderr, /^switchboard: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: .* \(if the server speaks TLS, try wss:\/\/127\.0\.0\.1:\d+\/\)\n$/);

    const wssToPlain = await runCli(['connect', `wss://127.0.0.1:${echo.port}/`, '-x', 'hi']);
    assert.equal(wssToPlain.code, 1, wssToPlain.child.describe());
    assert.equal(wssToPlain.stderr, `switchboard: cannot connect to wss://127.0.0.1:${echo.port}/: the server does not speak TLS (try ws://127.0.0.1:${echo.port}/)\n`);
  });

  test('--auth sends HTTP Basic credentials', T, async () => {
    const r = await runCli(['connect', echo.url, '--auth', 'alice:pa:ss', '-x', 'hi', '--wait', '0']);
    assert.equal(r.code, 0, r.child.describe());
    assert.equal(echo.conns.at(-1)!.req.headers.authorization, `Basic ${Buffer.from('alice:pa:ss').toString('base64')}`);
  });

  test('--proxy and HTTP_PROXY go through an HTTP CONNECT proxy; a refusal is one line', T, async () => {
    const tunnels: string[] = [];
    const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
      tunnels.push(`${req.url} ${req.headers['proxy-authorization'] ?? ''}`.trim());
      if (req.url!.endsWith(':1')) {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      const [host, port] = req.url!.split(':');
      const upstream: Socket = netConnect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    const proxyPort = await listen(proxy);

    const viaFlag = await runCli(['connect', echo.url, '--proxy', `http://bob:pw@127.0.0.1:${proxyPort}`, '-x', 'through', '--wait', '0.3']);
    assert.equal(viaFlag.code, 0, viaFlag.child.describe());
    assert.equal(viaFlag.stdout, 'through\n');
    assert.deepEqual(tunnels, [`127.0.0.1:${echo.port} Basic ${Buffer.from('bob:pw').toString('base64')}`]);

    const env = cliEnv({ HTTP_PROXY: `127.0.0.1:${proxyPort}`, NO_PROXY: undefined, no_proxy: undefined });
    const viaEnv = await runCli(['connect', echo.url, '-x', 'env', '--wait', '0.3'], { env });
    assert.equal(viaEnv.code, 0, viaEnv.child.describe());
    assert.equal(tunnels.length, 2, 'HTTP_PROXY is used for ws://');
    const bypass = await runCli(['connect', echo.url, '--no-proxy', '-x', 'direct', '--wait', '0'], { env });
    assert.equal(bypass.code, 0, bypass.child.describe());
    assert.equal(tunnels.length, 2, '--no-proxy ignores HTTP_PROXY');

    const refused = await runCli(['connect', 'ws://127.0.0.1:1/', '--proxy', `127.0.0.1:${proxyPort}`, '-x', 'hi']);
    assert.equal(refused.code, 1, refused.child.describe());
    assert.equal(refused.stderr, `switchboard: proxy 127.0.0.1:${proxyPort} refused CONNECT 127.0.0.1:1: HTTP 403 Forbidden\n`);

    // wss:// through the tunnel, TLS end to end with the server.
    const https = createHttpsServer({ cert: readFileSync(file('server.pem')), key: readFileSync(file('server.key')) });
    await listen(https);
    const secure = await peer({ server: https }, (ws) => ws.on('message', (data) => ws.send(`tls ${data}`)), 'wss');
    const viaTls = await runCli(['connect', secure.url, '--proxy', `127.0.0.1:${proxyPort}`, '--ca', file('ca.pem'), '-x', 'hi', '--wait', '0.3']);
    assert.equal(viaTls.code, 0, viaTls.child.describe());
    assert.equal(viaTls.stdout, 'tls hi\n');

    // HTTPS_PROXY carries wss:// (HTTP_PROXY, pointing nowhere, is not used for it); NO_PROXY names hosts that go direct.
    const tunnelsBefore = tunnels.length;
    const secureEnv = cliEnv({ HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, HTTP_PROXY: 'http://127.0.0.1:1', NO_PROXY: undefined, no_proxy: undefined, https_proxy: undefined, http_proxy: undefined });
    const viaHttpsProxy = await runCli(['connect', secure.url, '--ca', file('ca.pem'), '-x', 'env tls', '--wait', '0.3'], { env: secureEnv });
    assert.equal(viaHttpsProxy.code, 0, viaHttpsProxy.child.describe());
    assert.equal(viaHttpsProxy.stdout, 'tls env tls\n');
    assert.deepEqual(tunnels.slice(tunnelsBefore), [`127.0.0.1:${secure.port}`], 'HTTPS_PROXY tunnelled the wss:// connection');
    for (const noProxy of ['127.0.0.1', 'example.test, 127.0.0.1:443', '*']) {
      const direct = await runCli(['connect', secure.url, '--ca', file('ca.pem'), '-x', 'direct', '--wait', '0.3'], { env: { ...secureEnv, NO_PROXY: noProxy } });
      assert.equal(direct.code, 0, `NO_PROXY=${noProxy}: ${direct.child.describe()}`);
      assert.equal(tunnels.length, tunnelsBefore + 1, `NO_PROXY=${noProxy} goes direct`);
    }
    const notExcluded = await runCli(['connect', secure.url, '--ca', file('ca.pem'), '-x', 'again', '--wait', '0.3'], { env: { ...secureEnv, NO_PROXY: 'example.test,.127.0.0.2' } });
    assert.equal(notExcluded.code, 0, notExcluded.child.describe());
    assert.equal(tunnels.length, tunnelsBefore + 2, 'a NO_PROXY that does not name the host leaves the proxy on');
  });

  test('--binary-output raw writes exactly the received bytes to a file (stdout redirected), invalid UTF-8 included', T, async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x0a, 0x80, 0xfe, 0x0d, 0x1b, 0x7f]);
    writeFileSync(file('raw-in.bin'), bytes);
    const out = file('raw-out.bin');
    const fd = openSync(out, 'w');
    try {
      const child = spawn(process.execPath, [CLI, 'connect', echo.url, '--binary-file', file('raw-in.bin'), '--binary-output', 'raw', '--wait', '0.3'], { env: cliEnv(), stdio: ['ignore', fd, 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
      const [code] = await onceEvent<[number]>(child, 'exit', 15_000);
      assert.equal(code, 0, stderr);
    } finally {
      closeSync(fd);
    }
    assert.deepEqual(readFileSync(out), bytes, 'the file holds the bytes, nothing added or decoded');
  });

  test('--cert/--key (and --passphrase) against a server that requires a client certificate; -n skips the server check', T, async () => {
    const https = createHttpsServer({ cert: readFileSync(file('server.pem')), key: readFileSync(file('server.key')), ca: readFileSync(file('ca.pem')), requestCert: true, rejectUnauthorized: true });
    await listen(https);
    const mtls = await peer({ server: https }, (ws, conn) => {
      const cn = (conn.req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN;
      ws.on('message', (data) => ws.send(`${cn} says ${data}`));
    }, 'wss');
    const without = await runCli(['connect', mtls.url, '--ca', file('ca.pem'), '-x', 'hi', '--wait', '0.3']);
    assert.equal(without.code, 1, without.child.describe());
    assert.equal(without.stdout, '');

    const withCert = await runCli(['connect', mtls.url, '--ca', file('ca.pem'), '--cert', file('client.pem'), '--key', file('client.key'), '-x', 'hi', '--wait', '0.3']);
    assert.equal(withCert.code, 0, withCert.child.describe());
    assert.equal(withCert.stdout, 'client says hi\n');

    const encrypted = await runCli(['connect', mtls.url, '-n', '--cert', file('client.pem'), '--key', file('client-encrypted.key'), '--passphrase', 's3cret', '-x', 'hi', '--wait', '0.3']);
    assert.equal(encrypted.code, 0, encrypted.child.describe());
    assert.equal(encrypted.stdout, 'client says hi\n');

    const halfCert = await runCli(['connect', mtls.url, '--cert', file('client.pem'), '-x', 'hi']);
    assert.equal(halfCert.code, 2, halfCert.child.describe());
    assert.equal(halfCert.stderr, 'switchboard: --cert and --key go together\n');
  });

  test('-L follows redirects (up to --max-redirects); without it the refusal names -L; -v shows the response headers', T, async () => {
    const server = createHttpServer();
    const port = await listen(server);
    const target = await peer({ noServer: true }, (ws) => ws.on('message', (data) => ws.send(`moved ${data}`)));
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/old') socket.end('HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n');
      else target.wss.handleUpgrade(req, socket, head, (ws) => target.wss.emit('connection', ws, req));
    });
    const url = `ws://127.0.0.1:${port}/old`;
    const plain = await runCli(['connect', url, '-x', 'hi']);
    assert.equal(plain.code, 1, plain.child.describe());
    assert.equal(plain.stderr, 'switchboard: handshake refused: HTTP 302 Found (redirect to /new; -L follows it)\n');

    const followed = await runCli(['connect', url, '-L', '-v', '-x', 'hi', '--wait', '0.3']);
    assert.equal(followed.code, 0, followed.child.describe());
    assert.equal(followed.stdout, 'moved hi\n', 'status and headers stay off stdout');
    assert.match(followed.stderr, new RegExp(`^\\* redirected to ws://127\\.0\\.0\\.1:${port}/new$`, 'm'));
    assert.match(followed.stderr, /^< HTTP\/1\.1 101 Switching Protocols$/m);
    assert.match(followed.stderr, /^< Upgrade: websocket$/im);
    assert.match(followed.stderr, /^< Sec-WebSocket-Accept: \S+$/im);

    const limited = await runCli(['connect', url, '--location', '--max-redirects', '0', '-x', 'hi']);
    assert.equal(limited.code, 1, limited.child.describe());
    assert.match(limited.stderr, /too many redirects .*--max-redirects/);
  });

  test('--ping-interval pings; --ping-timeout drops a server that does not answer (exit 1)', T, async () => {
    const answering = await peer();
    const kept = await runCli(['connect', answering.url, '-x', 'hi', '--wait', '1', '--ping-interval', '0.2', '--ping-timeout', '0.5']);
    assert.equal(kept.code, 0, kept.child.describe());
    assert.ok(answering.conns[0]!.pings >= 2, `the server saw ${answering.conns[0]!.pings} pings`);

    const silent = await peer({ autoPong: false });
    const dropped = await runCli(['connect', silent.url, '-x', 'hi', '--wait', '-1', '--ping-interval', '0.2', '--ping-timeout', '0.5']);
    assert.equal(dropped.code, 1, dropped.child.describe());
    assert.match(dropped.stderr, /^switchboard: no pong within 0\.5 s of a ping \(--ping-timeout\): connection dropped\n$/);
  });

  test('--reconnect connects again after the server closes, sending -x again; Ctrl+C stops it with exit 0', T, async () => {
    let n = 0;
    const flaky = await peer({}, (ws) => {
      if (++n === 1) ws.on('message', () => ws.close(1012, 'restarting'));
    });
    const child = spawnCli(['connect', flaky.url, '-x', 'subscribe', '--wait', '-1', '--reconnect']);
    await until(() => flaky.conns.length === 2 && flaky.conns[1]!.messages.length === 1, 'the second connection and its subscription', 10_000);
    assert.deepEqual(flaky.conns.map((c) => c.messages.map((m) => m.data.toString())), [['subscribe'], ['subscribe']]);
    assert.match(child.stderr, /closed by the server: 1012 \(service restart\) "restarting"\nswitchboard: reconnecting in 1 s/);
    child.proc.kill('SIGINT');
    const exit = await child.exited;
    assert.equal(exit.code, 0, child.describe());
    await until(() => flaky.conns[1]!.closed !== undefined, 'the close');
    assert.equal(flaky.conns[1]!.closed!.code, 1000);

    const noInput = await runCli(['connect', flaky.url, '--reconnect'], { stdin: 'x\n' });
    assert.equal(noInput.code, 2, noInput.child.describe());
  });
});
