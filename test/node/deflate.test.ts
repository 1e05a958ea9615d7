// permessage-deflate (RFC 7692) over real sockets: negotiation seen from both
// sides (Switchboard and `ws` as peers), what goes on the wire (RSV1, the
// threshold, context takeover, fragments), message order around asynchronous
// compression, failures (1007, 1002, 1009), a decompression bomb, and 10,000
// compressed connections without growth.
//
// Wire-level checks use raw TCP peers: a raw client (test/node/helpers.ts) for
// the server, and a raw server (below) for the client. They inflate with
// node:zlib themselves, so nothing here trusts the library's own inflater.
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { WebSocketServer as WsServer } from 'ws';
import { WebSocket, type WebSocketServer } from '../../packages/switchboard/src/index.js';
import { computeAcceptKey, encodeClosePayload, encodeFrame, Opcode } from '../../packages/switchboard/src/protocol/index.js';
import { repoRoot } from '../helpers/env.js';
import { patternBytes } from '../helpers/messages.js';
import { Child } from '../helpers/process.js';
import {
  HOST,
  Inbox,
  MASK_KEY,
  RawClient,
  WsClient,
  connectPair,
  decodeFrame,
  frameLength,
  once,
  startServer,
  waitFor,
  withTimeout,
  type TestServer,
} from './helpers.js';

type Client = InstanceType<typeof WebSocket>;
const MiB = 1024 * 1024;
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
const mib = (n: number): string => `${(n / MiB).toFixed(2)} MiB`;

// ---- deflate helpers (independent of the library) -------------------------------

/** One message compressed on its own (fresh context), trailer removed (RFC 7692 7.2.1). */
function compressFresh(data: Buffer | string): Buffer {
  const out = zlib.deflateRawSync(Buffer.from(data), SYNC);
  assert.deepEqual(out.subarray(-4), TRAILER, 'test setup: a sync flush ends with 00 00 ff ff');
  return out.subarray(0, -4);
}

/** Inflates one message payload with a fresh context (what the peer must allow under *_no_context_takeover). */
function inflateFresh(payload: Buffer): Buffer {
  return zlib.inflateRawSync(Buffer.concat([payload, TRAILER]), SYNC);
}

/** A streaming zlib context, for messages compressed with context takeover. */
class StreamCodec {
  private readonly stream: zlib.DeflateRaw | zlib.InflateRaw;
  private chunks: Buffer[] = [];
  private error: Error | null = null;

  /**
   * An inflater with a small `windowBits` and a 64-byte `chunkSize` reaches
   * back only as far as that window (zlib also resolves distances inside the
   * output of the current call, which 64 bytes keeps negligible): data
   * compressed with a larger window fails with "invalid distance too far back".
   */
  constructor(kind: 'inflate' | 'deflate', options: zlib.ZlibOptions = {}) {
    this.stream = kind === 'inflate' ? zlib.createInflateRaw(options) : zlib.createDeflateRaw(options);
    this.stream.on('data', (c: Buffer) => this.chunks.push(c));
    this.stream.on('error', (e: Error) => (this.error = e));
  }

  private run(data: Buffer, kind: number): Promise<Buffer> {
    return withTimeout(
      new Promise<Buffer>((resolve, reject) => {
        if (this.error) return reject(this.error);
        // After an error zlib does not call the flush callback: the error settles it.
        const onError = (e: Error): void => reject(e);
        this.stream.once('error', onError);
        this.stream.write(data);
        this.stream.flush(kind, () => {
          this.stream.off('error', onError);
          if (this.error) return reject(this.error);
          const out = Buffer.concat(this.chunks);
          this.chunks = [];
          resolve(out);
        });
      }),
      5000,
      'zlib',
    );
  }

  /** Inflates one received message payload (appends the trailer). */
  inflate(payload: Buffer): Promise<Buffer> {
    return this.run(Buffer.concat([payload, TRAILER]), zlib.constants.Z_SYNC_FLUSH);
  }

  /** Compresses one message to send, trailer removed. */
  async deflate(data: Buffer | string): Promise<Buffer> {
    const out = await this.run(Buffer.from(data), zlib.constants.Z_SYNC_FLUSH);
    return out.subarray(0, -4);
  }

  close(): void {
    this.stream.close();
  }
}

// ---- frames ------------------------------------------------------------------------

interface WireFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

function parseWire(bytes: Buffer): WireFrame {
  const f = decodeFrame(bytes);
  return { ...f, rsv1: (bytes[0]! & 0x40) !== 0 };
}

/** A masked client frame, RSV1 as told. */
function cframe(opcode: number, payload: Buffer | string, options: { rsv1?: boolean; fin?: boolean } = {}): Buffer {
  return encodeFrame(Buffer.from(payload), { opcode, fin: options.fin ?? true, rsv1: options.rsv1 ?? false, maskKey: MASK_KEY });
}

/** An unmasked server frame, RSV1 as told. */
function sframe(opcode: number, payload: Buffer | string, options: { rsv1?: boolean; fin?: boolean } = {}): Buffer {
  return encodeFrame(Buffer.from(payload), { opcode, fin: options.fin ?? true, rsv1: options.rsv1 ?? false });
}

async function readWire(raw: RawClient, ms = 5000): Promise<WireFrame> {
  return parseWire(await raw.read(frameLength, 'a frame', ms));
}

/** Reads frames until a close frame; returns its code. */
async function readCloseCode(raw: RawClient, ms = 5000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const f = await readWire(raw, Math.max(1, deadline - Date.now()));
    if (f.opcode === Opcode.Close) return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
  }
}

/** A raw client that completed a handshake offering `offer`; returns it and the answer's Sec-WebSocket-Extensions. */
async function rawOpen(t: TestContext, port: number, offer?: string): Promise<{ raw: RawClient; extensions: string | undefined }> {
  const raw = await RawClient.connect(t, port);
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  let req = `GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (offer !== undefined) req += `Sec-WebSocket-Extensions: ${offer}\r\n`;
  raw.write(`${req}\r\n`);
  const head = await raw.readHead();
  assert.equal(head.status, 101, `handshake refused: ${head.raw}`);
  assert.equal(head.headers['sec-websocket-accept'], computeAcceptKey(key));
  return { raw, extensions: head.headers['sec-websocket-extensions'] };
}

// ---- a raw server, to see what the client puts on the wire ----------------------------

/** The server side of one raw connection: buffers bytes, reads masked client frames. */
class RawPeer {
  private buf = Buffer.alloc(0);
  ended = false;
  constructor(
    readonly socket: net.Socket,
    readonly request: { headers: Record<string, string> },
  ) {
    socket.on('data', (d: Buffer) => (this.buf = Buffer.concat([this.buf, d])));
    socket.on('close', () => (this.ended = true));
    socket.on('error', () => {});
  }
  push(rest: Buffer): void {
    this.buf = Buffer.concat([rest, this.buf]);
  }
  async readFrame(ms = 5000): Promise<WireFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const n = frameLength(this.buf);
      if (n !== null) {
        const bytes = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return parseWire(Buffer.from(bytes));
      }
      if (this.ended) throw new Error('the client closed the connection while a frame was awaited');
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for a client frame`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  write(b: Buffer): void {
    this.socket.write(b);
  }
}

/**
 * A TCP server that answers every WebSocket handshake itself, with
 * `answer(offer)` as Sec-WebSocket-Extensions (none when it returns null).
 */
