// Colour for terminal output: only on a terminal, off with NO_COLOR, forced
// with FORCE_COLOR (FORCE_COLOR=0 or false turns it off), as Node itself does.

export interface Style {
  readonly enabled: boolean;
  dim(text: string): string;
  bold(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  blue(text: string): string;
  magenta(text: string): string;
  cyan(text: string): string;
}

/** Whether to colour what is written to `stream`, given the environment. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.NODE_DISABLE_COLORS !== undefined && env.NODE_DISABLE_COLORS !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

function sgr(open: number, close: number): (text: string) => string {
  return (text) => `\x1b[${open}m${text}\x1b[${close}m`;
}

const plain = (text: string): string => text;

/** ANSI styles for `stream`, or identity functions when colour is off. */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  const on = colorEnabled(stream, env);
  return {
    enabled: on,
    dim: on ? sgr(2, 22) : plain,
    bold: on ? sgr(1, 22) : plain,
    red: on ? sgr(31, 39) : plain,
    green: on ? sgr(32, 39) : plain,
    yellow: on ? sgr(33, 39) : plain,
    blue: on ? sgr(34, 39) : plain,
    magenta: on ? sgr(35, 39) : plain,
    cyan: on ? sgr(36, 39) : plain,
  };
}
