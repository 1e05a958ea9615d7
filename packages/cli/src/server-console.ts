// `switchboard serve --interactive` (wscat -l PORT): a prompt on the server's
// terminal. What is typed goes to every connected client (or, with /to N, to
// one); what clients send is printed above the prompt, marked with the
// connection's id. Unlike wscat, which takes one client and drops the rest,
// every client is kept: each gets an id (#1, #2, ...) to address it by.
import { performance } from 'node:perf_hooks';
import type { Interface } from 'node:readline';
import type { WebSocket } from 'switchboard';
import type { Style } from './color.js';
import { formatRtt } from './connect-output.js';
import { describeClose, oneLine } from './format.js';
import { clearPromptLine, createPrompt, formatReceived, formatStatus, printAbovePrompt, releaseInput } from './prompt-output.js';

export const SERVER_CONSOLE_HELP = [
  'type a line and press Enter to send it to every connected client',
  '/to N text              send "text" to client #N only',
  '/clients                list the connected clients',
  '/ping [N]               ping every client (or #N); pongs are shown with the round-trip time',
  '/close N [code] [reason]  close client #N (code 1000 by default)',
  '/help                   show this list',
  '//text                  send "/text" (a message that starts with a slash)',
  'Ctrl+D, Ctrl+C          close every connection with 1001 and stop the server',
];

/** Unanswered pings remembered per client, for the round-trip time (older ones are forgotten). */
const MAX_PINGS = 16;

interface Client {
  ws: WebSocket;
  remote: string;
  pings: number[];
}

export class ServerConsole {
  private rl: Interface | null = null;
  private readonly clients = new Map<number, Client>();
  private stopped = false;

  constructor(
    private readonly style: Style,
    /** Called once when the operator ends the console (Ctrl+D, Ctrl+C, end of piped input). */
    private readonly onEnd: () => void,
    private readonly input: NodeJS.ReadStream = process.stdin,
    /** The prompt and status lines; received messages too when it is a terminal. */
    private readonly output: NodeJS.WriteStream = process.stdout.isTTY ? process.stdout : process.stderr,
    /** Where received messages go when stdout is not a terminal: one per line, as sent. */
    private readonly data: NodeJS.WriteStream | null = process.stdout.isTTY ? null : process.stdout,
  ) {}

  start(): void {
    const rl = createPrompt(this.style, this.input, this.output, this.output.isTTY === true && this.input.isTTY === true);
    this.rl = rl;
    rl.on('line', (line: string) => {
      this.onLine(line);
      if (this.rl !== null) rl.prompt();
    });
    rl.on('close', () => {
      this.rl = null;
      if (this.stopped) return;
      this.stopped = true;
      this.onEnd();
    });
    this.status('waiting for clients; what you type goes to every connected client (/help lists the commands)');
    rl.prompt();
  }

  /** The server is shutting down: release the terminal. */
  stop(): void {
    this.stopped = true;
    const rl = this.rl;
    this.rl = null;
    if (rl !== null) {
      if (this.output.isTTY) clearPromptLine(this.output);
      rl.close();
    }
    releaseInput(this.input);
  }

  /** A new connection: it gets the id `id` until it closes. */
  attach(ws: WebSocket, id: number, remote: string): void {
    const client: Client = { ws, remote, pings: [] };
    this.clients.set(id, client);
    this.status(`#${id} connected from ${remote} (${this.countText()})`);
    ws.on('message', (data: Buffer, isBinary: boolean) => this.received(id, data, isBinary));
    ws.on('pong', () => {
      const at = client.pings.shift();
      if (at !== undefined) this.print(this.style.magenta(`< #${id} pong (${formatRtt(performance.now() - at)})`));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.clients.delete(id);
      this.status(`#${id} disconnected: ${describeClose(code, reason)} (${this.countText()})`);
    });
  }

  private countText(): string {
    const n = this.clients.size;
    return `${n} client${n === 1 ? '' : 's'} connected`;
  }

