// Entry point of the `switchboard` command (bin/switchboard.js calls main).
import { CommanderError } from 'commander';
import { connect } from './connect.js';
import { UsageError } from './options.js';
import { servePlayground } from './playground.js';
import { createProgram } from './program.js';
import { replay } from './replay.js';
import cluster from 'node:cluster';
import { serve } from './serve.js';
import { rewriteWscatArgv } from './wscat-argv.js';
import { ServerLog } from './server-log.js';
import { styleFor } from './color.js';
import { runPrimary } from './workers.js';

export interface MainOptions {
  /** The package version, for --version (bin/switchboard.js reads it from package.json). */
  version?: string;
  /** Where the built playground page is (dist/playground); bin/switchboard.js passes it. */
  playgroundDir?: string;
}

/**
 * Runs the command line `argv` (without node and the script) and resolves
 * with the exit code: 0 success, 1 a connection, protocol or server error,
 * 2 a usage error. `serve` resolves once it has shut down after SIGINT/SIGTERM.
 */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  let code = 0;
  const program = createProgram(options.version ?? '0.0.0', {
    serve: async (o) => {
      if (o.workers !== undefined && o.workers > 1 && cluster.isPrimary) {
        // The primary only supervises: each worker parses the same command line and runs serve().
        // Written at once (not batched): the primary's own lines follow it directly.
        const log = new ServerLog(o.log, styleFor(process.stdout), false, (line) => process.stdout.write(`${line}\n`));
        code = await runPrimary(o.workers, o.log, (address) => log.listening(address));
        return;
      }
      code = await serve({ ...o, playgroundDir: options.playgroundDir });
    },
    playground: async (o) => {
      code = await servePlayground({ ...o, playgroundDir: options.playgroundDir });
    },
    replay: async (o) => {
      code = await replay(o);
    },
    connect: async (o) => {
      code = await connect(o);
    },
  });
  try {
    await program.parseAsync(rewriteWscatArgv(argv), { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version exit 0; everything else commander reports is a usage error.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`switchboard: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`switchboard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
  return code;
}
