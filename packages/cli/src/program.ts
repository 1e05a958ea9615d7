// The command line: commands, options, help texts. Parsing and usage errors
// are commander's; what the commands do is in serve.ts and connect.ts.
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ConnectOptions } from './connect.js';
import { DEFAULT_HOST } from './listen-address.js';
import type { Mode } from './modes.js';
import { BINARY_FORMATS, type BinaryFormat } from './connect-output.js';
import { collect, parseCount, parseHeader, parsePort, parseSeconds, parseSize, parseSubprotocol, parseWait } from './options.js';
import { parseRelayAllow, type PlaygroundOptions } from './playground.js';
import type { ReplayOptions } from './replay.js';
import type { LogFormat } from './server-log.js';
import { DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_PAYLOAD, type ServeOptions } from './serve.js';
import { hubServeOptions, HUB_EXAMPLES, parseNodeUrls, parseOrigins, parseWorkers } from './hub-options.js';

export interface Actions {
  serve(options: ServeOptions): Promise<void>;
  replay(options: ReplayOptions): Promise<void>;
  connect(options: ConnectOptions): Promise<void>;
  playground(options: PlaygroundOptions): Promise<void>;
}

const SERVE_EXAMPLES = `
Modes:
  --tutorial (default)  the classic ws tutorial server: prints "New Client Connected",
                        "Client Has send us the data: <data>", "Client has disconnected!"
                        and replies "We have recieved a message: <data>"
  --echo                sends every message back to its sender (text as text, binary as binary)
  --broadcast           sends every message to every other connected client (a group chat)

Log: one line per event (connect, message, close, error) on stdout, with a
timestamp and a connection id (#1, #2, ...). The first line is always
"listening on ws://ADDRESS:PORT" with the address bound, 127.0.0.1 unless
--host says otherwise (--json: {"event":"listening","url":...}).
What clients send is shown with control characters escaped (\\x1b, \\r, ...).
In tutorial mode the tutorial's own lines replace the connect, message and
close lines; --json prints only JSON lines and --quiet only the listening line.
SIGINT/SIGTERM (Ctrl+C) closes every connection with 1001 and exits 0.

Playground: open http://HOST:PORT/ (the same port) in a browser for a page
that connects, sends text, JSON or binary messages and shows the traffic.
With request headers it connects through a relay in this process, which
reaches only this machine unless --relay-allow lists other hosts.
--no-playground answers plain HTTP requests with 426 instead.

Examples:
  $ switchboard serve                                   # tutorial server on 127.0.0.1:8082
  $ switchboard serve --host 0.0.0.0                    # reachable from other machines
  $ switchboard serve --echo --port 9001 --host 127.0.0.1
  $ switchboard serve --broadcast --path /chat --json
  $ switchboard serve --echo --tls-cert cert.pem --tls-key key.pem --port 8443
  $ switchboard serve --echo --subprotocol chat.v2 --subprotocol chat.v1
  $ switchboard serve --interactive --port 9001        # the same as: switchboard -l 9001
  $ switchboard serve --tcp-connect 127.0.0.1:5900     # each connection to its own TCP connection (websockify)
  $ switchboard serve --exec "node count-words.js"     # a program per connection (websocketd)

Interactive (--interactive, -l PORT): a prompt; each line goes to every
connected client, "/to N text" to client #N only; /clients, /ping [N],
/close N [code] [reason], /help; Ctrl+D closes every connection with 1001.
`;