  private received(id: number, data: Buffer, isBinary: boolean): void {
    if (this.data !== null) {
      this.data.write(isBinary ? `${data.toString('hex')}\n` : `${data.toString('utf8')}\n`);
      return;
    }
    this.print(formatReceived(this.style, `< #${id}`, data, isBinary));
  }

  private print(line: string): void {
    printAbovePrompt(this.output, this.rl, line);
  }

  private status(text: string, kind: 'info' | 'error' = 'info'): void {
    this.print(formatStatus(this.style, text, kind));
  }

  private onLine(line: string): void {
    if (line.startsWith('/') && !line.startsWith('//')) {
      this.command(line);
      return;
    }
    if (line === '') return;
    this.sendTo([...this.clients.keys()], line.startsWith('//') ? line.slice(1) : line);
  }

  private sendTo(ids: number[], text: string): void {
    let sent = 0;
    for (const id of ids) {
      const client = this.clients.get(id);
      if (client === undefined || client.ws.readyState !== client.ws.OPEN) continue;
      client.ws.send(text);
      sent++;
    }
    if (sent === 0) this.status(ids.length === 0 ? 'no client is connected; not sent' : 'that client is not connected; not sent', 'error');
  }

  /** "3" or "#3" → 3; undefined when `word` is not a connected client's id. */
  private clientId(word: string | undefined): number | undefined {
    const m = /^#?(\d+)$/.exec(word ?? '');
    if (m === null) return undefined;
    const id = Number(m[1]);
    if (!this.clients.has(id)) {
      this.status(`no client #${id}; /clients lists them`, 'error');
      return undefined;
    }
    return id;
  }

  private command(line: string): void {
    const m = /^\/(\S*)\s?(.*)$/s.exec(line)!;
    const name = m[1]!;
    const rest = m[2]!;
    switch (name) {
      case 'help':
        for (const help of SERVER_CONSOLE_HELP) this.status(help);
        return;
      case 'clients':
        if (this.clients.size === 0) this.status('no client is connected');
        for (const [id, client] of this.clients) this.status(`#${id} ${client.remote}`);
        return;
      case 'to': {
        const space = rest.indexOf(' ');
        const id = this.clientId(space === -1 ? rest : rest.slice(0, space));
        if (id === undefined) {
          if (!/^#?\d+/.test(rest)) this.status('usage: /to N text', 'error');
          return;
        }
        this.sendTo([id], space === -1 ? '' : rest.slice(space + 1));
        return;
      }
      case 'ping': {
        const ids = rest.trim() === '' ? [...this.clients.keys()] : [this.clientId(rest.trim())].filter((id): id is number => id !== undefined);
        if (rest.trim() === '' && ids.length === 0) this.status('no client is connected', 'error');
        for (const id of ids) {
          const client = this.clients.get(id)!;
          try {
            client.ws.ping();
            client.pings.push(performance.now());
            if (client.pings.length > MAX_PINGS) client.pings.shift();
          } catch (error) {
            this.status(`cannot ping #${id}: ${oneLine((error as Error).message)}`, 'error');
          }
        }
        return;
      }
      case 'close': {
        const args = /^(\S+)\s*(\d+)?\s*(.*)$/s.exec(rest);
        const id = this.clientId(args?.[1]);
        if (id === undefined) {
          if (args === null) this.status('usage: /close N [code] [reason]', 'error');
          return;
        }
        const code = args![2] === undefined ? 1000 : Number(args![2]);
        try {
          this.clients.get(id)!.ws.close(code, args![3] ?? '');
          this.status(`closing #${id} with ${describeClose(code, args![3] ?? '')}`);
        } catch (error) {
          this.status(`cannot close #${id}: ${oneLine((error as Error).message)}`, 'error');
        }
        return;
      }
      default:
        this.status(`unknown command /${name}; /help lists the commands (//${name} sends "/${name}")`, 'error');
    }
  }
}
