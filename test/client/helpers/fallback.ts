// What the Node tests of the client's HTTP fallbacks share (transports.test.ts,
// upgrade.test.ts): a hub that answers the fallback endpoints, a blocking
// proxy in front of it (test/helpers/blocking-proxy.ts) and clients, all
// closed together, newest first, in the suite's `after`.
import { WebSocket } from '../../../packages/switchboard/src/index.js';
import type { HubOptions } from '../../../packages/switchboard/src/hub/index.js';
import { HubClient, type ClientOptions } from '../../../packages/switchboard/src/client/index.js';
import { startHub, type TestHub } from '../../hub/helpers.js';
import { startBlockingProxy, type BlockingProxy } from '../../helpers/blocking-proxy.js';

export class FallbackFixture {
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  /** A hub whose HTTP server hands every request to the hub (the fallback endpoints; 404 for the rest). */
  async hub(options: HubOptions = {}): Promise<TestHub> {
    const t = await startHub(options);
    t.server.removeAllListeners('request');
    t.server.on('request', (req, res) => {
      if (!t.hub.handleRequest(req, res)) res.writeHead(404).end();
    });
    this.cleanups.push(() => t.close());
    return t;
  }

  async proxyTo(t: TestHub, options: Parameters<typeof startBlockingProxy>[1]): Promise<BlockingProxy> {
    const proxy = await startBlockingProxy(t.url.replace('ws://', 'http://').replace('/hub', ''), options);
    this.cleanups.push(() => proxy.close());
    return proxy;
  }

  client(url: string, options: ClientOptions = {}): HubClient {
    const c = new HubClient(url, { WebSocket, ...options });
    this.cleanups.push(() => c.close());
    return c;
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) await cleanup();
    this.cleanups.length = 0;
  }
}

/** The hub URL behind `proxy` (ws: scheme, as an application gives it). */
export function hubUrlBehind(proxy: BlockingProxy): string {
  return `${proxy.url.replace('http', 'ws')}/hub`;
}
