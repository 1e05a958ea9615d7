// The browser API of the server-side WebSocket: on<event> attributes,
// addEventListener/removeEventListener, MessageEvent, CloseEvent, ErrorEvent.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { CloseEvent, ErrorEvent, MessageEvent, WebSocket, WebSocketEvent } from '../../packages/switchboard/src/index.js';
import { RawClient, connectPair, delay, once, startServer, unmaskedFrame, waitFor } from './helpers.js';

const T = { timeout: 15_000 };

describe('on<event> attributes', () => {
  it('getters and setters for onopen, onmessage, onclose, onerror', T, async (t) => {
    const server = await startServer(t);
    const [, ws] = await connectPair(t, server);
    for (const name of ['onopen', 'onmessage', 'onclose', 'onerror'] as const) {
      assert.equal(ws[name], null, `${name} starts null`);
      const handler = (): void => {};
      ws[name] = handler;
      assert.equal(ws[name], handler, `${name} returns what was set`);
      ws[name] = null;
      assert.equal(ws[name], null, `${name} cleared`);
      ws[name] = 'not a function' as unknown as null;
      assert.equal(ws[name], null, `${name} ignores non-functions`);
    }
    assert.equal(ws.listenerCount('message'), 0);
  });

  it('onmessage: string data for text, Buffer for binary; replacing the handler replaces it', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const first: MessageEvent[] = [];
    const second: MessageEvent[] = [];
    ws.onmessage = (e) => first.push(e);
    client.send('text');
    await waitFor(() => first.length === 1, 2000, 'the first message');
    ws.onmessage = (e) => second.push(e);
    assert.equal(ws.listenerCount('message'), 1);
    client.send(Buffer.from([1, 2, 3]));
    await waitFor(() => second.length === 1, 2000, 'the second message');
    await delay(20);
    assert.equal(first.length, 1);
    const [text] = first;
    assert.ok(text instanceof MessageEvent);
    assert.ok(text instanceof WebSocketEvent);
    assert.equal(text.type, 'message');
    assert.equal(text.data, 'text');
    assert.equal(text.target, ws);
    assert.ok(Buffer.isBuffer(second[0]!.data));
    assert.deepEqual([...(second[0]!.data as Buffer)], [1, 2, 3]);
  });

  it('onmessage text data is a string under every binaryType', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const events: MessageEvent[] = [];
    ws.onmessage = (e) => events.push(e);
    for (const type of ['arraybuffer', 'fragments', 'blob'] as const) {
      ws.binaryType = type;
      client.send(`as ${type}`);
      await waitFor(() => events.length > 0, 2000, `a message under ${type}`);
      const event = events.shift()!;
      assert.equal(event.data, `as ${type}`);
    }
  });

  it('onclose: CloseEvent with code, reason and wasClean true after a clean closing handshake', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const events: CloseEvent[] = [];
    ws.onclose = (e) => events.push(e);
    client.close(4001, 'see you');
    await waitFor(() => events.length === 1, 3000, 'the close event');
    const [event] = events;
    assert.ok(event instanceof CloseEvent);
    assert.equal(event.type, 'close');
    assert.equal(event.code, 4001);
    assert.equal(event.reason, 'see you');
    assert.equal(event.wasClean, true);
    assert.equal(event.target, ws);
  });

  it('onclose after terminate(): wasClean false, code 1006', T, async (t) => {
    const server = await startServer(t);
    const [, ws] = await connectPair(t, server);
    const events: CloseEvent[] = [];
    ws.onclose = (e) => events.push(e);
    ws.terminate();
    await waitFor(() => events.length === 1, 3000, 'the close event');
    assert.equal(events[0]!.code, 1006);
    assert.equal(events[0]!.reason, '');
    assert.equal(events[0]!.wasClean, false);
  });

  it('onerror: ErrorEvent carrying the protocol error', T, async (t) => {
    const server = await startServer(t);
    const connection = server.nextConnection();
    const raw = await RawClient.open(t, server.port);
    const [ws] = await connection;
    const errors: ErrorEvent[] = [];
    const closes: CloseEvent[] = [];
    ws.onerror = (e) => errors.push(e);
    ws.onclose = (e) => closes.push(e);
    raw.write(unmaskedFrame(0x2, Buffer.from([1])));
    await waitFor(() => closes.length === 1, 3000, 'the close event');
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof ErrorEvent);
    assert.equal(errors[0]!.type, 'error');
    assert.equal((errors[0]!.error as { code?: string }).code, 'WS_ERR_EXPECTED_MASK');
    assert.equal(errors[0]!.message, (errors[0]!.error as Error).message);
    assert.equal(closes[0]!.code, 1002);
    assert.equal(closes[0]!.wasClean, false);
  });
});