async function rawServer(t: TestContext, answer: (offer: string | undefined) => string | null): Promise<{ url: string; next: () => Promise<RawPeer> }> {
  const peers: RawPeer[] = [];
  const waiting: Array<(p: RawPeer) => void> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const ext = answer(headers['sec-websocket-extensions']);
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${computeAcceptKey(headers['sec-websocket-key'] ?? '')}\r\n` +
          (ext === null ? '' : `Sec-WebSocket-Extensions: ${ext}\r\n`) +
          '\r\n',
      );
      const peer = new RawPeer(socket, { headers });
      peer.push(head.subarray(end + 4));
      const w = waiting.shift();
      if (w) w(peer);
      else peers.push(peer);
    };
    socket.on('data', onData);
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await withTimeout(new Promise<void>((r) => server.close(() => r())), 5000, 'raw server close').catch(() => {});
  });
  return {
    url: `ws://${HOST}:${(server.address() as AddressInfo).port}/`,
    next: () => {
      const p = peers.shift();
      if (p) return Promise.resolve(p);
      return withTimeout(new Promise<RawPeer>((r) => waiting.push(r)), 5000, 'a connection to the raw server');
    },
  };
}

/**
 * What a server with `perMessageDeflate: true` answers to a plain offer: the
 * extension, possibly imposing server_no_context_takeover (a server's choice,
 * RFC 7692 7.1.1.1). Tests that need one or the other configure it.
 */
const DEFAULT_ANSWER = /^permessage-deflate(; server_no_context_takeover)?$/;

/** A Switchboard client, open, terminated when the test ends. */
async function sbConnect(t: TestContext, url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<Client> {
  const c = new WebSocket(url, options);
  t.after(() => c.terminate());
  c.on('error', () => {});
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      c.once('open', () => resolve());
      c.once('close', (code: number) => reject(new Error(`closed (${code}) before opening`)));
    }),
    5000,
    `connecting to ${url}`,
  );
  return c;
}

/** A deterministic, compressible text of about `size` bytes that names `tag`. */
function jsonText(size: number, tag: string | number): string {
  const items: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const item = `{"tag":"${tag}","i":${i},"name":"item ${i % 97}","ok":${i % 3 === 0}}`;
    items.push(item);
    length += item.length + 1;
  }
  return `[${items.join(',')}]`.slice(0, Math.max(size, 2));
}

// ---- negotiation -------------------------------------------------------------------------

