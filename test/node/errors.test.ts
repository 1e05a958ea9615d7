// The Node layer's state and argument errors carry a code and the common root,
// seen through real connections on 127.0.0.1.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { SwitchboardError, WebSocket, WebSocketServer } from '../../packages/switchboard/src/index.js';

async function connected(): Promise<{ server: WebSocketServer; client: WebSocket; peer: WebSocket }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const peerReady = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  return { server, client, peer: await peerReady };
}

describe('Node layer errors', { timeout: 15_000 }, () => {
  it('a send after close calls back with WS_ERR_NOT_OPEN, a SwitchboardError', async () => {
    const { server, client } = await connected();
    try {
      client.close();
      await new Promise((resolve) => client.once('close', resolve));
      const error = await new Promise<Error | null | undefined>((resolve) => client.send('late', resolve));
      assert.ok(error instanceof SwitchboardError);
      assert.equal((error as SwitchboardError).code, 'WS_ERR_NOT_OPEN');
      assert.match((error as Error).message, /WebSocket is not open: readyState 3 \(CLOSED\)/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('sendFrame on a client is WS_ERR_INVALID_STATE; bad arguments keep ws\'s classes with a code', async () => {
    const { server, client, peer } = await connected();
    try {
      assert.throws(() => client.sendFrame(Buffer.from([0x81, 0])), { name: 'WebSocketError', code: 'WS_ERR_INVALID_STATE' });
      assert.throws(() => peer.ping(Buffer.alloc(126)), (e: unknown) => e instanceof RangeError && e instanceof SwitchboardError && (e as SwitchboardError).code === 'WS_ERR_INVALID_ARGUMENT');
      assert.throws(() => peer.close(999), (e: unknown) => e instanceof TypeError && (e as SwitchboardError).code === 'WS_ERR_INVALID_ARGUMENT');
      assert.throws(() => new WebSocketServer({ noServer: true }).address(), { code: 'WS_ERR_INVALID_STATE' });
      assert.throws(() => new WebSocketServer({} as never), (e: unknown) => e instanceof TypeError && (e as SwitchboardError).code === 'WS_ERR_INVALID_OPTION');
    } finally {
      client.terminate();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
