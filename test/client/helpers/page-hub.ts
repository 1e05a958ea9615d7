// What the Chromium tests of switchboard/client share (transports.chromium,
// upgrade.chromium): a hub on 127.0.0.1 whose HTTP server also serves the
// test's page at / and the built browser client at /dist/ (run
// `node scripts/build.mjs --lib` first).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Hub, type HubOptions } from '../../../packages/switchboard/src/hub/index.js';
import { withTimeout } from '../../helpers/async.js';
import { repoRoot } from '../../helpers/env.js';

const DIST = path.join(repoRoot, 'packages/switchboard/dist/esm');

export interface PageHub {
  hub: Hub;
  /** http://127.0.0.1:port */
  base: string;
  close(): Promise<void>;
}

export async function startPageHub(page: string, options: Omit<HubOptions, 'server'> = {}): Promise<PageHub> {
  assert.ok(existsSync(path.join(DIST, 'client/index.js')), 'the built client is missing: run node scripts/build.mjs --lib');
  const server = http.createServer((req, res) => {
    if (hub.handleRequest(req, res)) return;
    const url = req.url ?? '/';
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      return;
    }
    const file = path.join(DIST, url.slice('/dist/'.length));
    if (url.startsWith('/dist/') && file.startsWith(DIST) && existsSync(file)) res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
    else res.writeHead(404).end();
  });
  const hub = new Hub({ server, ...options });
  hub.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    hub,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await withTimeout(hub.close(), 5000, 'hub.close()').catch(() => {});
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
