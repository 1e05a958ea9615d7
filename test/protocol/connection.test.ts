import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  CloseAction,
  ClosingHandshake,
  FrameParser,
  ReadyState,
  type FrameParserHandler,
  type ProtocolError,
} from '../../packages/switchboard/src/protocol/index.js';
import { hex } from './helpers.js';

const { None, SendClose, EndTcp, Destroy } = CloseAction;

function open(isServer: boolean): ClosingHandshake {
  const connection = new ClosingHandshake(isServer);
  connection.opened();
  return connection;
}

/**
 * Bytes in, decisions out: a frame parser whose close frames and protocol
 * errors go to a ClosingHandshake, as node/websocket.ts wires them.
 */
function wired(isServer: boolean): { connection: ClosingHandshake; push: (bytes: Buffer) => CloseAction[] } {
  const connection = open(isServer);
  let actions: CloseAction[] = [];
  const events: FrameParserHandler = {
    onMessage() {},
    onPing() {},
    onPong() {},
    onClose: (code, reason) => void actions.push(connection.receiveClose(code, Buffer.from(reason))),
    onError: (error: ProtocolError) => void actions.push(connection.fail(error.closeCode)),
  };
  const parser = new FrameParser(events, { role: isServer ? 'server' : 'client' });
  return {
    connection,
    push(bytes) {
      actions = [];
      parser.push(Buffer.from(bytes));
      return actions;
    },
  };
}

describe('ClosingHandshake: the peer closes (RFC 6455 section 7.1.2, 5.5.1)', () => {
  test('a server echoes the peer\'s code and reason, then ends TCP once its close frame is written', () => {
    const { connection, push } = wired(true);
    // A masked close frame from the client: 1001 "bye".
    const actions = push(hex('88 85 00 00 00 00 03 e9 62 79 65'));
    assert.deepEqual(actions, [SendClose]);
    assert.deepEqual(connection.closePayload(), hex('03 e9 62 79 65'));
    assert.equal(connection.state, ReadyState.CLOSING);
    assert.equal(connection.closeWritten(), EndTcp, 'the server ends TCP first (section 7.1.1)');
    assert.equal(connection.code, 1001);
    assert.equal(connection.reason.toString(), 'bye');
    assert.equal(connection.wasClean, true);
  });

  test('a client echoes, then waits for the server to end TCP', () => {
    const { connection, push } = wired(false);
    assert.deepEqual(push(hex('88 02 03 e8')), [SendClose]);
    assert.deepEqual(connection.closePayload(), hex('03 e8'));
    assert.equal(connection.closeWritten(), None);
    assert.equal(connection.receiveEnd(), EndTcp, 'once the server ended TCP, so does the client');
  });

  test('a close frame without a body (1005) is echoed without one: 1005 never goes on the wire', () => {
    const { connection, push } = wired(true);
    assert.deepEqual(push(hex('88 80 00 00 00 00')), [SendClose]);
    assert.deepEqual(connection.closePayload(), Buffer.alloc(0));
    assert.equal(connection.code, 1005, "'close' reports 1005 (section 7.1.5)");
  });

  test('a second close from the application after the echo changes nothing but ending TCP (server)', () => {
    const connection = open(true);
    assert.equal(connection.receiveClose(1000, Buffer.alloc(0)), SendClose);
    assert.equal(connection.close(4000, Buffer.from('late')), EndTcp);
    assert.deepEqual(connection.closePayload(), hex('03 e8'), 'the echo stays what was sent');
    const client = open(false);
    client.receiveClose(1000, Buffer.alloc(0));
    assert.equal(client.close(4000, Buffer.alloc(0)), None);
  });
});

