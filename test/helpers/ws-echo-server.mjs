// Stand-in for `node bin/switchboard.js serve --echo --port P --host H`, built
// on the `ws` package. Used only when SWITCHBOARD_TEST_AGAINST=ws, to check the
// end-to-end tests against the reference implementation.
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : args[i + 1];
};
if (args[0] !== 'serve' || !args.includes('--echo')) {
  process.stderr.write('ws-echo-server.mjs supports only: serve --echo [--port P] [--host H]\n');
  process.exit(2);
}
const host = opt('--host', '127.0.0.1');
const wss = new WebSocketServer({ host, port: Number(opt('--port', '0')) });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => process.stdout.write(`listening on ws://${host}:${wss.address().port}\n`));
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