describe('addEventListener / removeEventListener', () => {
  it('once: fires once; duplicates are added once; removeEventListener removes', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const calls: string[] = [];
    const onceListener = (e: MessageEvent): void => void calls.push(`once:${String(e.data)}`);
    const dup = (e: MessageEvent): void => void calls.push(`dup:${String(e.data)}`);
    const removed = (e: MessageEvent): void => void calls.push(`removed:${String(e.data)}`);
    const object = { handleEvent: (e: MessageEvent) => void calls.push(`object:${String(e.data)}`) };
    ws.addEventListener('message', onceListener, { once: true });
    ws.addEventListener('message', dup);
    ws.addEventListener('message', dup);
    ws.addEventListener('message', removed);
    ws.addEventListener('message', object);
    ws.removeEventListener('message', removed);
    ws.removeEventListener('message', (() => {}) as never); // unknown listener: no-op
    assert.equal(ws.listenerCount('message'), 3);

    client.send('a');
    await waitFor(() => calls.length >= 3, 2000, 'the first message');
    client.send('b');
    await waitFor(() => calls.length >= 5, 2000, 'the second message');
    await delay(20);
    assert.deepEqual(calls, ['once:a', 'dup:a', 'object:a', 'dup:b', 'object:b']);

    ws.removeEventListener('message', dup);
    ws.removeEventListener('message', object);
    assert.equal(ws.listenerCount('message'), 0);
  });

  it('the attribute handler and an added listener are independent', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const calls: string[] = [];
    const handler = (): void => void calls.push('handler');
    ws.onmessage = handler;
    ws.addEventListener('message', handler);
    assert.equal(ws.listenerCount('message'), 2);
    ws.removeEventListener('message', handler);
    assert.equal(ws.onmessage, handler);
    client.send('x');
    await waitFor(() => calls.length === 1, 2000, 'the message');
    await delay(20);
    assert.deepEqual(calls, ['handler']);
  });

  it('close listeners added with addEventListener get a CloseEvent; ws-style listeners still get (code, reason)', T, async (t) => {
    const server = await startServer(t);
    const [client, ws] = await connectPair(t, server);
    const viaEvent = new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve as (e: CloseEvent) => void));
    const viaOn = once<[number, Buffer]>(ws, 'close');
    client.close(1000, 'done');
    const [code, reason] = await viaOn;
    assert.equal(code, 1000);
    assert.ok(Buffer.isBuffer(reason));
    const event = await viaEvent;
    assert.equal(event.code, 1000);
    assert.equal(event.reason, 'done');
    assert.equal(event.wasClean, true);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });
});

describe('event classes', () => {
  it('have the standard fields and defaults', () => {
    const close = new CloseEvent('close');
    assert.deepEqual([close.type, close.code, close.reason, close.wasClean], ['close', 0, '', false]);
    const message = new MessageEvent('message', { data: 'x' });
    assert.deepEqual([message.type, message.data, message.origin, message.lastEventId], ['message', 'x', '', '']);
    const error = new ErrorEvent('error', { message: 'm' });
    assert.deepEqual([error.type, error.message, error.error], ['error', 'm', null]);
    assert.equal(typeof new WebSocketEvent('open').timeStamp, 'number');
  });
});
