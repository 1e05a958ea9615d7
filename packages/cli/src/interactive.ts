// `switchboard connect` on a terminal: a readline prompt with history;
// received messages are printed above the prompt, marked "<", what you send
// is marked ">", binary data is shown as hex, and slash commands send pings
// and close the connection.
import type { Interface } from 'node:readline';
import type { Style } from './color.js';
import { controlData, formatRtt, type ControlExtra, type ControlKind, type Direction, type OpenInfo, type Printer } from './connect-output.js';
import { describeClose, oneLine } from './format.js';
import { clearPromptLine, createPrompt, formatReceived, formatStatus, printAbovePrompt, releaseInput } from './prompt-output.js';
import type { Driver, Session } from './session.js';

export const INTERACTIVE_HELP = [
  'type a line and press Enter to send it as a message',
  '/ping [data]            send a ping; its pong is shown with the round-trip time',
  '/pong [data]            send an unsolicited pong',
  '/close [code] [reason]  close the connection (code 1000 by default) and exit',
  '/help                   show this list',
  '//text                  send "/text" (a message that starts with a slash)',
  'Ctrl+D, Ctrl+C          close the connection with 1000 and exit',
];

export class InteractiveUi implements Printer, Driver {
  private rl: Interface | null = null;
  private session: Session | null = null;
  private stopped = false;

  constructor(
    private readonly style: Style,
    private readonly input: NodeJS.ReadStream = process.stdin,
    private readonly output: NodeJS.WriteStream = process.stdout,
    /** When stdout is not a terminal: received messages go there, as in pipe mode, and nothing else does. */
    private readonly dataPrinter: Printer | null = null,
  ) {}

  // ---- output ---------------------------------------------------------------

  private print(line: string): void {
    printAbovePrompt(this.output, this.rl, line);
  }

  open(info: OpenInfo): void {
    const details = [info.protocol && `subprotocol ${info.protocol}`, info.extensions && info.extensions.split(';')[0]].filter(Boolean);
    this.status(`connected to ${info.url}${details.length ? ` (${details.join(', ')})` : ''}; /help lists the commands`);
  }

  message(data: Buffer, isBinary: boolean): void {
    if (this.dataPrinter !== null) {
      this.dataPrinter.message(data, isBinary);
      return;
    }
    this.print(formatReceived(this.style, '<', data, isBinary));
  }

  control(kind: ControlKind, direction: Direction, data: Buffer, extra: ControlExtra = {}): void {
    const marker = direction === 'in' ? '<' : '>';
    const detail = kind === 'close' ? describeClose(extra.code ?? 1005, data) : controlData(data);
    const rtt = extra.rttMs === undefined ? '' : ` (${formatRtt(extra.rttMs)})`;
    this.print(this.style.magenta(`${marker} ${kind}${detail ? ` ${detail}` : ''}${rtt}`));
  }

  status(text: string, kind: 'info' | 'error' = 'info'): void {
    this.print(formatStatus(this.style, text, kind));
  }

  closed(code: number, reason: Buffer): void {
    this.status(`closed: ${describeClose(code, reason)}`);
  }

  // ---- input ----------------------------------------------------------------

  start(session: Session): void {
    this.session = session;
    const rl = createPrompt(this.style, this.input, this.output, this.output.isTTY === true);
    this.rl = rl;
    rl.on('line', (line: string) => {
      this.recolorSentLine(line);
      this.onLine(line);
      if (this.rl !== null) rl.prompt();
    });
    // Ctrl+D on an empty line ends the input, and so does Ctrl+C (createPrompt).
    rl.on('close', () => {
      this.rl = null;
      if (this.stopped) return;
      if (this.output.isTTY) clearPromptLine(this.output);
      this.closeConnection(1000, '');
    });
    rl.prompt();
  }

  stop(): void {
    this.stopped = true;
    const rl = this.rl;
    this.rl = null;
    if (rl !== null) {
      clearPromptLine(this.output);
      rl.close();
    }
    releaseInput(this.input);
  }

  /** With colour, repaints the line just entered ("> text") in the outgoing colour. */
  private recolorSentLine(line: string): void {
    if (!this.style.enabled || !this.output.isTTY || line === '') return;
    const columns = this.output.columns || 80;
    const rows = Math.max(1, Math.ceil((2 + line.length) / columns));
    this.output.write(`\x1b[${rows}A\r\x1b[J${this.style.green(`> ${line}`)}\n`);
  }

  private onLine(line: string): void {
    const session = this.session!;
    if (line.startsWith('/') && !line.startsWith('//')) {
      this.command(line);
      return;
    }
    if (line === '') return;
    if (!session.isOpen) {
      this.status('the connection is closing; not sent', 'error');
      return;
    }
    session.send(line.startsWith('//') ? line.slice(1) : line);
  }

  private command(line: string): void {
    const session = this.session!;
    const space = line.indexOf(' ');
    const name = space === -1 ? line.slice(1) : line.slice(1, space);
    const rest = space === -1 ? '' : line.slice(space + 1);
    switch (name) {
      case 'help':
        for (const help of INTERACTIVE_HELP) this.status(help);
        return;
      case 'ping':
        try {
          session.ping(rest);
        } catch (error) {
          this.status(`cannot ping: ${oneLine((error as Error).message)}`, 'error');
        }
        return;
      case 'pong':
        try {
          session.pong(rest);
          if (!session.options.showControl) this.status(`pong sent${rest ? ` ${JSON.stringify(rest)}` : ''}`);
        } catch (error) {
          this.status(`cannot pong: ${oneLine((error as Error).message)}`, 'error');
        }
        return;
      case 'close': {
        const m = /^\s*(\d+)?\s*(.*)$/s.exec(rest)!;
        this.closeConnection(m[1] === undefined ? 1000 : Number(m[1]), m[2] ?? '');
        return;
      }
      default:
        this.status(`unknown command /${name}; /help lists the commands (//${name} sends "/${name}")`, 'error');
    }
  }

  private closeConnection(code: number, reason: string): void {
    const session = this.session!;
    try {
      session.close(code, reason);
    } catch (error) {
      this.status(`cannot close: ${oneLine((error as Error).message)}`, 'error');
      return;
    }
    // --show-control shows the close frame itself.
    if (!session.options.showControl) this.status(`closing with ${describeClose(code, reason)}`);
  }
}
