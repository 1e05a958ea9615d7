// Where the server copies a received payload out of the shared read buffer
// (src/node/payload-slab.ts): small ones share a slab, larger ones get a
// buffer of their own; either way the application owns the bytes, as with ws.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SLAB_PAYLOAD_LIMIT, allocatePayload } from '../../packages/switchboard/src/node/payload-slab.js';
import { sharedReadBuffer } from '../../packages/switchboard/src/node/shared-reads.js';
import type { WebSocket } from '../../packages/switchboard/src/index.js';
import { connect, startServer, waitFor } from './helpers.js';

describe('payload slab', () => {
  it('small payloads are carved one after another from one slab, 8-byte aligned and apart', () => {
    const sizes = [1, 7, 8, 100, 1024, 3];
    const payloads = sizes.map((size) => allocatePayload(size));
    payloads.forEach((payload, i) => assert.equal(payload.length, sizes[i]));
    const slab = payloads[0]!.buffer;
    // A new slab may have started before the first; from the first on these fit in one.
    payloads.forEach((payload) => assert.equal(payload.buffer, slab, 'same slab'));
    assert.equal(slab.byteLength, 32 * 1024);
    for (let i = 1; i < payloads.length; i++) {
      const previous = payloads[i - 1]!;
      assert.equal(payloads[i]!.byteOffset % 8, 0, 'aligned');
      assert.ok(payloads[i]!.byteOffset >= previous.byteOffset + previous.length, 'after the previous one');
    }
  });

  it('up to SLAB_PAYLOAD_LIMIT bytes from the slab; above it a buffer of its own', () => {
    const atLimit = allocatePayload(SLAB_PAYLOAD_LIMIT);
    assert.equal(atLimit.buffer.byteLength, 32 * 1024);
    const above = allocatePayload(SLAB_PAYLOAD_LIMIT + 1);
    assert.equal(above.length, SLAB_PAYLOAD_LIMIT + 1);
    assert.notEqual(above.buffer, atLimit.buffer);
  });

  it("a slab cannot be transferred away (it would empty every other payload in it), as Node's Buffer pool cannot", () => {
    const payload = allocatePayload(16).fill(9);
    const neighbour = allocatePayload(16).fill(3);
    // Node copies an ArrayBuffer marked untransferable instead of detaching it.
    structuredClone(payload.buffer, { transfer: [payload.buffer as ArrayBuffer] });
    assert.equal(payload.buffer.byteLength, 32 * 1024, 'the slab is still attached');
    assert.deepEqual([...payload], Array(16).fill(9));
    assert.deepEqual([...neighbour], Array(16).fill(3));
  });

  it('a message the server keeps is its own: not in the shared read buffer, and unchanged by later reads', { timeout: 20_000 }, async (t) => {
    const server = await startServer(t);
    const kept: Buffer[] = [];
    server.wss.on('connection', (ws: WebSocket) => ws.on('message', (data) => kept.push(data as Buffer)));
    const client = await connect(t, server.url);
    const sent = Array.from({ length: 200 }, (_, i) => Buffer.alloc(1 + (i % 300), i & 0xff));
    for (const data of sent) client.send(data);
    await waitFor(() => kept.length === sent.length, 10_000, 'every message');
    const readMemory = sharedReadBuffer().buffer;
    kept.forEach((data, i) => {
      assert.notEqual(data.buffer, readMemory, `message ${i} not in the read buffer`);
      assert.ok(data.equals(sent[i]!), `message ${i} intact`);
    });
  });
});