describe('negotiation, seen in ws.extensions on both sides', () => {
  test('Switchboard server (perMessageDeflate: true) and Switchboard client (default offer)', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const conn = server.nextConnection();
    let offered: string | undefined;
    server.wss.once('headers', (_h: string[], req: http.IncomingMessage) => (offered = req.headers['sec-websocket-extensions']));
    const client = await sbConnect(t, server.url);
    const [ws] = await conn;
    assert.equal(offered, 'permessage-deflate; client_max_window_bits');
    assert.match(ws.extensions, DEFAULT_ANSWER);
    assert.equal(client.extensions, ws.extensions);
    // Both directions work with big (compressed) messages.
    const big = jsonText(64 * 1024, 'both');
    const inbox = new Inbox(client);
    ws.on('message', (d: Buffer, isBinary: boolean) => ws.send(d, { binary: isBinary }));
    client.send(big);
    const [m] = await inbox.next(1);
    assert.equal(String(m!.data), big);
  });

  test('server options reflected in the answer; a `ws` client (perMessageDeflate) agrees and exchanges messages', async (t) => {
    const server = await startServer(t, {
      perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
    });
    const conn = server.nextConnection();
    const client = new WsClient(server.url, { perMessageDeflate: true });
    t.after(() => client.terminate());
    const upgrade = once<[http.IncomingMessage]>(client, 'upgrade');
    await once(client, 'open');
    const [ws] = await conn;
    const [res] = await upgrade;
    const expected = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11';
    assert.equal(ws.extensions, expected);
    assert.equal(res.headers['sec-websocket-extensions'], expected);
    // ws lists the names of the accepted extensions, and keeps the parameters it agreed to.
    assert.equal(client.extensions, 'permessage-deflate');
    const agreed = (client as unknown as { _extensions: Record<string, { params: Record<string, unknown> }> })._extensions['permessage-deflate']!.params;
    assert.deepEqual(
      { ...agreed },
      { server_no_context_takeover: true, client_no_context_takeover: true, server_max_window_bits: 10, client_max_window_bits: 11 },
    );
    ws.on('message', (d: Buffer, isBinary: boolean) => ws.send(d, { binary: isBinary }));
    const inbox = new Inbox(client);
    const msgs = [jsonText(100_000, 'a'), jsonText(3000, 'b'), 'small', jsonText(100_000, 'a')];
    for (const m of msgs) client.send(m);
    const got = await inbox.next(msgs.length);
    assert.deepEqual(
      got.map((g) => String(g.data)),
      msgs,
    );
  });

  test('Switchboard client against a `ws` server (perMessageDeflate with options)', async (t) => {
    const wss = new WsServer({
      host: HOST,
      port: 0,
      perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 10, threshold: 0 },
    });
    t.after(() => new Promise<void>((r) => { for (const c of wss.clients) c.terminate(); wss.close(() => r()); }));
    await once(wss, 'listening');
    let serverExtensions = '';
    wss.on('connection', (ws) => {
      serverExtensions = ws.extensions;
      ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary }));
    });
    const c = new WebSocket(`ws://${HOST}:${(wss.address() as AddressInfo).port}/`);
    t.after(() => c.terminate());
    const upgrade = once<[http.IncomingMessage]>(c, 'upgrade');
    await once(c, 'open');
    const [res] = await upgrade;
    const header = String(res.headers['sec-websocket-extensions']);
    assert.match(header, /^permessage-deflate/);
    assert.match(header, /server_no_context_takeover/);
    assert.match(header, /client_no_context_takeover/);
    assert.match(header, /server_max_window_bits=12/);
    assert.match(header, /client_max_window_bits=10/);
    assert.equal(c.extensions, header);
    await waitFor(() => serverExtensions !== '', 2000, 'the ws server connection');
    assert.match(serverExtensions, /^permessage-deflate/);
    const inbox = new Inbox(c);
    const msgs = [jsonText(200_000, 'ws'), 'x', Buffer.alloc(50_000, 7)];
    for (const m of msgs) c.send(m);
    const got = await inbox.next(3);
    assert.equal(String(got[0]!.data), msgs[0]);
    assert.equal(String(got[1]!.data), 'x');
    assert.ok(Buffer.from(got[2]!.data as Buffer).equals(msgs[2] as Buffer));
    assert.equal(got[2]!.isBinary, true);
  });

  test('deflate off on either side: extensions empty, nothing offered or answered', async (t) => {
    const plain = await startServer(t, {});
    const c1 = await sbConnect(t, plain.url);
    assert.equal(c1.extensions, '');
    const withDeflate = await startServer(t, { perMessageDeflate: true });
    const conn = withDeflate.nextConnection();
    let offered: string | undefined = 'unset';
    withDeflate.wss.once('headers', (_h: string[], req: http.IncomingMessage) => (offered = req.headers['sec-websocket-extensions']));
    const c2 = await sbConnect(t, withDeflate.url, { perMessageDeflate: false });
    const [ws] = await conn;
    assert.equal(offered, undefined, 'perMessageDeflate: false must not offer the extension');
    assert.equal(c2.extensions, '');
    assert.equal(ws.extensions, '');
  });

  test('the server declines an offer it cannot accept (101 without the extension), and refuses a malformed header (400)', async (t) => {
    const server = await startServer(t, { perMessageDeflate: { serverNoContextTakeover: false } });
    const declined = await rawOpen(t, server.port, 'permessage-deflate; server_max_window_bits=8');
    assert.equal(declined.extensions, undefined);
    const chosen = await rawOpen(t, server.port, 'permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9');
    assert.equal(chosen.extensions, 'permessage-deflate; server_max_window_bits=9');
    // serverNoContextTakeover: false declines offers that request it.
    const refused = await rawOpen(t, server.port, 'permessage-deflate; server_no_context_takeover');
    assert.equal(refused.extensions, undefined);
    const raw = await RawClient.connect(t, server.port);
    raw.write(
      `GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; =\r\n\r\n',
    );
    const head = await raw.readHead();
    assert.equal(head.status, 400);
  });

  test('the client fails the handshake on an unacceptable answer', async (t) => {
    let current: string | null = null;
    const srv = await rawServer(t, () => current);
    const attempt = async (answer: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<void> => {
      current = answer;
      const c = new WebSocket(srv.url, options);
      t.after(() => c.terminate());
      // 'close' follows 'error' at once: both listeners go on first.
      const error = once<[Error & { code?: string }]>(c, 'error');
      const close = once<[number]>(c, 'close');
      let opened = false;
      c.on('open', () => (opened = true));
      const [err] = await error;
      assert.equal(err.code, 'WS_ERR_INVALID_EXTENSION', `answer ${answer}: ${err.message}`);
      assert.equal((await close)[0], 1006);
      assert.equal(opened, false);
    };
    for (const answer of [
      'permessage-deflate; foo',
      'x-unknown',
      'permessage-deflate, permessage-deflate',
      'permessage-deflate; client_max_window_bits',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; =',
    ]) {
      await attempt(answer);
    }
    await attempt('permessage-deflate; server_max_window_bits=12', { perMessageDeflate: { serverMaxWindowBits: 10 } });
    await attempt('permessage-deflate', { perMessageDeflate: { serverNoContextTakeover: true } });
    await attempt('permessage-deflate; client_max_window_bits=12', { perMessageDeflate: { clientMaxWindowBits: 10 } });
    // An answer although nothing was offered.
    await attempt('permessage-deflate', { perMessageDeflate: false });
  });
});

// ---- what goes on the wire -----------------------------------------------------------------

describe('on the wire: threshold, RSV1, context takeover, fragments', () => {
  test('server: messages under `threshold` go uncompressed, the others compressed (RSV1), compress:false respected', async (t) => {
    const server = await startServer(t, { perMessageDeflate: { threshold: 100 } });
    const conn = server.nextConnection();
    const { raw, extensions } = await rawOpen(t, server.port, 'permessage-deflate');
    assert.match(extensions ?? '', DEFAULT_ANSWER);
    const [ws] = await conn;
    const sizes = [0, 1, 99, 100, 101, 5000, 70_000];
    const sent = sizes.map((n, i) => Buffer.from(jsonText(n, i).slice(0, n)));
    for (const s of sent) ws.send(s.toString());
    ws.send(Buffer.alloc(4000, 1), { binary: true });
    ws.send(Buffer.alloc(4000, 2), { binary: true, compress: false });
    const inflater = new StreamCodec('inflate');
    t.after(() => inflater.close());
    for (let i = 0; i < sent.length; i++) {
      const f = await readWire(raw);
      assert.equal(f.opcode, Opcode.Text);
      assert.equal(f.fin, true);
      assert.equal(f.rsv1, sizes[i]! >= 100, `message of ${sizes[i]} bytes: RSV1=${f.rsv1}`);
      const data = f.rsv1 ? await inflater.inflate(f.payload) : f.payload;
      assert.ok(data.equals(sent[i]!), `message ${i} (${sizes[i]} bytes) intact`);
      if (f.rsv1 && sizes[i]! > 1000) assert.ok(f.payload.length < sizes[i]! / 2, `compressed ${sizes[i]} -> ${f.payload.length}`);
    }
    const b1 = await readWire(raw);
    assert.equal(b1.opcode, Opcode.Binary);
    assert.equal(b1.rsv1, true);
    assert.ok((await inflater.inflate(b1.payload)).equals(Buffer.alloc(4000, 1)));
    const b2 = await readWire(raw);
    assert.equal(b2.rsv1, false, 'compress: false');
    assert.ok(b2.payload.equals(Buffer.alloc(4000, 2)));
  });

  test('server: the default threshold is 1024 bytes', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const conn = server.nextConnection();
    const { raw } = await rawOpen(t, server.port, 'permessage-deflate');
    const [ws] = await conn;
    ws.send('a'.repeat(1023));
    ws.send('a'.repeat(1024));
    assert.equal((await readWire(raw)).rsv1, false);
    const f = await readWire(raw);
    assert.equal(f.rsv1, true);
    assert.equal(inflateFresh(f.payload).toString(), 'a'.repeat(1024));
  });

  test('client: threshold and RSV1 on what the Switchboard client sends (seen by a raw server)', async (t) => {
    const srv = await rawServer(t, (offer) => {
      assert.equal(offer, 'permessage-deflate; client_max_window_bits');
      return 'permessage-deflate';
    });
    const peerP = srv.next();
    const c = await sbConnect(t, srv.url, { perMessageDeflate: { threshold: 100 } });
    const peer = await peerP;
    assert.equal(c.extensions, 'permessage-deflate');
    const sizes = [10, 99, 100, 20_000];
    const sent = sizes.map((n, i) => Buffer.from(jsonText(n, i).slice(0, n)));
    for (const s of sent) c.send(s);
    const inflater = new StreamCodec('inflate');
    t.after(() => inflater.close());
    for (let i = 0; i < sent.length; i++) {
      const f = await peer.readFrame();
      assert.equal(f.masked, true);
      assert.equal(f.rsv1, sizes[i]! >= 100, `message of ${sizes[i]} bytes`);
      const data = f.rsv1 ? await inflater.inflate(f.payload) : f.payload;
      assert.ok(data.equals(sent[i]!), `message ${i} intact`);
    }
  });

  test('server_no_context_takeover: every message inflates with a fresh inflater (and without it, repeats use the context)', async (t) => {
    const big = jsonText(20_000, 'same');
    for (const noContext of [true, false]) {
      const server = await startServer(t, { perMessageDeflate: noContext ? true : { serverNoContextTakeover: false } });
      const conn = server.nextConnection();
      const { raw, extensions } = await rawOpen(t, server.port, noContext ? 'permessage-deflate; server_no_context_takeover' : 'permessage-deflate');
      assert.equal(extensions, noContext ? 'permessage-deflate; server_no_context_takeover' : 'permessage-deflate');
      const [ws] = await conn;
      for (let i = 0; i < 3; i++) ws.send(big);
      const payloads = [await readWire(raw), await readWire(raw), await readWire(raw)].map((f) => {
        assert.equal(f.rsv1, true);
        return f.payload;
      });
      if (noContext) {
        for (const p of payloads) assert.equal(inflateFresh(p).toString(), big);
        assert.ok(payloads[1]!.equals(payloads[0]!), 'identical messages compress identically without context takeover');
      } else {
        // The repeats refer back to the first message: much smaller, and meaningless without it.
        assert.ok(payloads[1]!.length < payloads[0]!.length / 4, `repeat ${payloads[1]!.length} vs first ${payloads[0]!.length}`);
        let fresh: string | undefined;
        try {
          fresh = inflateFresh(payloads[1]!).toString();
        } catch {
          fresh = undefined;
        }
        assert.notEqual(fresh, big);
        const inflater = new StreamCodec('inflate');
        t.after(() => inflater.close());
        for (const p of payloads) assert.equal((await inflater.inflate(p)).toString(), big);
      }
    }
  });

  test('window bits: what the server and the client compress fits the negotiated window (checked by a small-window inflater)', async (t) => {
    // Random 2 KiB blocks repeated: a 15-bit window would refer 2 KiB back, a 10-bit one cannot.
    const block = patternBytes(2048, 99);
    const data = Buffer.concat(new Array<Buffer>(20).fill(block));
    // The control: with this inflater, a stream compressed with a 15-bit window fails.
    const control = new StreamCodec('inflate', { windowBits: 10, chunkSize: 64 });
    t.after(() => control.close());
    await assert.rejects(control.inflate(zlib.deflateRawSync(data, SYNC).subarray(0, -4)), /invalid distance too far back/);

    // Server side: configured window, and a window requested by the client, with and without context takeover.
    for (const { options, offer, bits } of [
      { options: { serverMaxWindowBits: 10, serverNoContextTakeover: false }, offer: 'permessage-deflate', bits: 10 },
      { options: { serverMaxWindowBits: 10, serverNoContextTakeover: true }, offer: 'permessage-deflate', bits: 10 },
      { options: { serverNoContextTakeover: false }, offer: 'permessage-deflate; server_max_window_bits=9', bits: 9 },
      { options: {}, offer: 'permessage-deflate; server_no_context_takeover; server_max_window_bits=9', bits: 9 },
    ]) {
      const server = await startServer(t, { perMessageDeflate: options });
      const conn = server.nextConnection();
      const { raw, extensions } = await rawOpen(t, server.port, offer);
      assert.match(extensions ?? '', new RegExp(`server_max_window_bits=${bits}`));
      const [ws] = await conn;
      ws.send(data);
      ws.send(data);
      const inflater = new StreamCodec('inflate', { windowBits: bits, chunkSize: 64 });
      t.after(() => inflater.close());
      for (let i = 0; i < 2; i++) {
        const f = await readWire(raw);
        assert.equal(f.rsv1, true);
        assert.ok((await inflater.inflate(f.payload)).equals(data), `${JSON.stringify(options)} / ${offer}: message ${i}`);
      }
    }

    // Client side: the window the server imposes, and the client's own.
    for (const { answer, options, bits } of [
      { answer: 'permessage-deflate; client_max_window_bits=9', options: {}, bits: 9 },
      { answer: 'permessage-deflate; client_no_context_takeover; client_max_window_bits=10', options: {}, bits: 10 },
      { answer: 'permessage-deflate', options: { clientMaxWindowBits: 10 }, bits: 10 },
    ]) {
      const srv = await rawServer(t, () => answer);
      const peerP = srv.next();
      const c = await sbConnect(t, srv.url, { perMessageDeflate: options });
      const peer = await peerP;
      assert.equal(c.extensions, answer);
      c.send(data);
      c.send(data);
      const inflater = new StreamCodec('inflate', { windowBits: bits, chunkSize: 64 });
      t.after(() => inflater.close());
      for (let i = 0; i < 2; i++) {
        const f = await peer.readFrame();
        assert.equal(f.rsv1, true);
        assert.ok((await inflater.inflate(f.payload)).equals(data), `client, answer ${answer}: message ${i}`);
      }
    }
  });

  test('server option serverNoContextTakeover imposes it even when not requested', async (t) => {
    const server = await startServer(t, { perMessageDeflate: { serverNoContextTakeover: true } });
    const conn = server.nextConnection();
    const { raw, extensions } = await rawOpen(t, server.port, 'permessage-deflate; client_max_window_bits');
    assert.equal(extensions, 'permessage-deflate; server_no_context_takeover');
    const [ws] = await conn;
    const big = jsonText(10_000, 'imposed');
    ws.send(big);
    ws.send(big);
    assert.equal(inflateFresh((await readWire(raw)).payload).toString(), big);
    assert.equal(inflateFresh((await readWire(raw)).payload).toString(), big);
  });

  test('client_no_context_takeover: the Switchboard client resets its context when the server asks (seen by a raw server)', async (t) => {
    const big = jsonText(20_000, 'client');
    for (const noContext of [true, false]) {
      const srv = await rawServer(t, () => (noContext ? 'permessage-deflate; client_no_context_takeover' : 'permessage-deflate'));
      const peerP = srv.next();
      const c = await sbConnect(t, srv.url);
      const peer = await peerP;
      for (let i = 0; i < 3; i++) c.send(big);
      const payloads: Buffer[] = [];
      for (let i = 0; i < 3; i++) {
        const f = await peer.readFrame();
        assert.equal(f.rsv1, true);
        payloads.push(f.payload);
      }
      if (noContext) {
        for (const p of payloads) assert.equal(inflateFresh(p).toString(), big);
      } else {
        assert.ok(payloads[2]!.length < payloads[0]!.length / 4, 'with context takeover repeats are small');
      }
    }
  });

  test('client option clientNoContextTakeover: offered, and honoured even if the answer omits it', async (t) => {
    const srv = await rawServer(t, (offer) => {
      assert.equal(offer, 'permessage-deflate; client_no_context_takeover; client_max_window_bits');
      return 'permessage-deflate';
    });
    const peerP = srv.next();
    const c = await sbConnect(t, srv.url, { perMessageDeflate: { clientNoContextTakeover: true } });
    const peer = await peerP;
    const big = jsonText(10_000, 'own');
    c.send(big);
    c.send(big);
    assert.equal(inflateFresh((await peer.readFrame()).payload).toString(), big);
    assert.equal(inflateFresh((await peer.readFrame()).payload).toString(), big);
  });

  test('Switchboard server obeys a client_no_context_takeover from the client when inflating (fresh streams per message)', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const conn = server.nextConnection();
    const { raw, extensions } = await rawOpen(t, server.port, 'permessage-deflate; client_no_context_takeover');
    assert.match(extensions ?? '', /^permessage-deflate(; server_no_context_takeover)?; client_no_context_takeover$/);
    const [ws] = await conn;
    const inbox = new Inbox(ws);
    const texts = [jsonText(5000, 1), jsonText(5000, 1), 'short', jsonText(5000, 2)];
    for (const s of texts) raw.write(cframe(Opcode.Text, compressFresh(s), { rsv1: true }));
    const got = await inbox.next(texts.length);
    assert.deepEqual(
      got.map((g) => String(g.data)),
      texts,
    );
  });

  test('server receives messages compressed with context takeover by a raw client', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const conn = server.nextConnection();
    const { raw } = await rawOpen(t, server.port, 'permessage-deflate');
    const [ws] = await conn;
    const inbox = new Inbox(ws);
    const deflater = new StreamCodec('deflate');
    t.after(() => deflater.close());
    const texts = [jsonText(5000, 'ctx'), jsonText(5000, 'ctx'), jsonText(5000, 'ctx')];
    const payloads: Buffer[] = [];
    for (const s of texts) payloads.push(await deflater.deflate(s));
    assert.ok(payloads[1]!.length < payloads[0]!.length / 4, 'test setup: the repeats use the context');
    for (const p of payloads) raw.write(cframe(Opcode.Text, p, { rsv1: true }));
    const got = await inbox.next(3);
    assert.deepEqual(
      got.map((g) => String(g.data)),
      texts,
    );
  });

  test('server sends a fragmented compressed message: RSV1 on the first frame only, the whole inflates', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const conn = server.nextConnection();
    const { raw } = await rawOpen(t, server.port, 'permessage-deflate');
    const [ws] = await conn;
    const parts = [jsonText(3000, 'p1'), jsonText(3000, 'p2'), jsonText(10, 'p3')];
    ws.send(parts[0]!, { fin: false });
    ws.send(parts[1]!, { fin: false });
    ws.send(parts[2]!, { fin: true });
    ws.send('after');
    const frames = [await readWire(raw), await readWire(raw), await readWire(raw)];
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.rsv1]),
      [
        [Opcode.Text, false, true],
        [Opcode.Continuation, false, false],
        [Opcode.Continuation, true, false],
      ],
    );
    assert.equal(inflateFresh(Buffer.concat(frames.map((f) => f.payload))).toString(), parts.join(''));
    const next = await readWire(raw);
    assert.equal(next.rsv1, false);
    assert.equal(next.payload.toString(), 'after');
  });

  test('server receives a fragmented compressed message with a ping between fragments', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const conn = server.nextConnection();
    const { raw } = await rawOpen(t, server.port, 'permessage-deflate');
    const [ws] = await conn;
    const events: string[] = [];
    ws.on('message', (d: Buffer) => events.push(`message:${d.toString()}`));
    ws.on('ping', (d: Buffer) => events.push(`ping:${d.toString()}`));
    const text = jsonText(8000, 'frag');
    const z = compressFresh(text);
    const cut = [0, Math.floor(z.length / 3), Math.floor((2 * z.length) / 3), z.length];
    raw.write(
      Buffer.concat([
        cframe(Opcode.Text, z.subarray(cut[0], cut[1]), { rsv1: true, fin: false }),
        cframe(Opcode.Continuation, z.subarray(cut[1], cut[2]), { fin: false }),
        cframe(Opcode.Ping, 'between'),
        cframe(Opcode.Continuation, z.subarray(cut[2], cut[3]), { fin: true }),
      ]),
    );
    await waitFor(() => events.length >= 2, 5000, 'the ping and the message');
    assert.deepEqual(events, ['ping:between', `message:${text}`]);
  });

  // With client_no_context_takeover every message stands alone (the library may inflate it in one go); without, one inflater carries over.
  for (const offer of ['permessage-deflate', 'permessage-deflate; client_no_context_takeover']) {
    test(`a message ending its deflate data with a BFINAL block (RFC 7692 7.2.3.4) does not break the next ones (${offer})`, async (t) => {
      const server = await startServer(t, { perMessageDeflate: true });
      const conn = server.nextConnection();
      const { raw } = await rawOpen(t, server.port, offer);
      const [ws] = await conn;
      const inbox = new Inbox(ws);
      const first = jsonText(3000, 'first');
      // Z_FINISH: the data ends with a final block; the sender starts a new stream for the next message.
      raw.write(cframe(Opcode.Text, zlib.deflateRawSync(Buffer.from(first)), { rsv1: true }));
      const deflater = new StreamCodec('deflate');
      t.after(() => deflater.close());
      const second = jsonText(3000, 'second');
      const third = jsonText(3000, 'second'); // the same text again: with context takeover it refers back to the second
      raw.write(cframe(Opcode.Text, await deflater.deflate(second), { rsv1: true }));
      // (Under client_no_context_takeover every message must stand alone.)
      const thirdPayload = offer.includes('no_context') ? compressFresh(third) : await deflater.deflate(third);
      raw.write(cframe(Opcode.Text, thirdPayload, { rsv1: true }));
      // And a final block followed by bytes after the end of the stream (ignored, as ws does).
      raw.write(cframe(Opcode.Text, Buffer.concat([zlib.deflateRawSync(Buffer.from('fourth')), Buffer.from([0, 0])]), { rsv1: true }));
      const fresh = new StreamCodec('deflate');
      t.after(() => fresh.close());
      raw.write(cframe(Opcode.Text, await fresh.deflate('fifth'), { rsv1: true }));
      const got = await inbox.next(5);
      assert.deepEqual(
        got.map((g) => String(g.data)),
        [first, second, third, 'fourth', 'fifth'],
      );
    });
  }

  test('compressed empty messages', async (t) => {
    const server = await startServer(t, { perMessageDeflate: { threshold: 0 } });
    const conn = server.nextConnection();
    const { raw } = await rawOpen(t, server.port, 'permessage-deflate');
    const [ws] = await conn;
    const inbox = new Inbox(ws);
    raw.write(cframe(Opcode.Text, Buffer.from([0x00]), { rsv1: true }));
    raw.write(cframe(Opcode.Binary, compressFresh(''), { rsv1: true }));
    const got = await inbox.next(2);
    assert.deepEqual(
      got.map((g) => [g.isBinary, (g.data as Buffer).length]),
      [
        [false, 0],
        [true, 0],
      ],
    );
    ws.send('');
    const f = await readWire(raw);
    assert.equal(f.rsv1, true, 'threshold 0 compresses even empty messages');
    assert.equal(inflateFresh(f.payload).length, 0);
  });
});

// ---- order -----------------------------------------------------------------------------

/** What one side sends in the order test: 200 messages alternating big (compressed) / small (not), a ping every 10. */
function interleaved(): Array<{ kind: 'message'; data: string | Buffer; id: string } | { kind: 'ping'; id: string }> {
  const out: Array<{ kind: 'message'; data: string | Buffer; id: string } | { kind: 'ping'; id: string }> = [];
  for (let i = 0; i < 200; i++) {
    const id = `m${i}`;
    if (i % 2 === 0) {
      const big = i % 4 === 0 ? jsonText(8000 + i * 37, id) : Buffer.concat([Buffer.from(`${id}|`), Buffer.alloc(6000 + i, i & 0xff)]);
      out.push({ kind: 'message', data: big, id });
    } else {
      out.push({ kind: 'message', data: i % 3 === 0 ? Buffer.from(`${id}|`) : `${id}|`, id });
    }
    if (i % 10 === 9) out.push({ kind: 'ping', id: `p${i}` });
  }
  return out;
}

function idOf(data: unknown): string {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
  const s = b.subarray(0, 40).toString('latin1');
  const m = s.match(/m\d+/);
  return m ? m[0] : `?${s}`;
}

function recordOrder(emitter: NodeJS.EventEmitter): string[] {
  const seen: string[] = [];
  emitter.on('message', (d: unknown) => seen.push(idOf(d)));
  emitter.on('ping', (d: Buffer) => seen.push(d.toString()));
  return seen;
}

describe('order is kept around asynchronous compression', () => {
  const plan = interleaved();
  const expected = plan.map((p) => p.id);
  const messageCount = plan.filter((p) => p.kind === 'message').length;

  function sendAll(sender: Client, sendDone: string[]): void {
    for (const p of plan) {
      if (p.kind === 'ping') sender.ping(p.id, undefined, () => sendDone.push(p.id));
      else sender.send(p.data, { binary: Buffer.isBuffer(p.data) }, () => sendDone.push(p.id));
    }
  }

  test('server -> Switchboard client: 200 alternating big/small messages and pings arrive in order; callbacks in order', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const conn = server.nextConnection();
    const client = await sbConnect(t, server.url);
    const [ws] = await conn;
    const seen = recordOrder(client);
    const done: string[] = [];
    sendAll(ws, done);
    await waitFor(() => seen.length >= plan.length, 20_000, `all ${plan.length} events (have ${seen.length})`);
    assert.deepEqual(seen, expected);
    await waitFor(() => done.length >= plan.length, 5000, 'every send callback');
    assert.deepEqual(done, expected, 'send callbacks in send order');
  });

  test('Switchboard client -> server: same, in the other direction', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const conn = server.nextConnection();
    const client = await sbConnect(t, server.url);
    const [ws] = await conn;
    const seen = recordOrder(ws);
    const done: string[] = [];
    sendAll(client, done);
    await waitFor(() => seen.length >= plan.length, 20_000, `all ${plan.length} events (have ${seen.length})`);
    assert.deepEqual(seen, expected);
    await waitFor(() => done.length >= plan.length, 5000, 'every send callback');
    assert.deepEqual(done, expected);
  });

  test('server -> `ws` client (perMessageDeflate): order and content; the big ones were compressed', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const [client, ws] = await connectPair(t, server, undefined, { perMessageDeflate: true });
    assert.match(client.extensions, DEFAULT_ANSWER);
    const seen: string[] = [];
    const contents: Buffer[] = [];
    client.on('message', (d: Buffer) => {
      seen.push(idOf(d));
      contents.push(d);
    });
    client.on('ping', (d: Buffer) => seen.push(d.toString()));
    // Count compressed bytes leaving the server: far less than the payload when compression works.
    const socket = (ws as unknown as { _socket: net.Socket })._socket;
    const before = socket.bytesWritten;
    sendAll(ws, []);
    await waitFor(() => seen.length >= plan.length, 20_000, `all ${plan.length} events (have ${seen.length})`);
    assert.deepEqual(seen, expected);
    const sent = plan.filter((p) => p.kind === 'message').map((p) => Buffer.from((p as { data: string | Buffer }).data));
    assert.equal(contents.length, messageCount);
    contents.forEach((c, i) => assert.ok(c.equals(sent[i]!), `message ${i} intact`));
    const total = sent.reduce((n, b) => n + b.length, 0);
    const wire = socket.bytesWritten - before;
    assert.ok(wire < total / 5, `${wire} bytes on the wire for ${total} bytes of messages`);
  });

  test('a compressed message followed in the same packet by a ping and an uncompressed message: events in order', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const conn = server.nextConnection();
    const { raw } = await rawOpen(t, server.port, 'permessage-deflate; client_no_context_takeover');
    const [ws] = await conn;
    const events: string[] = [];
    ws.on('message', (d: Buffer) => events.push(`message:${idOf(d)}`));
    ws.on('ping', (d: Buffer) => events.push(`ping:${d.toString()}`));
    raw.write(
      Buffer.concat([
        cframe(Opcode.Text, compressFresh(jsonText(200_000, 'm1')), { rsv1: true }),
        cframe(Opcode.Ping, 'p1'),
        cframe(Opcode.Text, 'm2|'),
        cframe(Opcode.Text, compressFresh(jsonText(50_000, 'm3')), { rsv1: true }),
        cframe(Opcode.Ping, 'p2'),
        cframe(Opcode.Text, compressFresh(jsonText(60, 'm4')), { rsv1: true }),
        cframe(Opcode.Text, 'm5|'),
      ]),
    );
    await waitFor(() => events.length >= 7, 5000, 'seven events');
    assert.deepEqual(events, ['message:m1', 'ping:p1', 'message:m2', 'message:m3', 'ping:p2', 'message:m4', 'message:m5']);
    // The pongs too come back in order, after nothing else was sent.
    const pongs = [await readWire(raw), await readWire(raw)];
    assert.deepEqual(
      pongs.map((f) => [f.opcode, f.payload.toString()]),
      [
        [Opcode.Pong, 'p1'],
        [Opcode.Pong, 'p2'],
      ],
    );
  });
});

// ---- failures ------------------------------------------------------------------------------

describe('failures', () => {
  async function failing(t: TestContext, options: Parameters<typeof startServer>[1], offer: string | undefined, frames: Buffer[]): Promise<{ code: number; serverClose: number; error: (Error & { code?: string }) | undefined }> {
    const server = await startServer(t, options);
    const conn = server.nextConnection();
    const { raw } = await rawOpen(t, server.port, offer);
    const [ws] = await conn;
    let error: (Error & { code?: string }) | undefined;
    ws.on('error', (e: Error) => (error = e));
    const messages: unknown[] = [];
    ws.on('message', (d: unknown) => messages.push(d));
    const closed = once<[number]>(ws, 'close');
    raw.write(Buffer.concat(frames));
    const code = await readCloseCode(raw);
    await raw.waitClosed(5000);
    const [serverClose] = await closed;
    assert.deepEqual(messages, [], 'nothing must be delivered');
    return { code, serverClose, error };
  }

  test('invalid deflate data -> 1007', async (t) => {
    const r = await failing(t, { perMessageDeflate: true }, 'permessage-deflate', [cframe(Opcode.Binary, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01, 0x02]), { rsv1: true })]);
    assert.equal(r.code, 1007);
    assert.equal(r.serverClose, 1007);
    assert.equal(r.error?.code, 'WS_ERR_INVALID_COMPRESSED_DATA');
  });

  test('valid deflate data followed by garbage -> 1007', async (t) => {
    const good = zlib.deflateRawSync(Buffer.alloc(100_000, 'a'), SYNC);
    const r = await failing(t, { perMessageDeflate: true }, 'permessage-deflate', [cframe(Opcode.Text, Buffer.concat([good, Buffer.from([0xff, 0xfe, 0xfd])]), { rsv1: true })]);
    assert.equal(r.code, 1007);
  });

  test('compressed text that inflates to invalid UTF-8 -> 1007', async (t) => {
    const r = await failing(t, { perMessageDeflate: true }, 'permessage-deflate', [
      cframe(Opcode.Text, compressFresh(Buffer.concat([Buffer.from('valid start '), Buffer.from([0xc3, 0x28]), Buffer.from(' end')])), { rsv1: true }),
    ]);
    assert.equal(r.code, 1007);
    assert.equal(r.error?.code, 'WS_ERR_INVALID_UTF8');
  });

  test('compressed binary with the same bytes is fine (UTF-8 applies to text only)', async (t) => {
    const server = await startServer(t, { perMessageDeflate: true });
    const conn = server.nextConnection();
    const { raw } = await rawOpen(t, server.port, 'permessage-deflate');
    const [ws] = await conn;
    const inbox = new Inbox(ws);
    const bytes = Buffer.from([0xc3, 0x28, 0xff]);
    raw.write(cframe(Opcode.Binary, compressFresh(bytes), { rsv1: true }));
    const [m] = await inbox.next(1);
    assert.ok((m!.data as Buffer).equals(bytes));
  });

  test('RSV1 on a connection without deflate -> 1002 (server not configured, or not offered)', async (t) => {
    const payload = compressFresh('hello');
    const a = await failing(t, {}, 'permessage-deflate', [cframe(Opcode.Text, payload, { rsv1: true })]);
    assert.equal(a.code, 1002);
    assert.equal(a.error?.code, 'WS_ERR_UNEXPECTED_RSV_1');
    const b = await failing(t, { perMessageDeflate: true }, undefined, [cframe(Opcode.Text, payload, { rsv1: true })]);
    assert.equal(b.code, 1002);
  });

  test('RSV1 on a continuation or a control frame with deflate -> 1002', async (t) => {
    const z = compressFresh(jsonText(3000, 'x'));
    const a = await failing(t, { perMessageDeflate: true }, 'permessage-deflate', [
      cframe(Opcode.Text, z.subarray(0, 10), { rsv1: true, fin: false }),
      cframe(Opcode.Continuation, z.subarray(10), { rsv1: true }),
    ]);
    assert.equal(a.code, 1002);
    const b = await failing(t, { perMessageDeflate: true }, 'permessage-deflate', [cframe(Opcode.Ping, Buffer.from([0x00]), { rsv1: true })]);
    assert.equal(b.code, 1002);
  });

  for (const offer of ['permessage-deflate', 'permessage-deflate; client_no_context_takeover']) {
    test(`maxPayload applies to the inflated size: exactly maxPayload is delivered, one byte more -> 1009 (${offer})`, async (t) => {
      const server = await startServer(t, { perMessageDeflate: true, maxPayload: 1000 });
      const conn = server.nextConnection();
      const { raw } = await rawOpen(t, server.port, offer);
      const [ws] = await conn;
      const inbox = new Inbox(ws);
      let error: (Error & { code?: string }) | undefined;
      ws.on('error', (e: Error) => (error = e));
      raw.write(cframe(Opcode.Binary, compressFresh(Buffer.alloc(1000)), { rsv1: true }));
      const [m] = await inbox.next(1);
      assert.equal((m!.data as Buffer).length, 1000);
      raw.write(cframe(Opcode.Binary, compressFresh(Buffer.alloc(1001)), { rsv1: true }));
      assert.equal(await readCloseCode(raw), 1009);
      assert.equal(error?.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
      assert.equal(inbox.messages.length, 1);
    });

    test(`a small bomb (60 KiB -> 60 MiB) against maxPayload 1 MiB -> 1009 at once (${offer})`, async (t) => {
      const server = await startServer(t, { perMessageDeflate: true, maxPayload: MiB });
      const conn = server.nextConnection();
      const { raw } = await rawOpen(t, server.port, offer);
      const [ws] = await conn;
      const inbox = new Inbox(ws);
      const bomb = compressFresh(Buffer.alloc(60 * MiB));
      assert.ok(bomb.length < 64 * 1024, `test setup: ${bomb.length} bytes`);
      const started = Date.now();
      raw.write(cframe(Opcode.Binary, bomb, { rsv1: true }));
      assert.equal(await readCloseCode(raw), 1009);
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 2000, `refused after ${elapsed} ms`);
      assert.equal(inbox.messages.length, 0);
    });
  }

  test('client: invalid compressed data from the server -> the client closes with 1007', async (t) => {
    const srv = await rawServer(t, () => 'permessage-deflate');
    const peerP = srv.next();
    const c = await sbConnect(t, srv.url);
    const peer = await peerP;
    let error: (Error & { code?: string }) | undefined;
    c.on('error', (e: Error) => (error = e));
    const closed = once<[number]>(c, 'close');
    peer.write(sframe(Opcode.Text, Buffer.from([0xff, 0xee, 0xdd, 0xcc]), { rsv1: true }));
    const f = await peer.readFrame();
    assert.equal(f.opcode, Opcode.Close);
    assert.equal(f.payload.readUInt16BE(0), 1007);
    peer.write(sframe(Opcode.Close, encodeClosePayload(1007)));
    peer.socket.end();
    const [code] = await closed;
    assert.equal(code, 1007);
    assert.equal(error?.code, 'WS_ERR_INVALID_COMPRESSED_DATA');
  });

  test('client: maxPayload bounds what it inflates -> 1009', async (t) => {
    const srv = await rawServer(t, () => 'permessage-deflate');
    const peerP = srv.next();
    const c = await sbConnect(t, srv.url, { maxPayload: 64 * 1024 });
    const peer = await peerP;
    const inbox = new Inbox(c);
    peer.write(sframe(Opcode.Binary, compressFresh(Buffer.alloc(64 * 1024)), { rsv1: true }));
    await inbox.next(1);
    peer.write(sframe(Opcode.Binary, compressFresh(Buffer.alloc(10 * MiB)), { rsv1: true }));
    const f = await peer.readFrame();
    assert.equal(f.opcode, Opcode.Close);
    assert.equal(f.payload.readUInt16BE(0), 1009);
  });
});

// ---- resources: a decompression bomb, 10,000 connections --------------------------------------

/**
 * A server of the library in its own process (so its memory can be measured):
 * it echoes every message, and answers {type:'stats'} over IPC with its memory
 * after a full GC, the number of zlib contexts created and destroyed, and its
 * open connections.
 */
const CHILD_SERVER = `
import { createRequire } from 'node:module';
import { createHook } from 'node:async_hooks';
const zlib = createRequire(import.meta.url)('node:zlib');
// zlib contexts: each creates one ZLIB async resource; each destroy() (close() or an error) goes through ZlibBase's _destroy.
const zstats = { created: 0, destroyed: 0 };
createHook({ init(_id, type) { if (type === 'ZLIB') zstats.created++; } }).enable();
const base = Object.getPrototypeOf(Object.getPrototypeOf(zlib.DeflateRaw.prototype));
if (!Object.prototype.hasOwnProperty.call(base, '_destroy')) throw new Error('ZlibBase.prototype._destroy not found');
const seen = new WeakSet();
const originalDestroy = base._destroy;
base._destroy = function (...args) {
  if (!seen.has(this)) { seen.add(this); zstats.destroyed++; }
  return originalDestroy.apply(this, args);
};
const { WebSocketServer } = await import(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...JSON.parse(process.argv[3]) });
let messages = 0;
const closeCodes = {};
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => { messages++; ws.send(data, { binary: isBinary }); });
  ws.on('close', (code) => { closeCodes[code] = (closeCodes[code] ?? 0) + 1; });
});
wss.on('listening', () => process.send({ type: 'ready', port: wss.address().port }));
process.on('message', (m) => {
  if (m.type !== 'stats') return;
  for (let i = 0; i < 4; i++) globalThis.gc();
  setImmediate(() => {
    globalThis.gc();
    process.send({ type: 'stats', id: m.id, memory: process.memoryUsage(), zlib: zstats, connections: wss.clients.size, messages, closeCodes });
  });
});
process.on('disconnect', () => process.exit(0));
`;

interface ChildStats {
  memory: NodeJS.MemoryUsage;
  zlib: { created: number; destroyed: number };
  connections: number;
  messages: number;
  closeCodes: Record<string, number>;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchboard-deflate-'));
const childScript = path.join(tmp, 'server.mjs');
writeFileSync(childScript, CHILD_SERVER);
after(() => rmSync(tmp, { recursive: true, force: true }));

class ServerProcess {
  readonly child: Child;
  port = 0;
  private nextId = 0;

  constructor(options: Record<string, unknown>) {
    // The young generation is fixed at its largest size from the start, so RSS
    // does not grow while V8 sizes its heap (a warm-up, not a leak).
    const args = ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16', '--import', 'tsx', childScript];
    args.push(pathToFileURL(path.join(repoRoot, 'packages/switchboard/src/index.ts')).href, JSON.stringify(options));
    this.child = new Child(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  }

  async start(): Promise<void> {
    const ready = await withTimeout(
      new Promise<{ port: number }>((resolve, reject) => {
        this.child.proc.once('message', (m: { port: number }) => resolve(m));
        void this.child.exited.then(() => reject(new Error(`server process exited: ${this.child.describe()}`)));
      }),
      20_000,
      'the server process to listen',
    );
    this.port = ready.port;
  }

  get pid(): number {
    return this.child.proc.pid!;
  }

  stats(): Promise<ChildStats> {
    const id = ++this.nextId;
    return withTimeout(
      new Promise<ChildStats>((resolve) => {
        const onMessage = (m: ChildStats & { type: string; id: number }): void => {
          if (m.type !== 'stats' || m.id !== id) return;
          this.child.proc.off('message', onMessage);
          resolve(m);
        };
        this.child.proc.on('message', onMessage);
        this.child.proc.send({ type: 'stats', id });
      }),
      10_000,
      'stats from the server process',
    );
  }

  /** Stats once `ready(stats)` holds (polled, bounded). */
  async statsWhen(ready: (s: ChildStats) => boolean, what: string, ms = 10_000): Promise<ChildStats> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = await this.stats();
      if (ready(s)) return s;
      if (Date.now() > deadline) throw new Error(`server process: ${what} did not happen within ${ms} ms: ${JSON.stringify({ ...s, memory: undefined })}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** VmRSS / VmHWM of the process, in bytes. */
  procStatus(): { rss: number; hwm: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (name: string): number => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))![1]) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  }

  /** Resets VmHWM (the peak RSS) to the current RSS (Linux: clear_refs 5). */
  resetPeak(): void {
    writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
  }

  stop(): Promise<unknown> {
    return this.child.stop('SIGTERM', 3000);
  }
}

