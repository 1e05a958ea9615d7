// Epochs on the wire (docs/protocol.md, sections 4-5): the client's `epoch`
// in `join` and `epochs` in `resume`, the server's in `joined` and in a `gap`
// with `reset`; each validated, kept by the parser and sent by the encoder.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError, encodeMessage, parseClientMessage, parseServerMessage } from '../../packages/switchboard/src/wire/index.js';

const refused = (parse: () => unknown): void => assert.throws(parse, (e: unknown) => e instanceof WireError && e.code === 'bad_message');

describe('switchboard/wire: epochs', () => {
  test('join carries the epoch its since belongs to', () => {
    assert.deepEqual(parseClientMessage('{"t":"join","id":1,"room":"r","since":4,"epoch":"Jx0w3q1b"}'), { t: 'join', id: 1, room: 'r', since: 4, epoch: 'Jx0w3q1b' });
    assert.deepEqual(parseClientMessage('{"t":"join","id":1,"room":"r","since":4}'), { t: 'join', id: 1, room: 'r', since: 4 }, 'without one, none (a client of an earlier version)');
    for (const epoch of ['""', '7', 'null', '["a"]', JSON.stringify('e'.repeat(65))]) refused(() => parseClientMessage(`{"t":"join","id":1,"room":"r","since":4,"epoch":${epoch}}`));
    assert.equal((parseClientMessage(`{"t":"join","room":"r","since":4,"epoch":"${'e'.repeat(64)}"}`) as { epoch?: string }).epoch, 'e'.repeat(64));
    const text = encodeMessage({ t: 'join', id: 2, room: 'r', since: 4, epoch: 'Jx0w3q1b' });
    assert.deepEqual(JSON.parse(text), { t: 'join', id: 2, room: 'r', since: 4, epoch: 'Jx0w3q1b' });
  });

  test('resume carries an epoch per room, a room named "__proto__" included', () => {
    const text = '{"t":"resume","id":9,"rooms":{"a":3,"__proto__":5},"epochs":{"a":"E1","__proto__":"E2"}}';
    const m = parseClientMessage(text) as Extract<ReturnType<typeof parseClientMessage>, { t: 'resume' }>;
    assert.equal(m.t, 'resume');
    assert.ok(m.epochs !== undefined && Object.hasOwn(m.epochs, '__proto__'));
    assert.equal(m.epochs['a'], 'E1');
    assert.equal(m.epochs['__proto__'], 'E2');
    assert.equal(parseClientMessage('{"t":"resume","rooms":{"a":3}}').t, 'resume');
    assert.equal((parseClientMessage('{"t":"resume","rooms":{"a":3}}') as { epochs?: unknown }).epochs, undefined);
    for (const epochs of ['[]', '"E1"', '{"a":3}', '{"a":""}', `{"a":"${'e'.repeat(65)}"}`]) refused(() => parseClientMessage(`{"t":"resume","id":1,"rooms":{"a":3},"epochs":${epochs}}`));
    // As many rooms as `rooms` may name, no more.
    const many = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`r${i}`, 'E']));
    refused(() => parseClientMessage(JSON.stringify({ t: 'resume', rooms: {}, epochs: many }), { maxResumeRooms: 2 }));
    assert.equal(parseClientMessage(JSON.stringify({ t: 'resume', rooms: {}, epochs: many }), { maxResumeRooms: 3 }).t, 'resume');
  });

  test('joined and a reset gap name the room\'s epoch', () => {
    assert.deepEqual(parseServerMessage('{"t":"joined","room":"r","head":3,"epoch":"Qm7dR2vA"}'), { t: 'joined', room: 'r', head: 3, epoch: 'Qm7dR2vA' });
    assert.deepEqual(parseServerMessage('{"t":"gap","room":"r","from":1,"to":4,"reset":true,"epoch":"Qm7dR2vA"}'), { t: 'gap', room: 'r', from: 1, to: 4, reset: true, epoch: 'Qm7dR2vA' });
    // A reset from a client that had seen nothing of the old run: from 1 to 0.
    assert.deepEqual(parseServerMessage('{"t":"gap","room":"r","from":1,"to":0,"reset":true,"epoch":"Q"}'), { t: 'gap', room: 'r', from: 1, to: 0, reset: true, epoch: 'Q' });
    assert.deepEqual(parseServerMessage('{"t":"joined","room":"r","head":3}'), { t: 'joined', room: 'r', head: 3 }, 'a server of an earlier version names none');
    refused(() => parseServerMessage('{"t":"joined","room":"r","head":3,"epoch":5}'));
    refused(() => parseServerMessage('{"t":"gap","room":"r","from":1,"to":4,"reset":true,"epoch":""}'));
    assert.deepEqual(JSON.parse(encodeMessage({ t: 'gap', room: 'r', from: 1, to: 4, reset: true, epoch: 'Q' })), { t: 'gap', room: 'r', from: 1, to: 4, reset: true, epoch: 'Q' });
  });
});