const CONNECT_EXAMPLES = `
Input:
  stdin is a terminal  interactive: a prompt with history; /ping [data],
                       /close [code] [reason], /help; Ctrl+D closes with 1000
  stdin is a pipe      each line is a message; when stdin ends (and --wait
                       seconds pass, default 0) the connection closes with 1000
  -x MESSAGE           sends the messages, waits --wait seconds (default 1),
                       closes with 1000; stdin is not read
  --echo               sends every received message back; runs until the server
                       closes (stdin is not read)
  --exec CMD           a program's stdout lines are sent, received messages go
                       to its stdin (no shell); its exit closes the connection
  --tcp-listen PORT    a TCP server: each TCP connection gets its own
                       WebSocket, bytes both ways as binary messages
Received messages are printed one per line (binary ones as hex); on a
terminal, control characters in them are shown escaped (\\x1b, \\r, ...),
to a pipe or file text goes as received; --json escapes them as \\u.

Exit codes: 0 clean close, 1 connection or protocol error (reason on stderr),
2 usage error.

Examples:
  $ switchboard connect ws://localhost:8082
  $ printf 'hello\\nworld\\n' | switchboard connect ws://localhost:8082
  $ switchboard connect ws://localhost:8082 -x hello -x world --wait 0.5
  $ switchboard connect wss://example.test/feed -H "Authorization: Bearer s3cret" -s feed.v2
  $ switchboard connect wss://localhost:8443 --ca cert.pem --json --show-control
  $ switchboard connect ws://127.0.0.1:9001 --echo
  $ switchboard -c localhost:8082                        # wscat's spelling
  $ switchboard connect ws://localhost:8082/feed -x subscribe -w -1
  $ switchboard connect ws://localhost:8082 --binary-file photo.png --binary-output raw > reply.bin
  $ switchboard connect wss://example.test --proxy http://proxy.local:3128 --auth user:pass
  $ switchboard connect ws://localhost:8082 --record session.jsonl   # then: switchboard replay session.jsonl
  $ switchboard connect ws://localhost:8082 --exec "./bot.sh"       # messages on its stdin/stdout
  $ switchboard connect ws://localhost:8082 --tcp-listen 5900       # each TCP client on 127.0.0.1:5900 gets a WebSocket
  $ switchboard connect ws://localhost:8082 -x ping --reconnect --ping-interval 30
`;

const PLAYGROUND_EXAMPLES = `
The page is at http://ADDRESS:PORT/ ("listening on http://ADDRESS:PORT" is
the first line printed; 127.0.0.1 unless --host says otherwise). Messages with request headers, and pings, go through
the relay in this process, which connects only to this machine (127.0.0.0/8,
::1, localhost) and to hosts listed with --relay-allow: an open relay would
let anyone who reaches it use this machine to reach hosts on its network.

Examples:
  $ switchboard playground                              # http://127.0.0.1:8083/
  $ switchboard playground --host 0.0.0.0               # reachable from other machines
  $ switchboard playground --port 9000 --host 127.0.0.1 --url ws://127.0.0.1:9001/chat
  $ switchboard playground --relay-allow staging.example.test
`;

function parsePositiveSeconds(value: string): number {
  const seconds = parseSeconds(value);
  if (seconds === 0) throw new InvalidArgumentError('expected a number of seconds above 0');
  return seconds;
}

