// What the fuzz campaign found (issue #13), kept as regression tests: each of
// these failed before its fix (the hub's parse-time depth check, the 431
// reason phrase).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError, encodeMessage, parseClientMessage } from '../../packages/switchboard/src/hub/wire.js';
import net from 'node:net';
import { checkAnswer, openHubClient, startServer } from './targets/sockets.js';

/** Found by `npm run fuzz -- --target hub-wire --hub-depth 10000` (and socket-hub): JSON nested 6,000 deep. */
const DEEP = 6000;
const deepData = `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`;

describe('fuzz findings (regressions)', () => {
  test('hub wire: data nested 6,000 deep is refused at parse time (bad_message), not accepted unserialisable', () => {
    let parsed: ReturnType<typeof parseClientMessage> | undefined;
    try {
      parsed = parseClientMessage(`{"t":"pub","id":1,"room":"r","ev":"e","data":${deepData}}`);
    } catch (error) {
      assert.ok(error instanceof WireError);
      assert.equal(error.code, 'bad_message');
      return;
    }
    // Accepted: then the hub must at least be able to send it on.
    assert.doesNotThrow(() => encodeMessage({ t: 'msg', room: 'r', mid: 1, ev: 'e', data: (parsed as { data: unknown }).data }));
  });

  test('echo server: a request head that passes 16 KiB before its end is refused with 431 and its proper reason phrase', { timeout: 30_000 }, async () => {
    // Found by npm run fuzz (socket-echo, seed 1232577512, input 9921): a head that never ends, then frame bytes.
    const session = await startServer('echo');
    try {
      const answer = await new Promise<Buffer>((resolve) => {
        const socket = net.connect(session.port, '127.0.0.1');
        let received = Buffer.alloc(0);
        socket.on('error', () => resolve(received));
        socket.on('data', (data: Buffer) => (received = Buffer.concat([received, data])));
        socket.on('close', () => resolve(received));
        socket.on('connect', () => {
          socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
          socket.write(`X-Filler: ${'a'.repeat(17 * 1024)}\r\n`);
        });
        setTimeout(() => socket.destroy(), 5000);
      });
      assert.match(answer.toString('latin1'), /^HTTP\/1\.1 431 /);
      checkAnswer(answer, { acceptable: false });
    } finally {
      session.child.kill('SIGTERM');
    }
  });

  test('hub over a socket: after a deep pub, a member joining with history gets no error and still gets live messages', { timeout: 60_000 }, async () => {
    const session = await startServer('hub');
    try {
      const attacker = await openHubClient(session.port);
      attacker.send({ t: 'join', id: 1, room: 'deep' });
      await attacker.next((m) => m.t === 'ack' && m.id === 1, 'attacker join');
      attacker.send({ t: 'pub', id: 2, room: 'deep', ev: 'before', data: 1 });
      await attacker.next((m) => m.id === 2, 'first pub answered');
      // Sent as text (JSON.stringify of the value itself would overflow here).
      attacker.sendRaw(`{"t":"pub","id":3,"room":"deep","ev":"deep","data":${deepData}}`);
      // Refused before it is parsed, so the answer cannot carry its id.
      const answer = await attacker.next((m) => m.id === 3 || (m.t === 'error' && m.id === undefined), 'deep pub answered');
      const reader = await openHubClient(session.port);
      reader.send({ t: 'join', id: 1, room: 'deep', since: 0 });
      await reader.next((m) => m.t === 'ack' && m.id === 1, 'reader join');
      attacker.send({ t: 'pub', id: 4, room: 'deep', ev: 'after', data: 2 });
      await attacker.next((m) => m.id === 4, 'last pub answered');
      const live = await reader.next((m) => m.t === 'msg' && m.ev === 'after', 'the live message after the deep one').catch((e: Error) => e);
      assert.deepEqual(reader.errors, [], 'the honest reader got errors');
      assert.ok(!(live instanceof Error), String(live));
      assert.equal(answer.t === 'error' ? answer.code : 'ack', 'bad_message', `the deep pub was answered ${JSON.stringify(answer)}`);
    } finally {
      session.child.kill('SIGTERM');
    }
  });
});
