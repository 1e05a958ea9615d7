// Real traffic for a `switchboard serve --hub --deflate --rate R --burst B`
// whose metrics a real Prometheus scrapes: what every panel of the Grafana
// dashboard (packages/metrics/grafana/switchboard.json) is about. Used by its
// test and by scripts/dashboard-screenshot.ts (not a test file).
import http from 'node:http';
import { WebSocket } from '../../packages/switchboard/src/index.js';

interface HubAnswer {
  t: string;
  id?: number;
  code?: string;
}

/** Under the hub's default heartbeat interval (25 s, DEFAULT_HEARTBEAT). */
const HEARTBEAT_MS = 10_000;

/** A hub client speaking the wire protocol by hand (hello, join, pub), so that no client library hides a request. */
export class RawHubClient {
  readonly answers: HubAnswer[] = [];
  private nextId = 1;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    // The hub closes a client it has not heard from for its heartbeat interval and timeout (4408): say something, as switchboard/client does.
    const heartbeat = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"t":"ping"}'), HEARTBEAT_MS).unref();
    ws.once('close', () => clearInterval(heartbeat));
    ws.on('message', (data: Buffer) => {
      const answer = JSON.parse(data.toString()) as HubAnswer;
      // Room messages are not kept: a member of a busy room would hold them all.
      if (answer.t === 'msg' || answer.t === 'presence' || answer.t === 'pong') return;
      this.answers.push(answer);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(hubUrl: string, deflate = false): Promise<RawHubClient> {
    const ws = await WebSocket.connect(hubUrl, { protocols: ['switchboard.v1'], perMessageDeflate: deflate });
    const client = new RawHubClient(ws);
    ws.send(JSON.stringify({ t: 'hello' }));
    await client.until((a) => a.t === 'welcome', 'welcome');
    return client;
  }

  /** Sends a request with a fresh id and waits for its answer (ack or error). */
  async request(message: Record<string, unknown>): Promise<HubAnswer> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ ...message, id }));
    return this.until((a) => a.id === id, `the answer to ${String(message.t)} ${id}`);
  }

  /** Sends without waiting (a flood over the rate limit); returns the ids. */
  fire(message: Record<string, unknown>, count: number): number[] {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const id = this.nextId++;
      ids.push(id);
      this.ws.send(JSON.stringify({ ...message, id }));
    }
    return ids;
  }

  until(match: (answer: HubAnswer) => boolean, what: string, timeoutMs = 10_000): Promise<HubAnswer> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.answers.find(match);
        if (found) return resolve(found);
        if (Date.now() > deadline || this.ws.readyState > WebSocket.OPEN) return reject(new Error(`no ${what} (${this.answers.length} answers)`));
        this.waiters.push(check);
        setTimeout(check, 200).unref();
      };
      check();
    });
  }

  close(code: number): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close(code);
    return closed;
  }
}

/** An opening handshake with Sec-WebSocket-Version 8; resolves with the refusal's status. */
function refusedHandshake(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': 'switchboard.v1' },
      timeout: 10_000,
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('a version 8 handshake was accepted'));
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('timeout', () => req.destroy(new Error('no answer to the version 8 handshake')));
    req.on('error', reject);
  });
}

const CLOSE_CODES = [1000, 1001, 4001];

/**
 * Long-lived members of the room (two subscribers and a publisher) and what
 * one round of traffic does: a refused handshake, a short-lived member that
 * publishes and closes with a rotating code, a compressed message, a flood
 * over the rate limit, and invalid UTF-8 (a connection error, 1007).
 */
export class DashboardTraffic {
  private round = 0;

  private constructor(
    private readonly base: string,
    readonly members: RawHubClient[],
  ) {}

  /** `base` is ws://127.0.0.1:PORT/ of the serve command; its hub is at /hub. */
  static async start(base: string): Promise<DashboardTraffic> {
    const members = await Promise.all([0, 1, 2].map(() => RawHubClient.open(`${base}hub`)));
    for (const m of members) await m.request({ t: 'join', room: 'lobby' });
    await members[0]!.request({ t: 'join', room: 'news' });
    return new DashboardTraffic(base, members);
  }

  /** Connections the traffic keeps open between rounds (and rooms: lobby, news). */
  get openConnections(): number {
    return this.members.length;
  }

  async runRound(messages = 5): Promise<void> {
    const round = this.round++;
    const publisher = this.members[2]!;
    // A handshake of a version the server does not speak: refused with 426 (RFC 6455 section 4.4, WS_ERR_INVALID_VERSION).
    await refusedHandshake(`${this.base.replace('ws:', 'http:')}hub`);
    for (let i = 0; i < messages; i++) await publisher.request({ t: 'pub', room: 'lobby', ev: 'tick', data: { round, i, pad: 'x'.repeat(200 * (i + 1)) } });

    // A member that comes, publishes compressed, and goes with a close code of the rotation.
    const visitor = await RawHubClient.open(`${this.base}hub`, true);
    await visitor.request({ t: 'join', room: 'lobby' });
    await visitor.request({ t: 'pub', room: 'lobby', ev: 'big', data: 'y'.repeat(4000) });
    // Over the rate limit: the burst is spent, the rest answered rate_limited.
    const ids = visitor.fire({ t: 'pub', room: 'news', ev: 'flood', data: round }, 40);
    await visitor.until((a) => a.id === ids.at(-1), 'the answer to the last flooded publish');
    await visitor.close(CLOSE_CODES[round % CLOSE_CODES.length]!);

    // Invalid UTF-8 in a text frame: the server fails the connection with 1007 (RFC 6455 section 8.1).
    const broken = await WebSocket.connect(`${this.base}hub`, { protocols: ['switchboard.v1'] });
    const closed = new Promise<void>((resolve) => broken.once('close', () => resolve()));
    broken.on('error', () => undefined);
    broken.send(Buffer.from([0xc3, 0x28]), { binary: false });
    await closed;
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.close(1001)));
  }
}
