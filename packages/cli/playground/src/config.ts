// What the server put in <meta name="switchboard-playground">.
import type { PlaygroundConfig } from '../../shared/playground-protocol';

export function readConfig(): PlaygroundConfig {
  const fallback: PlaygroundConfig = { defaultUrl: 'ws://localhost:8082/', relayAllow: [], server: 'switchboard' };
  const content = document.querySelector('meta[name="switchboard-playground"]')?.getAttribute('content') ?? '';
  try {
    return { ...fallback, ...(JSON.parse(content) as Partial<PlaygroundConfig>) };
  } catch {
    // The Vite dev server (npx vite playground) has no server to fill it in.
    return fallback;
  }
}

/** The URL field's first value: a path means the server that served this page. */
export function initialUrl(config: PlaygroundConfig): string {
  if (!config.defaultUrl.startsWith('/')) return config.defaultUrl;
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${config.defaultUrl}`;
}
