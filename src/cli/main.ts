import { parseArgs } from 'node:util';
import { WebSocketServer } from '../index.js';
import type { WebSocket } from '../node/websocket.js';

const USAGE = `Usage: switchboard serve [--port 8082] [--host HOST] [--echo | --tutorial] [--deflate]

  --port N      port to listen on (default 8082; 0 picks a free port)
  --host H      address to listen on (default: all interfaces)
  --echo        echo every message back unchanged (same type)
  --tutorial    behave as the classic ws tutorial server (the default)
  --deflate     negotiate permessage-deflate when clients offer it

Prints "listening on ws://HOST:PORT" when ready.`;

/** Entry point of the `switchboard` command. Returns the exit code for usage errors. */
export function main(argv: string[]): number | undefined {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === undefined && argv.length > 0) {
    console.log(USAGE);
    return 0;
  }
  if (command !== undefined && command !== 'serve') {
    console.error(`switchboard: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        port: { type: 'string', default: '8082' },
        host: { type: 'string' },
        echo: { type: 'boolean', default: false },
        tutorial: { type: 'boolean', default: false },
        deflate: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`switchboard: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`switchboard: --port must be a port number, got ${JSON.stringify(values.port)}`);
    return 2;
  }
  if (values.echo && values.tutorial) {
    console.error('switchboard: choose one of --echo and --tutorial');
    return 2;
  }
  serve(port, values.host, values.echo ? 'echo' : 'tutorial', values.deflate);
  return undefined;
}

function serve(port: number, host: string | undefined, mode: 'echo' | 'tutorial', deflate: boolean): void {
  const wss = new WebSocketServer({ port, ...(host !== undefined ? { host } : {}), maxPayload: 64 * 1024 * 1024, perMessageDeflate: deflate });
  wss.on('connection', mode === 'echo' ? echo : tutorial);
  wss.on('listening', () => {
    const address = wss.address();
    if (address && typeof address === 'object') {
      const shown = host ?? 'localhost';
      console.log(`listening on ws://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}`);
    }
  });
  wss.on('error', (error: Error) => {
    console.error(`switchboard: ${error.message}`);
    process.exit(1);
  });
  const stop = (): void => {
    wss.shutdown({ code: 1001, timeout: 2000 }).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function echo(ws: WebSocket): void {
  ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
}

function tutorial(ws: WebSocket): void {
  console.log('New Client Connected');
  ws.on('message', (data: Buffer) => {
    console.log(`Client Has send us the data: ${data}`);
    ws.send(`We have recieved a message: ${data}`);
  });
  ws.on('close', () => {
    console.log('Client has disconnected!');
  });
}
