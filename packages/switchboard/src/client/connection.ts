// The connection of switchboard/client: which transport and URL to try,
// opening it (a WebSocket, or an HTTP fallback: http-transport.ts), saying
// hello, the heartbeat, reconnecting with backoff and jitter after it drops,
// and trying a WebSocket again in the background from a fallback
// (upgrade.ts). HubClient (index.ts) extends it with the hub protocol: what
// is sent and received, rooms, requests, the outbox.
import { DEFAULT_REQUEST_TIMEOUT, FINAL_CLOSE_CODES, HubError, SUBPROTOCOL, WireError, encodeMessage, parseServerMessage, type HubErrorCode, type ServerMessage } from '../wire/index.js';
import { codedError } from '../wire/errors.js';
import { Handlers } from './handlers.js';
import { Heartbeat } from './heartbeat.js';
import { HttpTransport } from './http-transport.js';
import { recallTransport } from './transport-memory.js';
import { UpgradeProbe, UpgradeSchedule, detachHandlers as detach } from './upgrade.js';
import type { ClientOptions, Status, Transport, WebSocketConstructor, WebSocketLike } from './types.js';

export abstract class ClientConnection {
  /** The connection id the server gave (changes on every reconnection). */
  id: string | null = null;
  user: string | null = null;
  status: Status = 'connecting';
  protected ws: WebSocketLike | null = null;
  private readonly Ctor: WebSocketConstructor | undefined;
  protected readonly transports: readonly Transport[];
  /** Index in `transports` of the transport in use (or tried next). */
  protected transportIndex = 0;
  /** Whether the current attempt's transport opened (a failure before it did moves on to the next transport). */
  protected transportOpened = false;
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  protected readonly handlers = new Handlers();
  protected attempt = 0;
  protected timer: ReturnType<typeof setTimeout> | null = null;
  protected readonly heartbeat = new Heartbeat(
    () => {
      if (!this.ws) return false;
      this.ws.send('{"t":"ping"}');
      return true;
    },
    () => {
      const ws = this.ws;
      if (!ws) return;
      detach(ws);
      try {
        ws.close(4408, 'heartbeat timeout');
      } catch {}
      this.closed(4408, 'heartbeat timeout');
    },
  );
  protected readonly options: ClientOptions;
  /** Moving back up to WebSocket from a fallback: null when off (option `upgrade: false`, or no WebSocket). */
  protected readonly upgrade: UpgradeSchedule | null;
  /** The try in progress; once welcomed, the client is moving (its sends wait in the outbox for the old uplink to drain). */
  protected probe: UpgradeProbe | null = null;

  /** The URLs the application gave; the hub's `welcome.nodes` may add more (node-urls.ts). */
  protected readonly ownUrls: readonly string[];
  protected urlList: readonly string[];
  /** Index in `urls` of the URL in use (or tried next). */
  protected urlIndex = 0;

  /** Checks the URLs and options; the subclass opens the first connection (`open`) once it is built. */
  constructor(url: string | readonly string[], options: ClientOptions) {
    const urls = typeof url === 'string' ? [url] : [...url];
    if (urls.length === 0 || urls.some((u) => typeof u !== 'string')) throw codedError(new TypeError('The URL must be a string or a non-empty list of strings'), 'WS_ERR_INVALID_ARGUMENT');
    this.ownUrls = urls;
    this.urlList = urls;
    this.options = options;
    const transports = options.transports ?? ['websocket', 'sse', 'polling'];
    if (transports.length === 0 || transports.some((t) => t !== 'websocket' && t !== 'sse' && t !== 'polling')) {
      throw codedError(new TypeError(`transports must be a non-empty list of 'websocket', 'sse', 'polling'`), 'WS_ERR_INVALID_OPTION');
    }
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    // Without a WebSocket class the HTTP transports may still do.
    this.transports = Ctor ? transports : transports.filter((t) => t !== 'websocket');
    if (this.transports.length === 0) throw codedError(new TypeError('No WebSocket class: pass options.WebSocket (in Node: the WebSocket of "switchboard")'), 'WS_ERR_INVALID_OPTION');
    this.Ctor = Ctor;
    this.upgrade = options.upgrade === false || !this.transports.includes('websocket') ? null : new UpgradeSchedule(options.upgrade ?? {});
    // A fallback that worked for this URL before: start there (the WebSocket is tried again in the background).
    const recalled = options.rememberTransport === false ? undefined : recallTransport(this.urls[0]!);
    if (recalled !== undefined && this.transports.includes(recalled)) this.transportIndex = this.transports.indexOf(recalled);
  }

