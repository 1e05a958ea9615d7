// Every malformed client message gets an `error` reply with a code; none
// throws, none closes the connection, and the connection keeps working.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, delay, startHub, type TestHub } from './helpers.js';

describe('hub: malformed messages', { timeout: 30_000 }, () => {
  let t: TestHub;
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  before(async () => {
    t = await startHub({ rateLimit: false, maxMessageSize: 4096 });
    t.hub.on('connection', (c) => c.on('echo', (d, reply) => reply(d)));
    process.on('warning', onWarning);
  });
  after(async () => {
    process.off('warning', onWarning);
    await t.close();
  });

  test('before hello: only hello is accepted', async () => {
    const c = await RawClient.connect(t.url);
    c.send({ t: 'join', id: 7, room: 'x' });
    assert.deepEqual(await c.next((m) => m.t === 'error'), { t: 'error', id: 7, code: 'hello_required', message: 'The first message must be "hello"' });
    c.send({ t: 'hello' });
    await c.next((m) => m.t === 'welcome');
    c.ws.close();
  });

  const cases: Array<[string, string | Buffer, string, number?]> = [
    ['not JSON', '{"t":"join",', 'bad_json'],
    ['empty text', '', 'bad_json'],
    ['a JSON array', '[1,2]', 'bad_message'],
    ['a JSON string', '"hello"', 'bad_message'],
    ['null', 'null', 'bad_message'],
    ['no type', '{"room":"x"}', 'unknown_type'],
    ['unknown type', '{"t":"subscribe","id":3}', 'unknown_type', 3],
    ['a numeric type', '{"t":5}', 'unknown_type'],
    ['bad id', '{"t":"join","id":-1,"room":"x"}', 'bad_message'],
    ['fractional id', '{"t":"join","id":1.5,"room":"x"}', 'bad_message'],
    ['join without room', '{"t":"join","id":4}', 'bad_message', 4],
    ['join with an empty room', '{"t":"join","id":5,"room":""}', 'bad_message', 5],
    ['join with a room name too long', JSON.stringify({ t: 'join', id: 6, room: 'r'.repeat(300) }), 'bad_message', 6],
    ['join with a negative since', '{"t":"join","id":7,"room":"x","since":-3}', 'bad_message', 7],
    ['join with a string since', '{"t":"join","id":8,"room":"x","since":"4"}', 'bad_message', 8],
    ['leave with a numeric room', '{"t":"leave","id":9,"room":12}', 'bad_message', 9],
    ['pub without ev', '{"t":"pub","id":10,"room":"x","data":1}', 'bad_message', 10],
    ['pub with a non-boolean volatile', '{"t":"pub","id":11,"room":"x","ev":"e","volatile":"yes"}', 'bad_message', 11],
    ['pub to a room not joined', '{"t":"pub","id":12,"room":"x","ev":"e","data":1}', 'not_member', 12],
    ['req without id', '{"t":"req","ev":"echo","data":1}', 'bad_message'],
    ['req with a reserved event', '{"t":"req","id":13,"ev":"connect"}', 'bad_message', 13],
    ['emit with a reserved event', '{"t":"emit","ev":"presence"}', 'bad_message'],
    ['emit without ev', '{"t":"emit","data":2}', 'bad_message'],
    ['dm with a bad target', '{"t":"dm","id":14,"to":"ann","ev":"e"}', 'bad_message', 14],
    ['dm with two targets', '{"t":"dm","id":15,"to":{"user":"a","client":"b"},"ev":"e"}', 'bad_message', 15],
    ['resume with a bad id', '{"t":"resume","id":16,"rooms":{"x":"nine"}}', 'bad_message', 16],
    ['resume without rooms', '{"t":"resume","id":17}', 'bad_message', 17],
    ['bin with data that is not base64', '{"t":"req","id":18,"ev":"echo","bin":1,"data":"@@@"}', 'bad_message', 18],
    ['bin with a number', '{"t":"req","id":19,"ev":"echo","bin":1,"data":5}', 'bad_message', 19],
    ['bin: 2', '{"t":"req","id":20,"ev":"echo","bin":2,"data":"AA=="}', 'bad_message', 20],
    ['ack without id', '{"t":"ack","data":1}', 'bad_message'],
    ['error without code', '{"t":"error","id":21}', 'bad_message', 21],
    ['a second hello', '{"t":"hello"}', 'bad_message'],
    ['too large', JSON.stringify({ t: 'emit', ev: 'echo', data: 'x'.repeat(5000) }), 'too_large'],
    ['a binary frame', Buffer.from('{"t":"ping"}'), 'bad_message'],
  ];

  test('each gets an error with a code (and the id when it had a valid one); the connection survives', async () => {
    const c = await RawClient.open(t.url);
    for (const [name, text, code, id] of cases) {
      const from = c.received.length;
      c.ws.send(text, { binary: Buffer.isBuffer(text) });
      const reply = await c.next(() => true, 2000, from);
      assert.equal(reply.t, 'error', `${name}: ${JSON.stringify(reply)}`);
      assert.equal(reply.code, code, `${name}: ${JSON.stringify(reply)}`);
      assert.equal(typeof reply.message, 'string', name);
      assert.equal(reply.id, id, `${name}: id`);
      // Still usable.
      const echo = await c.call({ t: 'req', ev: 'echo', data: name }, 1000 + from);
      assert.deepEqual(echo.data, name, `after ${name}`);
    }
    await delay(20);
    assert.equal(c.closed, null);
    assert.deepEqual(warnings, [], 'nothing was thrown or reported');
    c.ws.close();
  });

  test('the wrong subprotocol is refused with an error and close 4400', async () => {
    const c = await RawClient.connect(t.url, { protocols: ['chat.v9'] });
    const e = await c.next((m) => m.t === 'error');
    assert.equal(e.code, 'bad_message');
    assert.equal((await c.waitClosed()).code, 4400);
  });
});