export function createProgram(version: string, actions: Actions): Command {
  const program = new Command('switchboard')
    .description('WebSocket server and client (RFC 6455) from the command line')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
      outputError: (text, write) => write(text.replace(/^error: /, 'switchboard: ')),
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', `
Examples:
  $ switchboard serve --echo --port 9001
  $ switchboard connect ws://localhost:9001

Run "switchboard <command> --help" for a command's options.`);

  program
    .command('serve')
    .description('run a WebSocket server (tutorial, echo or broadcast)')
    .option('--port <port>', 'port to listen on (0 picks a free port)', parsePort, 8082)
    .option('--host <host>', `address to listen on (default: ${DEFAULT_HOST}, this machine only; 0.0.0.0 or :: for every interface)`)
    .option('--path <path>', 'accept connections on this path only (others get 400)')
    .addOption(new Option('--tutorial', 'the classic ws tutorial server (default)').conflicts(['echo', 'broadcast']))
    .addOption(new Option('--echo', 'echo every message back to its sender').conflicts(['broadcast']))
    .addOption(new Option('--broadcast', 'send every message to every other client'))
    .option('--deflate', 'negotiate permessage-deflate when clients offer it')
    .option('--tls-cert <file>', 'PEM certificate: serve wss:// (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--no-http2', 'with --tls-cert: serve HTTP/1.1 only (by default HTTP/2, with WebSockets as RFC 8441 streams, and HTTP/1.1 share the port)')
    .option('--subprotocol <name>', 'accept only this subprotocol (repeatable; the first the client offers that is listed is chosen)', parseSubprotocol)
    .addOption(
      new Option('--max-payload <bytes>', 'largest message (e.g. 1048576, 64k, 16M); larger ones close with 1009')
        .argParser(parseSize)
        .default(DEFAULT_MAX_PAYLOAD, '64M'),
    )
    .addOption(
      new Option('--max-fragments <count>', 'most frames one message may come in (0: no limit); more close with 1008')
        .argParser(parseCount)
        .default(DEFAULT_MAX_FRAGMENTS),
    )
    .addOption(new Option('--quiet', 'print only the listening line').conflicts(['json']))
    .option('--json', 'log JSON lines instead of text')
    .addOption(new Option('--tcp-connect <host:port>', 'bridge each connection to its own TCP connection to HOST:PORT (binary messages both ways)').conflicts(['echo', 'broadcast', 'exec', 'interactive']))
    .addOption(new Option('-i, --interactive', 'type messages to the connected clients at a prompt (wscat -l); their messages are shown above it').conflicts(['echo', 'broadcast', 'json', 'exec']))
    .option('--exec <command>', 'run this program for each connection: messages on its stdin, its stdout lines sent back (no shell)')
    .option('--max-processes <count>', 'most --exec programs at once; more connections get 503 (default 16)', parseCount)
    .option('--heartbeat <seconds>', 'ping connections quiet this long; drop those that do not answer within as long again', parseSeconds)
    .option('--no-playground', 'do not serve the browser playground (GET /) and its relay')
    .option('--relay-allow <hosts>', 'let the playground\'s relay connect to these hosts too (comma-separated, repeatable; "*" for any)', parseRelayAllow)
    .option('--workers <count>', 'processes sharing the port (node:cluster), "auto" for one per core; a dead one is restarted', parseWorkers)
    .addOption(
      new Option('--metrics [addr]', 'Prometheus metrics at /metrics: on the serve port, or on [HOST:]PORT of their own (needs @switchboard/metrics)').conflicts('workers'),
    )
    .addOption(new Option('--hub', 'run a switchboard/hub server (rooms, presence, resume) on --path, default /hub').conflicts(['tutorial', 'echo', 'broadcast', 'exec', 'subprotocol']))
    .addOption(new Option('--auth-token <secret>', '--hub: clients must present this token (hello auth.token, ?token= or Bearer)').env('SWITCHBOARD_AUTH_TOKEN').conflicts('jwtSecret'))
    .addOption(new Option('--jwt-secret <secret>', '--hub: clients must present a JWT signed with this HS256 secret; its "sub" is the user id').env('SWITCHBOARD_JWT_SECRET'))
    .option('--allow-origin <origins>', '--hub: accept browsers only from these origins (comma-separated, repeatable)', parseOrigins)
    .option('--history <count>', '--hub: messages kept per room for resume (default 1000; 0: none)', parseCount)
    .option('--history-age <seconds>', '--hub: how long a message stays in history (default 600)', parseSeconds)
    .option('--rate <messages>', '--hub: messages per second a connection may send, sustained (default 50; 0: no limit)', parseCount)
    .option('--burst <messages>', '--hub: messages a connection may send in a burst (default 100)', parseCount)
    .addOption(new Option('--api-key <key>', '--hub: enable POST /api/publish with "Authorization: apikey KEY"').env('SWITCHBOARD_API_KEY'))
    .addOption(new Option('--redis <url>', '--hub: share rooms with other processes through Redis (needs @switchboard/redis)').env('SWITCHBOARD_REDIS_URL'))
    .option('--advertise-url <urls>', '--hub: the nodes\' ws(s):// URLs, sent to clients to fail over between (comma-separated, repeatable)', parseNodeUrls)
    .addHelpText('after', SERVE_EXAMPLES + HUB_EXAMPLES)
    .action(async (o: Record<string, unknown>, command: Command) => {
      const mode: Mode = o.echo ? 'echo' : o.broadcast ? 'broadcast' : 'tutorial';
      const log: LogFormat = o.json ? 'json' : o.quiet ? 'quiet' : 'human';
      await actions.serve({
        port: o.port as number,
        host: o.host as string | undefined,
        path: o.path as string | undefined,
        mode,
        deflate: o.deflate === true,
        tlsCert: o.tlsCert as string | undefined,
        tlsKey: o.tlsKey as string | undefined,
        http2: o.http2 as boolean,
        subprotocols: (o.subprotocol as string[] | undefined) ?? [],
        maxPayload: o.maxPayload as number,
        maxFragments: o.maxFragments as number,
        log,
        playground: o.playground !== false,
        relayAllow: (o.relayAllow as string[] | undefined) ?? [],
        exec: o.exec as string | undefined,
        maxProcesses: o.maxProcesses as number | undefined,
        heartbeat: o.heartbeat as number | undefined,
        interactive: o.interactive === true,
        tcpConnect: o.tcpConnect as string | undefined,
        workers: o.workers as number | undefined,
        ...(o.metrics !== undefined ? { metrics: o.metrics as true | string } : {}),
        ...hubServeOptions(o, (name) => command.getOptionValueSource(name)),
      });
    });

  program
    .command('playground')
    .description('serve only the browser playground (and its relay), for any WebSocket server')
    .option('--port <port>', 'port to listen on (0 picks a free port)', parsePort, 8083)
    .option('--host <host>', `address to listen on (default: ${DEFAULT_HOST}, this machine only; 0.0.0.0 or :: for every interface)`)
    .option('--url <url>', 'the URL the page\'s URL field starts with', 'ws://localhost:8082/')
    .option('--relay-allow <hosts>', 'let the relay connect to these hosts too (comma-separated, repeatable; "*" for any)', parseRelayAllow)
    .option('--json', 'log JSON lines instead of text')
    .addHelpText('after', PLAYGROUND_EXAMPLES)
    .action(async (o: Record<string, unknown>) => {
      await actions.playground({
        port: o.port as number,
        host: o.host as string | undefined,
        url: o.url as string,
        relayAllow: (o.relayAllow as string[] | undefined) ?? [],
        maxPayload: DEFAULT_MAX_PAYLOAD,
        log: o.json ? 'json' : 'human',
      });
    });

  program
    .command('connect')
    .description('connect to a WebSocket server: interactive, piped or one-shot')
    .argument('<url>', 'ws://, wss://, http(s):// (as ws(s)://) or ws+unix:///path.sock:/route')
    .option('-H, --header <header>', 'extra request header "Name: value" (repeatable)', parseHeader)
    .option('-s, --subprotocol <name>', 'offer this subprotocol (repeatable, in order of preference)', parseSubprotocol)
    .option('-o, --origin <origin>', 'send this Origin header')
    .option('--auth <user:password>', 'HTTP Basic authentication')
    .option('--insecure', 'do not verify the server\'s TLS certificate')
    .option('-n, --no-check', 'the same as --insecure (wscat\'s name)')
    .option('--ca <file>', 'trust this PEM CA certificate (e.g. a self-signed server certificate)')
    .option('--cert <file>', 'client certificate (PEM), with --key')
    .option('--key <file>', 'private key (PEM) of --cert')
    .option('--passphrase <passphrase>', 'passphrase of --key')
    .option('--proxy <url>', 'connect through this HTTP proxy (CONNECT); default: $HTTPS_PROXY for wss://, $HTTP_PROXY for ws://')
    .option('--no-proxy', 'ignore HTTPS_PROXY and HTTP_PROXY')
    .option('-L, --location', 'follow redirects')
    .option('--max-redirects <count>', 'most redirects -L follows (default 10)', parseCount)
    .option('-x, --execute <message>', 'send this message once connected, then close (repeatable)', collect)
    .option('-w, --wait <seconds>', 'seconds to wait after the last message is sent before closing; -1: until the server closes (default: 1 with -x, 0 for stdin)', parseWait)
    .option('--binary', 'send binary frames: each line\'s raw bytes from stdin')
    .option('--binary-file <file>', 'send this file ("-": all of stdin) as one binary message, then --wait')
    .addOption(new Option('--binary-output <format>', 'print received binary messages as hex, base64 or raw bytes').choices(BINARY_FORMATS as string[]).default('hex'))
    .option('--echo', 'send every received message back (same type)')
    .option('--exec <command>', 'run this program: received messages on its stdin, its stdout lines sent (no shell)')
    .addOption(new Option('--tcp-listen <[host:]port>', 'listen on TCP (127.0.0.1 unless HOST); bridge each TCP connection to its own WebSocket to URL (binary)').conflicts(['execute', 'echo', 'exec', 'binaryFile', 'record', 'reconnect']))
    .option('-P, --show-control', 'print pings, pongs and close frames')
    .option('-v, --verbose', 'show the handshake response (status and headers) and redirects on stderr')
    .option('--json', 'print JSON lines (open, message, close, and control frames with --show-control)')
    .option('--no-deflate', 'do not offer permessage-deflate')
    .option('--http2', 'wss:// over an HTTP/2 stream (RFC 8441) where the server offers it, else HTTP/1.1')
    .option('--handshake-timeout <seconds>', 'give up if the opening handshake takes longer', parseSeconds, 10)
    .option('--ping-interval <seconds>', 'send a ping this often', parsePositiveSeconds)
    .option('--ping-timeout <seconds>', 'drop the connection (exit 1) when a ping is not answered in this time', parsePositiveSeconds)
    .option('--reconnect', 'connect again (1 s, doubling to 30 s) when the server closes or the connection fails (with -x, --echo or --exec)')
    .option('--record <file>', 'write the session to this file as JSON lines (for switchboard replay)')
    .addHelpText('after', CONNECT_EXAMPLES)
    .action(async (url: string, o: Record<string, unknown>) => {
      await actions.connect({
        url,
        headers: (o.header as Array<[string, string]> | undefined) ?? [],
        subprotocols: (o.subprotocol as string[] | undefined) ?? [],
        origin: o.origin as string | undefined,
        auth: o.auth as string | undefined,
        insecure: o.insecure === true || o.check === false,
        ca: o.ca as string | undefined,
        cert: o.cert as string | undefined,
        key: o.key as string | undefined,
        passphrase: o.passphrase as string | undefined,
        proxy: o.proxy === false ? false : (o.proxy as string | undefined),
        location: o.location === true,
        maxRedirects: o.maxRedirects as number | undefined,
        execute: (o.execute as string[] | undefined) ?? [],
        wait: o.wait as number | undefined,
        binary: o.binary === true,
        binaryFile: o.binaryFile as string | undefined,
        binaryOutput: o.binaryOutput as BinaryFormat,
        echo: o.echo === true,
        exec: o.exec as string | undefined,
        showControl: o.showControl === true,
        verbose: o.verbose === true,
        json: o.json === true,
        deflate: o.deflate !== false,
        http2: o.http2 === true,
        handshakeTimeout: o.handshakeTimeout as number,
        pingInterval: o.pingInterval as number | undefined,
        pingTimeout: o.pingTimeout as number | undefined,
        reconnect: o.reconnect === true,
        record: o.record as string | undefined,
        tcpListen: o.tcpListen as string | undefined,
      });
    });

  program
    .command('replay')
    .description('replay a session recorded with connect --record and compare the replies (exit 1 on a difference)')
    .argument('<file>', 'the recording (JSON lines)')
    .argument('[url]', 'connect here instead of the recorded URL')
    .option('--fast', 'send each message as soon as the previous reply matched, not with the recorded timing')
    .option('--ignore <field>', 'ignore this JSON field when comparing replies: a name at any depth, or a path such as meta.time or items.*.id (repeatable)', collect)
    .option('--timeout <seconds>', 'how long to wait for each reply', parseSeconds, 5)
    .option('-H, --header <header>', 'extra request header "Name: value" (repeatable)', parseHeader)
    .option('--auth <user:password>', 'HTTP Basic authentication')
    .option('--insecure', 'do not verify the server\'s TLS certificate')
    .option('--ca <file>', 'trust this PEM CA certificate')
    .option('--cert <file>', 'client certificate (PEM), with --key')
    .option('--key <file>', 'private key (PEM) of --cert')
    .option('--proxy <url>', 'connect through this HTTP proxy (CONNECT)')
    .addHelpText('after', `
Prints "replay: ok, N messages sent, M replies matched" and exits 0, or the
first difference (the recording's line, what was expected and received, and
for JSON each differing field) and exits 1. The format is in docs/cli.md.

Examples:
  $ switchboard connect ws://localhost:8082 --record session.jsonl
  $ switchboard replay session.jsonl
  $ switchboard replay session.jsonl ws://staging.example.test/ --fast --ignore id --ignore meta.time
`)
    .action(async (file: string, url: string | undefined, o: Record<string, unknown>) => {
      await actions.replay({
        file,
        url,
        fast: o.fast === true,
        ignore: (o.ignore as string[] | undefined) ?? [],
        timeout: o.timeout as number,
        headers: (o.header as Array<[string, string]> | undefined) ?? [],
        auth: o.auth as string | undefined,
        insecure: o.insecure === true,
        ca: o.ca as string | undefined,
        cert: o.cert as string | undefined,
        key: o.key as string | undefined,
        proxy: o.proxy as string | undefined,
        deflate: true,
        handshakeTimeout: 10,
      });
    });

  return program;
}