  /** The transport of the current connection (or of the next attempt). */
  get transport(): Transport {
    return this.transports[this.transportIndex]!;
  }

  /** The hub URLs, in the order they are tried: the application's, then those the hub's nodes announced (`nodeUrls`). */
  get urls(): readonly string[] {
    return this.urlList;
  }

  /** The URL of the current connection (or of the next attempt). */
  get url(): string {
    return this.urls[this.urlIndex]!;
  }

  /** A message from the server on the current connection. */
  protected abstract receive(m: ServerMessage): void;
  /** Moves to the welcomed WebSocket of `probe`. */
  protected abstract move(): void;
  /** Fails the requests sent on a connection that dropped. */
  protected abstract failPending(code: HubErrorCode): void;
  /** A try was welcomed but lost before the move: the connection goes on as it was. */
  protected abstract moveAbandoned(): void;
  /** The client closed for good: fails what waits for a connection (joins, the outbox). */
  protected abstract failHeld(): void;

  protected fire(event: string, ...args: unknown[]): boolean {
    return this.handlers.fire(event, ...args);
  }


  protected open(): void {
    const transport = this.transport;
    const timeout = this.options.transportTimeout ?? 2500;
    let ws: WebSocketLike;
    if (transport === 'websocket') ws = new this.Ctor!(this.url, SUBPROTOCOL);
    else {
      const fetchFn = this.options.fetch ?? globalThis.fetch;
      if (typeof fetchFn !== 'function') throw codedError(new TypeError('No fetch function for the HTTP transports: pass options.fetch'), 'WS_ERR_INVALID_OPTION');
      ws = new HttpTransport(this.url, transport, fetchFn.bind(globalThis) as never, timeout);
    }
    this.ws = ws;
    this.transportOpened = false;
    if (transport === 'websocket' && this.transports.length > 1) {
      // A proxy that swallows the upgrade without an answer: give the next transport its turn.
      this.openTimer = setTimeout(() => {
        this.openTimer = null;
        if (this.ws !== ws || this.transportOpened) return;
        detach(ws);
        try {
          ws.close();
        } catch {}
        this.closed(1006, `websocket did not open within ${timeout} ms`);
      }, timeout);
    }
    ws.onopen = () => {
      this.transportOpened = true;
      this.clearOpenTimer();
      this.sendHello(ws);
    };
    this.listen(ws);
  }

