// The hub's bounded request-body reader (hub/read-body.ts), on a real HTTP
// server on 127.0.0.1, driven by raw TCP clients so that the test decides
// exactly what is sent and when.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { readBoundedBody } from '../../packages/switchboard/src/hub/read-body.js';
import { onceEvent, withTimeout } from '../helpers/async.js';
import { HOST, until } from './helpers.js';

const LIMIT = 100;

interface Reader {
  port: number;
  /** Every body handed to onBody, in order. */
  bodies: Buffer[];
  /** The server's request objects, in order. */
  requests: http.IncomingMessage[];
  connections(): Promise<number>;
  close(): Promise<void>;
}

async function startReader(): Promise<Reader> {
  const bodies: Buffer[] = [];
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    readBoundedBody(req, res, LIMIT, `at most ${LIMIT} bytes`, (body) => {
      bodies.push(body);
      res.writeHead(200, { 'Content-Length': '2' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    bodies,
    requests,
    connections: () => new Promise((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n)))),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A raw client: what it receives, and a promise for the server ending the connection. It never
 * ends its own side (allowHalfOpen), as a client still sending would not: only the server
 * destroying its socket frees the connection, not a mere `Connection: close`.
 */
async function rawClient(port: number): Promise<{ socket: net.Socket; received: () => string; ended: () => Promise<void> }> {
  const socket = net.connect({ port, host: HOST, allowHalfOpen: true });
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  const endEvent = new Promise<void>((resolve) => socket.once('end', () => resolve()));
  const ended = (): Promise<void> => withTimeout(endEvent, 5000, 'the server ending the connection');
  await onceEvent(socket, 'connect');
  return { socket, received: () => text, ended };
}

/** Waits (bounded) until the server holds no connection. */
async function noConnectionLeft(reader: Reader): Promise<void> {
  let count = -1;
  const start = Date.now();
  while (count !== 0) {
    if (Date.now() - start > 5000) assert.fail(`the server still holds ${count} connection(s)`);
    count = await reader.connections();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const chunk = (data: string): string => `${data.length.toString(16)}\r\n${data}\r\n`;
const HEAD = `POST / HTTP/1.1\r\nHost: ${HOST}\r\n`;

describe('readBoundedBody', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const close of closers) await close();
  });

  test('a body of exactly the limit, in several chunks, is handed on whole', async () => {
    const reader = await startReader();
    closers.push(reader.close);
    const client = await rawClient(reader.port);
    const body = 'a'.repeat(LIMIT);
    client.socket.write(`${HEAD}Transfer-Encoding: chunked\r\n\r\n${chunk(body.slice(0, 30))}${chunk(body.slice(30))}0\r\n\r\n`);
    await until(() => /\r\n\r\n./s.test(client.received()), 5000, 'the answer');
    assert.match(client.received(), /^HTTP\/1\.1 200 /);
    assert.deepEqual(reader.bodies.map((b) => b.toString()), [body]);
    client.socket.destroy();
  });

  test('one byte over the limit, streamed: 413 with Connection: close, the rest is not read and the socket is closed', async () => {
    const reader = await startReader();
    closers.push(reader.close);
    const client = await rawClient(reader.port);
    // The body is never finished: only the server closing the connection ends this request.
    client.socket.write(`${HEAD}Transfer-Encoding: chunked\r\n\r\n${chunk('b'.repeat(60))}${chunk('b'.repeat(LIMIT + 1 - 60))}`);
    await client.ended();
    assert.match(client.received(), /^HTTP\/1\.1 413 /);
    assert.match(client.received(), /\r\nconnection: close\r\n/i);
    assert.deepEqual(JSON.parse(client.received().split('\r\n\r\n')[1]!), { error: 'too_large', message: `at most ${LIMIT} bytes` });
    assert.deepEqual(reader.bodies, []);
    await noConnectionLeft(reader);
    client.socket.destroy();
  });

  test('a Content-Length over the limit gets 413 before any of the body is read, and the socket is closed', async () => {
    const reader = await startReader();
    closers.push(reader.close);
    const client = await rawClient(reader.port);
    client.socket.write(`${HEAD}Content-Length: ${LIMIT + 1}\r\n\r\n`);
    await client.ended();
    assert.match(client.received(), /^HTTP\/1\.1 413 /);
    assert.deepEqual(reader.bodies, []);
    await noConnectionLeft(reader);
    client.socket.destroy();
  });

  test('an aborted request hands nothing on and throws nothing', async () => {
    const reader = await startReader();
    closers.push(reader.close);
    const client = await rawClient(reader.port);
    client.socket.write(`${HEAD}Content-Length: 50\r\n\r\n${'c'.repeat(10)}`);
    await until(() => reader.requests.length > 0, 5000, 'the request reaching the server');
    const request = reader.requests[0]!;
    // Not onceEvent: it would take the request's 'error' ("aborted"), which is what the reader must swallow.
    const requestClosed = withTimeout(new Promise((resolve) => request.once('close', resolve)), 5000, 'the request closing');
    client.socket.destroy();
    await requestClosed;
    assert.deepEqual(reader.bodies, []);
    assert.equal(request.complete, false);
  });
});