describe('resources', () => {
  test('decompression bomb: one ~1 MiB frame that inflates to 1 GiB -> 1009, server memory barely moves', { timeout: 60_000 }, async (t) => {
    // Raw deflate of 64 MiB of zeros, ending in a full flush (byte-aligned, no
    // back-references past it): copies of it concatenate into a valid stream.
    const segment = zlib.deflateRawSync(Buffer.alloc(64 * MiB), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
    assert.deepEqual(segment.subarray(-4), TRAILER);
    const copies = Math.floor(MiB / segment.length);
    const bomb = Buffer.concat(new Array<Buffer>(copies).fill(segment));
    const inflatedSize = copies * 64 * MiB;
    assert.ok(bomb.length <= 2 * MiB && inflatedSize >= 512 * MiB, `test setup: ${bomb.length} bytes -> ${inflatedSize} bytes`);
    // Sanity check of the bomb with an independent inflater, bounded: its first 4 KiB give megabytes of zeros.
    const probe = zlib.inflateRawSync(bomb.subarray(0, 4096), { ...SYNC, maxOutputLength: 64 * MiB });
    assert.ok(probe.length >= 2 * MiB && probe.every((b) => b === 0), `test setup: the bomb's first 4 KiB inflate to ${probe.length} zeros`);

    const server = new ServerProcess({ perMessageDeflate: true, maxPayload: 2 * MiB });
    t.after(() => server.stop());
    await server.start();
    const { raw, extensions } = await rawOpen(t, server.port, 'permessage-deflate');
    assert.match(extensions ?? '', DEFAULT_ANSWER);
    // A compressed message first (echoed compressed): the connection's zlib contexts exist before the baseline.
    const warmUp = jsonText(4000, 'warm-up');
    raw.write(cframe(Opcode.Text, compressFresh(warmUp), { rsv1: true }));
    const echo = await readWire(raw);
    assert.equal(echo.rsv1, true);
    assert.equal(inflateFresh(echo.payload).toString(), warmUp);

    const frame = cframe(Opcode.Binary, bomb, { rsv1: true });
    const baseline = await server.stats();
    const before = server.procStatus();
    server.resetPeak();
    let sampledPeak = server.procStatus().rss;
    const sampler = setInterval(() => {
      try {
        sampledPeak = Math.max(sampledPeak, server.procStatus().rss);
      } catch {
        // the process is gone: the assertions below report it
      }
    }, 2);
    const started = Date.now();
    raw.write(frame);
    let code: number;
    try {
      code = await readCloseCode(raw, 20_000);
      await raw.waitClosed(5000);
    } finally {
      clearInterval(sampler);
    }
    const elapsed = Date.now() - started;
    const peak = Math.max(server.procStatus().hwm, sampledPeak);
    const afterStats = await server.statsWhen((s) => s.connections === 0, 'the close of the connection');
    const rise = peak - before.rss;
    t.diagnostic(
      `bomb: ${bomb.length} bytes -> ${mib(inflatedSize)}; close ${code} after ${elapsed} ms; ` +
        `RSS before ${mib(before.rss)}, peak ${mib(peak)} (rise ${mib(rise)}); ` +
        `after GC: rss ${mib(afterStats.memory.rss)} (was ${mib(baseline.memory.rss)}), heapUsed ${mib(afterStats.memory.heapUsed)} (was ${mib(baseline.memory.heapUsed)}), ` +
        `external ${mib(afterStats.memory.external)} (was ${mib(baseline.memory.external)})`,
    );
    assert.equal(code, 1009);
    assert.ok(elapsed < 10_000, `the server took ${elapsed} ms to refuse the bomb`);
    assert.ok(rise < 16 * MiB, `peak RSS rose by ${mib(rise)} while refusing the bomb (limit 16 MiB)`);
    assert.equal(afterStats.messages, baseline.messages, 'the bomb must not be delivered');
    assert.equal(afterStats.closeCodes['1009'], 1);
    assert.ok(afterStats.memory.external - baseline.memory.external < 4 * MiB, 'no inflated data kept');
    // The connection's own zlib contexts are gone (process-wide shared ones, if any, stay).
    assert.ok(afterStats.zlib.created - afterStats.zlib.destroyed <= baseline.zlib.created - baseline.zlib.destroyed - 1, `zlib contexts ${JSON.stringify(afterStats.zlib)}, before ${JSON.stringify(baseline.zlib)}`);
    assert.equal(afterStats.connections, 0);

    // The server is still fine.
    const c = await sbConnect(t, `ws://${HOST}:${server.port}/`);
    const inbox = new Inbox(c);
    c.send(jsonText(5000, 'still alive'));
    const [m] = await inbox.next(1);
    assert.equal(String(m!.data), jsonText(5000, 'still alive'));
  });

  test('10,000 compressed connect/disconnect cycles (20 at a time): no growth, every zlib context released', { timeout: 120_000 }, async (t) => {
    const TOTAL = 10_000;
    const WARM = 2_000;
    const CONCURRENCY = 20;
    const server = new ServerProcess({ perMessageDeflate: true });
    t.after(() => server.stop());
    await server.start();
    const url = `ws://${HOST}:${server.port}/`;
    const payload = jsonText(2000, 'cycle');
    let failures = 0;
    const cycle = async (n: number): Promise<void> => {
      const c = new WebSocket(url);
      try {
        await withTimeout(
          new Promise<void>((resolve, reject) => {
            c.once('open', () => resolve());
            c.once('error', reject);
          }),
          10_000,
          `cycle ${n}: open`,
        );
        assert.match(c.extensions, DEFAULT_ANSWER);
        const text = `${n}:${payload}`;
        const echoed = withTimeout(new Promise<Buffer>((resolve) => c.once('message', (d: Buffer) => resolve(d))), 10_000, `cycle ${n}: echo`);
        c.send(text);
        assert.equal(String(await echoed), text);
        const closed = withTimeout(new Promise<number>((resolve) => c.once('close', (code: number) => resolve(code))), 10_000, `cycle ${n}: close`);
        c.close(1000);
        assert.equal(await closed, 1000);
      } catch (e) {
        failures++;
        c.terminate();
        throw e;
      }
    };
    let next = 0;
    const runUntil = (limit: number): Promise<unknown> =>
      Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < limit) await cycle(next++);
        }),
      );
    // Every server-side socket has seen its close.
    const settled = (cycles: number): Promise<ChildStats> =>
      server.statsWhen((s) => s.connections === 0 && s.messages === cycles, `settling after ${cycles} cycles`);
    const started = Date.now();
    await runUntil(WARM);
    const atWarm = await settled(WARM);
    const warmTime = Date.now() - started;
    await runUntil(TOTAL);
    const atEnd = await settled(TOTAL);
    const elapsed = Date.now() - started;
    const grow = (k: 'rss' | 'heapUsed' | 'external' | 'arrayBuffers'): number => atEnd.memory[k] - atWarm.memory[k];
    t.diagnostic(
      `${TOTAL} cycles in ${elapsed} ms (first ${WARM} in ${warmTime} ms); between cycle ${WARM} and ${TOTAL}: ` +
        `rss ${mib(atWarm.memory.rss)} -> ${mib(atEnd.memory.rss)} (${mib(grow('rss'))}), ` +
        `heapUsed ${mib(atWarm.memory.heapUsed)} -> ${mib(atEnd.memory.heapUsed)} (${mib(grow('heapUsed'))}), ` +
        `external ${mib(atWarm.memory.external)} -> ${mib(atEnd.memory.external)} (${mib(grow('external'))}); ` +
        `zlib contexts created ${atEnd.zlib.created}, destroyed ${atEnd.zlib.destroyed}`,
    );
    assert.equal(failures, 0);
    assert.equal(atEnd.closeCodes['1000'], TOTAL, `close codes ${JSON.stringify(atEnd.closeCodes)}`);
    // At least an inflater per connection (each received one compressed message). With every
    // connection closed, the only zlib contexts still alive are process-wide ones (a shared
    // compressor per configuration, if the library uses one): few, and not more at the end.
    // Counted without relying on GC: a context counts as released when it was destroyed.
    const live = (z: ChildStats['zlib']): number => z.created - z.destroyed;
    assert.ok(atWarm.zlib.created >= WARM, `zlib contexts after ${WARM} cycles: ${JSON.stringify(atWarm.zlib)}`);
    assert.ok(atEnd.zlib.created - atWarm.zlib.created >= TOTAL - WARM, `zlib contexts after ${TOTAL} cycles: ${JSON.stringify(atEnd.zlib)}`);
    assert.ok(live(atWarm.zlib) <= 2, `${live(atWarm.zlib)} zlib contexts alive with no connection open after ${WARM} cycles`);
    assert.equal(live(atEnd.zlib), live(atWarm.zlib), `zlib contexts alive: ${live(atWarm.zlib)} after ${WARM} cycles, ${live(atEnd.zlib)} after ${TOTAL}`);
    assert.ok(grow('heapUsed') < 2 * MiB, `heapUsed grew by ${mib(grow('heapUsed'))}`);
    assert.ok(grow('external') < 1 * MiB, `external memory (zlib, buffers) grew by ${mib(grow('external'))}`);
    assert.ok(grow('rss') < 10 * MiB, `RSS grew by ${mib(grow('rss'))}`);
    assert.ok(elapsed < 60_000, `the cycles took ${elapsed} ms`);
  });
});
