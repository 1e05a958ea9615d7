// The one line `switchboard connect` prints when a connection fails, with a
// hint for the common mistakes: a URL without a scheme, ws:// to a TLS
// server, wss:// to a plain one, an untrusted certificate.
import type { IncomingMessage } from 'node:http';
import { describeClose, httpStatus, oneLine } from './format.js';

/** "localhost:8082" and "127.0.0.1:8082/chat" get "ws://", as wscat does; URLs with a scheme are left alone. */
export function withScheme(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `ws://${url}`;
}

const TLS_HINT = ' (--ca FILE trusts a certificate, --insecure skips the check)';

/** One line saying why the connection failed. */
export function describeFailure(error: Error & { code?: string; closeCode?: number }, opened: boolean, url: string): string {
  const message = oneLine(error.message);
  const code = error.code ?? '';
  if (error.closeCode !== undefined) return `protocol error: ${message} (${code}); closed with ${describeClose(error.closeCode)}`;
  if (code === 'WS_ERR_UNEXPECTED_RESPONSE') {
    const response = (error as { response?: IncomingMessage }).response;
    return `handshake refused: ${httpStatus(response?.statusCode ?? 0, response?.statusMessage)}`;
  }
  if (code === 'WS_ERR_TOO_MANY_REDIRECTS') return `handshake failed: too many redirects (${code}; --max-redirects raises the limit)`;
  if (code.startsWith('WS_ERR_')) return `handshake failed: ${message} (${code})`;
  if (code.startsWith('PROXY_')) return message;
  if (!opened && url.startsWith('wss:') && /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|wrong version number|packet length too long/i.test(`${code} ${message}`)) {
    return `cannot connect to ${url}: the server does not speak TLS (try ${url.replace(/^wss:/, 'ws:')})`;
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) return `TLS: ${message}${TLS_HINT}`;
  if (!opened && url.startsWith('ws:') && (code === 'ECONNRESET' || code === 'HPE_INVALID_CONSTANT' || /socket hang up/.test(message))) {
    return `cannot connect to ${url}: ${message} (if the server speaks TLS, try ${url.replace(/^ws:/, 'wss:')})`;
  }
  if (!opened) return `cannot connect to ${url}: ${message}`;
  return message;
}
