// --ping-interval / --ping-timeout (websocat's names): ping the server every
// interval, and give up on it when no pong has come within the timeout of a
// ping, so that a dead connection (a NAT that forgot it, a sleeping laptop)
// ends instead of hanging for ever.
import type { Session } from './session.js';

export interface KeepaliveOptions {
  /** Seconds between pings. */
  interval: number;
  /** Seconds a ping may go unanswered (undefined: never give up). */
  timeout?: number;
}

/** Keepalive pings carry this payload, so that their pongs are not shown as answers to /ping. */
const KEEPALIVE_PAYLOAD = Buffer.alloc(0);

export function startKeepalive(session: Session, options: KeepaliveOptions): () => void {
  let unansweredSince: number | null = null;
  const onPong = (): void => {
    unansweredSince = null;
  };
  session.ws.on('pong', onPong);
  const tick = Math.max(10, Math.min(options.interval, options.timeout ?? Infinity) * 250);
  let lastPing = 0;
  const timer = setInterval(() => {
    if (!session.isOpen) return;
    const now = Date.now();
    if (options.timeout !== undefined && unansweredSince !== null && now - unansweredSince >= options.timeout * 1000) {
      session.fail(`no pong within ${options.timeout} s of a ping (--ping-timeout): connection dropped`);
      session.ws.terminate();
      return;
    }
    if (now - lastPing >= options.interval * 1000) {
      lastPing = now;
      unansweredSince ??= now;
      session.ws.ping(KEEPALIVE_PAYLOAD);
    }
  }, tick);
  return () => {
    clearInterval(timer);
    session.ws.removeListener('pong', onPong);
  };
}
