// What the echo benchmarks that count a server's work per message share
// (echo-instructions.mjs, page-faults.mjs, alloc-per-message.mjs): their
// options and command line, the server started by ../shared/perf's convention
// (PORT and HOST from the environment, READY on stdout), and raw TCP
// WebSocket clients sending one masked binary frame again and again.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/**
 * `--name value` for each key of `defaults` (a number, or a string for the keys in `strings`), `--json`,
 * and `-- server command...` (default: node bench/servers/switchboard.mjs).
 */
export function parseEchoArgs(argv, defaults, strings = []) {
  const options = { ...defaults, json: false, command: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      options.command = argv.slice(i + 1);
      break;
    }
    if (arg === '--help' || arg === '-h') {
      printHeaderComment(process.argv[1]);
      process.exit(0);
    }
    if (arg === '--json') options.json = true;
    else if (strings.includes(arg.slice(2)) && arg.startsWith('--')) options[arg.slice(2)] = argv[++i];
    else if (arg.startsWith('--') && arg.slice(2) in options) options[arg.slice(2)] = Number(argv[++i]);
    else throw new Error(`unknown argument ${arg}`);
  }
  options.command ??= [process.execPath, path.join(BENCH, 'servers', 'switchboard.mjs')];
  return options;
}

/** Prints the comment at the top of `script` (its options and what it measures): the answer to --help. */
function printHeaderComment(script) {
  const lines = readFileSync(script, 'utf8').split('\n');
  const start = lines[0].startsWith('#!') ? 1 : 0;
  const end = lines.findIndex((line, i) => i >= start && !line.startsWith('//'));
  console.log(lines.slice(start, end < 0 ? lines.length : end).map((line) => line.replace(/^\/\/ ?/, '')).join('\n'));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `child` printed READY; `stderr()` is the end of what it wrote there, for the error. */
export function serverReady(child, timeoutMs, stderr) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server not READY within ${timeoutMs / 1000} s: ${stderr()}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      if (/^READY\b/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before READY: ${stderr()}`));
    });
  });
}

/** Keeps the last 4,000 characters `child` writes to stderr. */
export function stderrTail(child) {
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  return () => stderr;
}

/**
 * One masked frame (RFC 6455 section 5.2), sent as is every time: binary with a random payload, or with `text`
 * a text frame of JSON-like ASCII records (valid UTF-8, as ../shared/perf's --text sends).
 */
export function maskedFrame(size, text = false) {
  const lengthBytes = size < 126 ? 0 : size < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + 4);
  header[0] = text ? 0x81 : 0x82;
  if (lengthBytes === 0) header[1] = 0x80 | size;
  else if (lengthBytes === 2) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(size, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(size), 2);
  }
  const key = randomBytes(4);
  key.copy(header, 2 + lengthBytes);
  const payload = text ? jsonLikeText(size) : randomBytes(size);
  for (let i = 0; i < size; i++) payload[i] ^= key[i & 3];
  return Buffer.concat([header, payload]);
}

function jsonLikeText(size) {
  let records = '';
  for (let id = 0; records.length < size; id++) records += `{"id":${id},"room":"lobby-${id % 7}","user":"u${id}","text":"hello"},`;
  return Buffer.from(records.slice(0, size), 'latin1');
}

/** Bytes of the server's unmasked echo of a `size`-byte message. */
export function replyLength(size) {
  return 2 + (size < 126 ? 0 : size < 65536 ? 2 : 8) + size;
}

/** A raw TCP connection, upgraded to WebSocket; nothing may arrive before the first echo. */
export function openConnection(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.on('error', reject);
    socket.on('connect', () => {
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let head = '';
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`handshake refused: ${head.slice(0, 80)}`));
      if (head.length > end + 4) return reject(new Error('server sent data before any message'));
      resolve(socket);
    };
    socket.on('data', onData);
  });
}

/**
 * Opens `connections` upgraded connections to `port`, each with one masked `size`-byte message in flight, sent
 * again as soon as its echo is back, until `warmup` and then `messages` more echoes are back. `onWarmedUp` runs
 * on the echo that ends the warm-up and `onMeasured` on the one that ends the measured window, in the handler
 * that counts it, before the next message is sent: what they read of the server spans the measured messages.
 */
export async function runEchoes(port, { connections, size, warmup, messages }, { onWarmedUp, onMeasured }) {
  const sockets = [];
  try {
    for (let i = 0; i < connections; i++) sockets.push(await openConnection(port));
    const frame = maskedFrame(size);
    const reply = replyLength(size);
    const total = warmup + messages;
    let sent = 0;
    let echoed = 0;
    await new Promise((resolve, reject) => {
      for (const socket of sockets) {
        let pending = 0;
        socket.on('data', (chunk) => {
          pending += chunk.length;
          while (pending >= reply) {
            pending -= reply;
            echoed++;
            if (echoed === warmup) onWarmedUp();
            if (echoed === total) {
              onMeasured();
              resolve();
            }
            if (sent < total) {
              sent++;
              socket.write(frame);
            }
          }
        });
        socket.on('error', reject);
        socket.on('close', () => {
          if (echoed < total) reject(new Error('a connection closed during the run'));
        });
      }
      for (const socket of sockets) {
        if (sent < total) {
          sent++;
          socket.write(frame);
        }
      }
    });
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

/**
 * The command line of an echo benchmark run as a script: `--name value` for each key of `defaults` (see
 * parseEchoArgs), a limit of `--timeout` seconds, and `measure(options)`'s result (with the run's
 * `connections`, `size` and `messages`) printed as JSON (`--json`) or as a line that ends with `describe(result)`.
 */
export async function runEchoBenchCommand(defaults, measure, describe) {
  const options = parseEchoArgs(process.argv.slice(2), defaults);
  process.once('SIGTERM', () => process.exit(143));
  setTimeout(() => {
    console.error(`no result within ${options.timeout} s`);
    process.exit(1);
  }, options.timeout * 1000).unref();
  const result = await measure(options);
  if (options.json) console.log(JSON.stringify(result));
  else console.log(`${result.connections} connections x ${result.size} B echo, ${result.messages} messages measured: ${describe(result)}`);
}
