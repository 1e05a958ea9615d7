// The echo server malloc-reuse.test.ts measures in a child process, with the
// library from packages/switchboard/src. It follows ../shared/perf's server
// convention, as bench/page-faults.mjs expects: PORT from the environment,
// READY on stdout, every message echoed with its type.
import { WebSocketServer } from '../../packages/switchboard/src/index.js';

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT), maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => console.log('READY'));
process.on('SIGTERM', () => process.exit(0));
