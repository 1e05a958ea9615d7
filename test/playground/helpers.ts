// The playground's tests: a real `switchboard serve` / `switchboard
// playground` child (node bin/switchboard.js over the build), Chromium from
// /usr/bin/chromium through playwright-core, and upstream servers of the
// test's own. Everything is bounded in time and stopped in `after` hooks.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { withTimeout } from '../helpers/async.js';
import { repoRoot } from '../helpers/env.js';
import { CLI, startNode, type Child } from '../helpers/process.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** UPDATE_SCREENSHOTS=1 writes docs/playground*.png; otherwise the tests leave the tree alone. */
export const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
export const DOCS = path.join(repoRoot, 'docs');

export function assertBuilt(): void {
  for (const file of ['packages/cli/dist/src/main.js', 'packages/cli/dist/playground/index.html']) {
    if (!existsSync(path.join(repoRoot, file))) throw new Error(`${file} is missing: run "npm run build" first`);
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
}

export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, 'closing Chromium').catch((e) => {
    process.stderr.write(`chromium close: ${e}\n`);
  });
}

const children = new Set<Child>();

export interface Running {
  child: Child;
  port: number;
  /** http://127.0.0.1:PORT/ (https:// with --tls-cert) */
  page: string;
  /** ws://127.0.0.1:PORT/ (wss:// with --tls-cert) */
  ws: string;
}

/**
 * Starts `switchboard <command> --port 0 --host 127.0.0.1 ...args` and waits
 * for its first line, `listening on ws://127.0.0.1:PORT` (serve) or
 * `listening on http://127.0.0.1:PORT` (playground).
 */
export async function startSwitchboard(command: 'serve' | 'playground', args: string[] = []): Promise<Running> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  const child = startNode(CLI, [command, '--port', '0', '--host', '127.0.0.1', ...args], { env });
  children.add(child);
  try {
    const line = await child.waitFor(() => child.lines[0], 'the listening line', 15_000);
    const m = /^listening on (ws|wss|http):\/\/127\.0\.0\.1:(\d+)$/.exec(line);
    if (!m) throw new Error(`unexpected first line ${JSON.stringify(line)}: ${child.describe()}`);
    const port = Number(m[2]);
    const secure = m[1] === 'wss';
    return { child, port, page: `${secure ? 'https' : 'http'}://127.0.0.1:${port}/`, ws: `${secure ? 'wss' : 'ws'}://127.0.0.1:${port}/` };
  } catch (error) {
    await child.stop('SIGKILL', 1000);
    throw error;
  }
}

export async function stopChildren(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop('SIGTERM', 3000)));
  children.clear();
}
