// Echo-client agent for the conformance suite's client mode (Autobahn's
// fuzzingserver protocol): asks for the case count, runs every case by
// echoing each message back with the same type until the server closes,
// then asks for the reports. The suite passes WS_FUZZ_URL and WS_FUZZ_AGENT.
//   node packages/conformance/run.mjs client --port 9001 --agent switchboard -- node scripts/conformance-client.mjs
import { WebSocket } from 'switchboard';

const base = process.env.WS_FUZZ_URL ?? process.argv[2] ?? 'ws://127.0.0.1:9001';
const agent = process.env.WS_FUZZ_AGENT ?? 'switchboard';

function run(path, onOpen) {
  return new Promise((resolve) => {
    // Cases 9.3.1 and 9.4.1 send a 4 MiB message in 65,536 fragments, past the
    // default maxFragments (16,384, as ws), which would refuse them with 1008.
    const ws = new WebSocket(`${base}${path}`, { maxFragments: 65_536 });
    let result = null;
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (onOpen) result = data.toString();
      else ws.send(data, { binary: isBinary });
    });
    ws.on('close', () => resolve(result));
  });
}

const count = Number(await run('/getCaseCount', true));
for (let i = 1; i <= count; i++) {
  await run(`/runCase?case=${i}&agent=${encodeURIComponent(agent)}`);
}
await run(`/updateReports?agent=${encodeURIComponent(agent)}`);
