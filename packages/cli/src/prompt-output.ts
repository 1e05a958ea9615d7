// The two readline prompts (`connect` on a terminal: interactive.ts,
// `serve --interactive`: server-console.ts) and what they print: lines above
// the prompt, received messages and status lines, in the same shape for both.
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import type { Style } from './color.js';
import { bytes, spacedHex } from './format.js';
import { escapeControls } from './terminal-safe.js';

/** The "> " prompt, with a history; Ctrl+C (which arrives as 'SIGINT' in raw mode) ends it as Ctrl+D does. */
export function createPrompt(style: Style, input: NodeJS.ReadStream, output: NodeJS.WriteStream, terminal: boolean): Interface {
  const rl = createInterface({ input, output, terminal, historySize: 1000, removeHistoryDuplicates: true, prompt: style.green('> ') });
  rl.on('SIGINT', () => rl.close());
  return rl;
}

/** Prints a line above the prompt and redraws the prompt with what was being typed (plain lines when there is no prompt or no terminal). */
export function printAbovePrompt(output: NodeJS.WriteStream, rl: Interface | null, line: string): void {
  if (rl === null || !output.isTTY) {
    output.write(`${line}\n`);
    return;
  }
  clearPromptLine(output);
  output.write(`${line}\n`);
  rl.prompt(true);
}

/** Wipes the prompt's line (the cursor goes back to its start). */
export function clearPromptLine(output: NodeJS.WriteStream): void {
  cursorTo(output, 0);
  clearLine(output, 0);
}

/** A received message after its marker ("<", "< #3"): text with control characters escaped, binary as its size and hex. */
export function formatReceived(style: Style, marker: string, data: Buffer, isBinary: boolean): string {
  const body = isBinary ? `${style.dim(`[binary, ${bytes(data.length)}]`)} ${spacedHex(data)}` : escapeControls(data.toString('utf8'));
  return `${style.cyan(marker)} ${body}`;
}

/** A line for the person at the prompt: "* text", or "! text" for an error. Status lines may quote a peer (a close reason, a URL): controls are escaped. */
export function formatStatus(style: Style, text: string, kind: 'info' | 'error' = 'info'): string {
  const safe = escapeControls(text);
  return kind === 'error' ? style.red(`! ${safe}`) : style.dim(`* ${safe}`);
}

/** Lets go of the terminal's input once the prompt is closed. */
export function releaseInput(input: NodeJS.ReadStream): void {
  input.pause();
  if (input.isTTY) input.setRawMode?.(false);
  input.destroy();
}
