// The command-line options of `serve --hub` and `serve --workers`: parsers,
// the checks between them, and their help text.
import { InvalidArgumentError } from 'commander';
import { isNodeUrl, MAX_NODE_URLS } from 'switchboard/wire';
import type { HubServeOptions } from './hub-server.js';
import { UsageError } from './options.js';
import type { ServeOptions } from './serve.js';
import { resolveWorkers } from './workers.js';

export const HUB_EXAMPLES = `
Hub server (--hub): switchboard/hub on --path (default /hub), for switchboard/client
and any client of the switchboard.v1 protocol (docs/protocol.md); the playground stays
on GET /. Without --auth-token or --jwt-secret anyone may connect. Secrets may come
from the environment instead of the command line (visible to other users in ps):
SWITCHBOARD_AUTH_TOKEN, SWITCHBOARD_JWT_SECRET, SWITCHBOARD_API_KEY, SWITCHBOARD_REDIS_URL.
--workers N runs N processes on the port; with --hub that needs --redis (rooms are
shared through Redis). Details: docs/cli.md.

  $ switchboard serve --hub --port 8000 --host 0.0.0.0 --jwt-secret "$SECRET" --allow-origin https://app.example.com
  $ SWITCHBOARD_API_KEY=k switchboard serve --hub --redis redis://127.0.0.1:6379 --workers auto
  $ curl -X POST http://127.0.0.1:8000/api/publish -H "Authorization: apikey k" \\
         -H 'Content-Type: application/json' -d '{"room":"news","event":"item","data":{"title":"hi"}}'
`;

/** --workers: a count of at least 1, or "auto" (one per core). */
export function parseWorkers(value: string): number {
  if (value.trim() === 'auto') return resolveWorkers('auto');
  const count = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(count) || count < 1 || count > 1024) {
    throw new InvalidArgumentError('expected a number of processes, 1-1024, or "auto" (one per core)');
  }
  return count;
}

/** --allow-origin: "https://a.example, https://b.example" (repeatable) → lowercase origins without a trailing slash. */
export function parseOrigins(value: string, previous: string[] | undefined): string[] {
  const origins = value
    .split(',')
    .map((o) => o.trim().toLowerCase().replace(/\/+$/, ''))
    .filter(Boolean);
  for (const origin of origins) {
    if (origin !== '*' && origin !== 'null' && !/^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]+$/.test(origin)) {
      throw new InvalidArgumentError(`${origin} is not an origin (scheme://host[:port], e.g. https://app.example.com, or "*")`);
    }
  }
  return [...(previous ?? []), ...origins];
}

/** --advertise-url: "wss://rt1.example.com/hub, wss://rt2.example.com/hub" (repeatable) → at most 16 ws:/wss: URLs. */
export function parseNodeUrls(value: string, previous: string[] | undefined): string[] {
  const urls = [...(previous ?? []), ...value.split(',').map((u) => u.trim()).filter(Boolean)];
  for (const url of urls) {
    if (!isNodeUrl(url)) throw new InvalidArgumentError(`${url} is not a ws:// or wss:// URL (e.g. wss://rt1.example.com/hub)`);
  }
  if (urls.length > MAX_NODE_URLS) throw new InvalidArgumentError(`at most ${MAX_NODE_URLS} URLs (clients ignore the rest)`);
  return urls;
}

const HUB_ONLY = ['authToken', 'jwtSecret', 'allowOrigin', 'history', 'historyAge', 'rate', 'burst', 'apiKey', 'redis', 'advertiseUrl'] as const;
const FLAG: Record<(typeof HUB_ONLY)[number], string> = {
  authToken: '--auth-token',
  jwtSecret: '--jwt-secret',
  allowOrigin: '--allow-origin',
  history: '--history',
  historyAge: '--history-age',
  rate: '--rate',
  burst: '--burst',
  apiKey: '--api-key',
  redis: '--redis',
  advertiseUrl: '--advertise-url',
};

/**
 * The hub options of a parsed `serve` command line, checked: hub options need --hub (unless
 * they came from the environment, which may be set for other commands too), and --workers
 * above 1 with --hub needs --redis. `source` is commander's getOptionValueSource.
 */
export function hubServeOptions(o: Record<string, unknown>, source: (name: string) => string | undefined): Partial<ServeOptions> {
  const hub = o.hub === true;
  if (!hub) {
    const given = HUB_ONLY.find((name) => o[name] !== undefined && source(name) === 'cli');
    if (given !== undefined) throw new UsageError(`${FLAG[given]} is an option of the hub server: add --hub`);
    return {};
  }
  const workers = o.workers as number | undefined;
  if (workers !== undefined && workers > 1 && o.redis === undefined) {
    throw new UsageError(
      `--workers ${workers} with --hub needs --redis URL: without it each worker would have rooms of its own, and clients on different workers would not see each other's messages`,
    );
  }
  const options: HubServeOptions & { hub: true } = { hub: true };
  if (typeof o.jwtSecret === 'string') options.auth = { kind: 'jwt', secret: nonEmpty('--jwt-secret', o.jwtSecret) };
  else if (typeof o.authToken === 'string') options.auth = { kind: 'token', secret: nonEmpty('--auth-token', o.authToken) };
  if (o.allowOrigin !== undefined) options.allowOrigins = o.allowOrigin as string[];
  if (o.history !== undefined) options.historySize = o.history as number;
  if (o.historyAge !== undefined) options.historyAge = o.historyAge as number;
  if (o.rate !== undefined) options.rate = o.rate as number;
  if (o.burst !== undefined) {
    if (o.burst === 0) throw new UsageError('--burst must be at least 1 (--rate 0 turns the limit off)');
    options.burst = o.burst as number;
  }
  if (typeof o.apiKey === 'string') options.apiKey = nonEmpty('--api-key', o.apiKey);
  if (typeof o.redis === 'string') options.redis = o.redis;
  if (o.advertiseUrl !== undefined) options.nodeUrls = o.advertiseUrl as string[];
  // serve's 64M default is for the conformance suite; a hub keeps its own 1 MiB unless told.
  if (source('maxPayload') === 'cli') options.maxMessageSize = o.maxPayload as number;
  return options;
}

function nonEmpty(flag: string, value: string): string {
  if (value.length === 0) throw new UsageError(`${flag} must not be empty`);
  return value;
}
