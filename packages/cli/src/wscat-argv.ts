// wscat's spelling, so that people's fingers work: `switchboard -c URL ...`
// is `switchboard connect URL ...` and `switchboard -l PORT` is
// `switchboard serve --interactive --port PORT`. Only a command line that
// does not start with a command is rewritten.
import { UsageError } from './options.js';

const COMMANDS = new Set(['serve', 'connect', 'replay', 'playground', 'help']);

/** wscat flags that switchboard does not need: --slash (slash commands are always on in the prompt). */
const ACCEPTED_AND_IGNORED = new Set(['--slash']);

/** Takes `-x VALUE`, `--long VALUE` or `--long=VALUE` out of `argv`; undefined when absent. */
function takeOption(argv: string[], short: string, long: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === short || arg === long) {
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      const value = argv[i + 1]!;
      argv.splice(i, 2);
      return value;
    }
    if (arg.startsWith(`${long}=`)) {
      argv.splice(i, 1);
      return arg.slice(long.length + 1);
    }
  }
  return undefined;
}

export function rewriteWscatArgv(argv: readonly string[]): string[] {
  if (argv.length === 0 || COMMANDS.has(argv[0]!)) return [...argv];
  const rest = argv.filter((arg) => !ACCEPTED_AND_IGNORED.has(arg));
  const listen = takeOption(rest, '-l', '--listen');
  const url = takeOption(rest, '-c', '--connect');
  if (listen !== undefined && url !== undefined) throw new UsageError('use either -l (listen) or -c (connect)');
  if (listen !== undefined) return ['serve', '--interactive', '--port', listen, ...rest];
  if (url !== undefined) return ['connect', url, ...rest];
  return [...argv];
}