describe('ClosingHandshake: we close', () => {
  test('close() sends our code and reason once; the peer\'s answer completes the handshake', () => {
    const server = open(true);
    assert.equal(server.close(4001, Buffer.from('done')), SendClose);
    assert.deepEqual(server.closePayload(), Buffer.concat([hex('0f a1'), Buffer.from('done')]));
    assert.equal(server.close(1000, Buffer.alloc(0)), None, 'close after close sends nothing more');
    assert.equal(server.closeWritten(), None, 'waits for the peer\'s close frame');
    assert.equal(server.receiveClose(4001, Buffer.from('done')), EndTcp, 'the server ends TCP once the answer is in');
    assert.equal(server.wasClean, true);

    const client = open(false);
    assert.equal(client.close(undefined, Buffer.alloc(0)), SendClose);
    assert.deepEqual(client.closePayload(), Buffer.alloc(0));
    assert.equal(client.receiveClose(1000, Buffer.alloc(0)), None, 'a client waits for the server to end TCP');
  });

  test('a peer that does not answer: the close timeout destroys the connection', () => {
    const connection = open(true);
    connection.close(1000, Buffer.alloc(0));
    assert.equal(connection.closeTimedOut(), Destroy);
    assert.equal(connection.wasClean, false);
    connection.closed();
    assert.equal(connection.state, ReadyState.CLOSED);
    assert.equal(connection.code, 1006, 'no close frame came: 1006');
  });
});

describe('ClosingHandshake: failing the connection (section 7.1.7)', () => {
  for (const [name, bytes, code] of [
    ['a reserved opcode: 1002', hex('83 80 00 00 00 00'), 1002],
    ['invalid UTF-8 in a text frame: 1007', hex('81 81 00 00 00 00 ff'), 1007],
    ['an invalid close code: 1002', hex('88 82 00 00 00 00 03 ed'), 1002],
  ] as const) {
    test(`${name}, and TCP ends once our close frame is written`, () => {
      const { connection, push } = wired(true);
      assert.deepEqual(push(bytes), [SendClose]);
      assert.deepEqual(connection.closePayload(), Buffer.from([code >> 8, code & 0xff]));
      assert.equal(connection.code, code);
      assert.equal(connection.closeWritten(), EndTcp);
      assert.equal(connection.wasClean, false);
    });
  }

  test('a message over maxPayload: 1009, on the client side too', () => {
    const connection = open(false);
    const parser = new FrameParser(
      { onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onError: (e) => void assert.equal(connection.fail(e.closeCode), SendClose) },
      { role: 'client', maxPayload: 4 },
    );
    parser.push(hex('82 05 01 02 03 04 05'));
    assert.deepEqual(connection.closePayload(), hex('03 f1'));
    assert.equal(connection.closeWritten(), EndTcp, 'a failing client ends TCP itself');
  });

  test('an internal error (1011) after our close frame went out ends TCP at once', () => {
    const connection = open(true);
    connection.close(1000, Buffer.alloc(0));
    assert.equal(connection.fail(1011), EndTcp);
    assert.equal(connection.code, 1011);
  });

  test('once closed nothing more is done', () => {
    const connection = open(true);
    connection.closed();
    assert.equal(connection.fail(1002), None);
    assert.equal(connection.abort(1008), None);
    assert.equal(connection.terminate(), None);
    assert.equal(connection.close(1000, Buffer.alloc(0)), None);
  });

  test('a peer past a limit is cut off without a close frame; terminate() likewise', () => {
    const connection = open(true);
    assert.equal(connection.abort(1013), Destroy);
    assert.equal(connection.state, ReadyState.CLOSING);
    assert.equal(connection.code, 1013);
    assert.equal(connection.closeSent, false);
    const other = open(false);
    assert.equal(other.terminate(), Destroy);
    assert.equal(other.code, 1006);
  });

  test('the peer ending TCP before any close frame: we end ours; a protocol error then still sends a close frame', () => {
    const connection = open(true);
    assert.equal(connection.receiveEnd(), EndTcp);
    assert.equal(connection.state, ReadyState.CLOSING);
    assert.equal(connection.fail(1002), SendClose);
  });
});