  /** Handles what `ws` receives, and its close, as the client's connection. */
  protected listen(ws: WebSocketLike): void {
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.heartbeat.alive();
      let m: ServerMessage;
      try {
        m = parseServerMessage(typeof event.data === 'string' ? event.data : String(event.data));
      } catch (error) {
        // A malformed message from the server (a field of the wrong type) loses only itself. Text that is
        // not a JSON object, and types of a later protocol version, are ignored.
        const code = error instanceof WireError ? error.code : 'bad_message';
        if (code === 'bad_message') this.fire('error', new HubError('bad_message', `A malformed message from the server was ignored: ${String((error as Error).message)}`));
        return;
      }
      this.receive(m);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      // The fallback dropped while a welcomed WebSocket waited to take over: take over now.
      if (this.probe?.welcome) this.move();
      else this.closed(event.code, event.reason);
    };
    ws.onerror = () => {};
  }

  protected sendHello(ws: WebSocketLike): void {
    const auth = typeof this.options.auth === 'function' ? (this.options.auth as () => unknown)() : this.options.auth;
    Promise.resolve(auth).then(
      (value) => {
        if (ws.readyState === 1 && (this.ws === ws || this.probe?.ws === ws)) ws.send(encodeMessage(value === undefined ? { t: 'hello' } : { t: 'hello', auth: value }));
      },
      () => ws.close(4000, 'auth failed'),
    );
  }

  protected clearOpenTimer(): void {
    if (this.openTimer !== null) clearTimeout(this.openTimer);
    this.openTimer = null;
  }

  protected closed(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    if (ws) detach(ws);
    this.clearOpenTimer();
    this.heartbeat.stop();
    this.stopMoving();
    if (!this.transportOpened && this.status !== 'closed' && this.transportIndex < this.transports.length - 1) {
      // This transport could not even open (blocked, or buffered by a proxy): the next one, at once.
      this.transportIndex++;
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.status === 'closed') return;
        try {
          this.open();
        } catch (error) {
          this.closed(1006, String((error as Error)?.message ?? error));
        }
      }, 0);
      return;
    }
    // Every transport failed to open: start the list again (back up to WebSocket) after the usual delay.
    if (!this.transportOpened) this.transportIndex = 0;
    this.id = null;
    this.failPending('disconnected');
    const attempts = this.options.reconnect === false ? 0 : (this.options.reconnect?.maxAttempts ?? Infinity);
    const willReconnect = this.status !== 'closed' && !FINAL_CLOSE_CODES.has(code) && this.attempt < attempts;
    const wasOpen = this.status === 'open';
    if (!willReconnect) {
      this.status = 'closed';
      this.failHeld();
      this.fire('disconnect', { code, reason, willReconnect: false });
      return;
    }
    this.status = 'reconnecting';
    if (wasOpen) this.fire('disconnect', { code, reason, willReconnect: true });
    const r = this.options.reconnect || {};
    // With several URLs the next one may well be up: the delay grows once per pass over the list.
    const passes = Math.floor(this.attempt / this.urls.length);
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const base = Math.min(r.maxDelay ?? 30_000, (r.initialDelay ?? 500) * Math.pow(r.factor ?? 2, passes));
    const delay = Math.round(base * (1 - (r.jitter ?? 0.5) * Math.random()));
    this.attempt++;
    this.fire('reconnecting', { attempt: this.attempt, delay });
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.status !== 'reconnecting') return;
      try {
        this.open();
      } catch (error) {
        // Another URL of the list that the WebSocket class refuses: a failed attempt, and on to the next.
        this.closed(1006, String((error as Error)?.message ?? error));
      }
    }, delay);
  }

  /** A background try: a WebSocket to the same URL, while the fallback carries on. */
  protected tryWebSocket(): void {
    if (this.status !== 'open' || this.transport === 'websocket' || this.probe !== null) return;
    const timeout = this.options.transportTimeout ?? 2500;
    const fail = (): void => {
      const welcomed = this.probe?.welcome != null;
      this.probe = null;
      this.upgrade!.failed();
      if (this.status === 'open' && this.transport !== 'websocket') this.upgrade!.arm(() => this.tryWebSocket());
      // Sends held for a move that is not happening: they go over the fallback after all.
      if (welcomed && this.status === 'open') this.moveAbandoned();
    };
    try {
      this.probe = new UpgradeProbe(this.Ctor!, this.url, SUBPROTOCOL, (ws) => this.sendHello(ws), timeout, this.options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT, () => this.welcomedProbe(), fail);
    } catch {
      fail();
    }
  }

  /** The WebSocket is welcomed: sends now wait in the outbox until what the fallback still has to send reached the hub. */
  private welcomedProbe(): void {
    const probe = this.probe!;
    const old = this.ws;
    if (!(old instanceof HttpTransport)) return this.move();
    // Past transportTimeout the uplink is taken as stuck: its messages may arrive late or not at all, as on a reconnection.
    const stuck = setTimeout(() => this.probe === probe && this.move(), this.options.transportTimeout ?? 2500);
    old.whenIdle(() => {
      clearTimeout(stuck);
      // A microtask later: `done` may run at once, inside the probe's message handler.
      if (this.probe === probe && this.ws === old) queueMicrotask(() => this.probe === probe && this.move());
    });
  }

  protected stopMoving(): void {
    this.upgrade?.cancel();
    this.probe?.abandon();
    this.probe = null;
  }
}
