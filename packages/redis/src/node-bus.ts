// Messages between nodes that are not room messages: an event for a user's
// connections, for one connection, or for every connection (hub.broadcast).
// They travel on one channel every node subscribes to; a request for one
// connection is answered by every node on the asker's own reply channel, so
// that it learns whether the connection was found. Nothing of this is stored:
// like hub.to(user).emit on one process, it reaches who is connected now.
// An HTTP fallback request forwarded to the node holding its session goes
// straight to that node's own channel (the reply channel), and its answer
// comes back on the asker's.
import { Buffer, isUtf8 } from 'node:buffer';
import { HubError, type AdapterSink, type ForwardedAnswer, type ForwardedRequest, type Sender } from 'switchboard/hub';
import type { RedisLink } from './link.js';

type Payload = { e: string; d?: unknown; b?: 1; f?: Sender };
type Envelope =
  | (Payload & { k: 'u'; o: string; u: string })
  | (Payload & { k: 'a'; o: string; x?: readonly string[] })
  | (Payload & { k: 'c'; o: string; c: string; q: number })
  | { k: 'r'; q: number; ok: boolean }
  /** A forwarded fallback request: kind, session, last, wait, and the body as text (`x`: base64). */
  | { k: 'f'; o: string; q: number; r: ForwardedRequest['kind']; s: string; l?: number; w?: number; b?: string; x?: 1 }
  /** Its answer: status and body. */
  | { k: 'g'; q: number; s: number; b?: string; x?: 1 };

/** A body as JSON can carry it: its text when it is UTF-8 (every switchboard.v1 message is), else base64. */
function bodyText(body: Uint8Array): { b: string; x?: 1 } {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return isUtf8(bytes) ? { b: bytes.toString('utf8') } : { b: bytes.toString('base64'), x: 1 };
}

/** How often the nodes that forwarded requests wait for are checked for life (ms): a node lost mid-request is noticed within about this. */
const OWNER_CHECK_INTERVAL = 1000;

const bodyBytes = (b: string, x: 1 | undefined): Buffer => Buffer.from(b, x === 1 ? 'base64' : 'utf8');

function isBinary(data: unknown): data is ArrayBuffer | ArrayBufferView {
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data);
}

function payload(ev: string, data: unknown, from: Sender | undefined): Payload {
  const out: Payload = { e: ev };
  if (isBinary(data)) {
    const bytes = data instanceof ArrayBuffer ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    out.d = bytes.toString('base64');
    out.b = 1;
  } else if (data !== undefined) out.d = data;
  if (from !== undefined) out.f = from;
  return out;
}

const dataOf = (p: Payload): unknown => (p.b === 1 ? Buffer.from(p.d as string, 'base64') : p.d);

interface Question {
  answers: number;
  expected: number;
  resolve(found: boolean): void;
  timer: ReturnType<typeof setTimeout>;
}

export class NodeBus {
  private readonly questions = new Map<number, Question>();
  /** Forwarded requests waiting for their answer, by question number. */
  private readonly forwards = new Map<number, { node: string; resolve(answer: ForwardedAnswer): void; reject(error: Error): void; timer: ReturnType<typeof setTimeout> }>();
  /** While forwards wait: checks that the nodes they wait for still listen (a node killed mid-request never answers). */
  private watch: ReturnType<typeof setInterval> | null = null;
  private nextQuestion = 1;
  private readonly listener = (text: string): void => this.receive(text);

  constructor(
    private readonly link: RedisLink,
    /** The channel every node listens to. */
    private readonly channel: string,
    /** Each node's reply channel: `replyPrefix + node id`. */
    private readonly replyPrefix: string,
    private readonly node: string,
    private readonly sink: () => AdapterSink | null,
    private readonly requestTimeout: number,
    private readonly reportError: (error: unknown) => void,
  ) {}

  async start(): Promise<void> {
    await this.link.subscribe(this.channel, this.listener);
    await this.link.subscribe(this.replyPrefix + this.node, this.listener);
  }

  async stop(): Promise<void> {
    for (const question of this.questions.values()) {
      clearTimeout(question.timer);
      question.resolve(false);
    }
    this.questions.clear();
    for (const forward of this.forwards.values()) {
      clearTimeout(forward.timer);
      forward.reject(new HubError('unavailable', 'The adapter is closing'));
    }
    this.forwards.clear();
    this.unwatch();
    await Promise.allSettled([this.link.unsubscribe(this.channel, this.listener), this.link.unsubscribe(this.replyPrefix + this.node, this.listener)]);
  }

  /** Publishes on the shared channel; resolves with how many nodes (this one included) listen. */
  private async post(envelope: Envelope): Promise<number> {
    return Number(await this.link.send(this.channel, ['SPUBLISH', this.channel, JSON.stringify(envelope)]));
  }

  async toUser(user: string, ev: string, data: unknown, from: Sender | undefined): Promise<void> {
    await this.post({ k: 'u', o: this.node, u: user, ...payload(ev, data, from) });
  }

  async toAll(ev: string, data: unknown, except: readonly string[] | undefined): Promise<void> {
    const envelope: Envelope = { k: 'a', o: this.node, ...payload(ev, data, undefined) };
    if (except !== undefined && except.length > 0) envelope.x = except;
    await this.post(envelope);
  }

  /** Asks the other nodes to deliver to `client`; true once one has, false when none has (or none answers in time). */
  async toClient(client: string, ev: string, data: unknown, from: Sender | undefined): Promise<boolean> {
    const q = this.nextQuestion++;
    const answer = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.settle(q, false), this.requestTimeout);
      timer.unref();
      this.questions.set(q, { answers: 0, expected: Infinity, resolve, timer });
    });
    let listeners: number;
    try {
      listeners = await this.post({ k: 'c', o: this.node, c: client, q, ...payload(ev, data, from) });
    } catch (error) {
      this.settle(q, false);
      throw error;
    }
    const question = this.questions.get(q);
    if (question !== undefined) {
      question.expected = listeners - 1;
      if (question.answers >= question.expected) this.settle(q, false);
    }
    return answer;
  }

  /**
   * Sends a fallback request to node `node` and resolves with its answer; rejects with code
   * `unknown_node` when no process listens on that node's channel, `forward_timeout` after `timeout` ms.
   */
  forward(node: string, request: ForwardedRequest, timeout: number): Promise<ForwardedAnswer> {
    const q = this.nextQuestion++;
    const envelope: Envelope = { k: 'f', o: this.node, q, r: request.kind, s: request.session };
    if (request.last !== undefined) envelope.l = request.last;
    if (request.wait !== undefined) envelope.w = request.wait;
    if (request.body !== undefined) Object.assign(envelope, bodyText(request.body));
    const channel = this.replyPrefix + node;
    return new Promise<ForwardedAnswer>((resolve, reject) => {
      const timer = setTimeout(() => this.settleForward(q, new HubError('forward_timeout', `Node ${node} did not answer within ${timeout} ms`)), timeout);
      timer.unref();
      this.forwards.set(q, { node, resolve, reject, timer });
      if (this.watch === null) {
        this.watch = setInterval(() => this.checkOwners(), OWNER_CHECK_INTERVAL);
        this.watch.unref();
      }
      this.link.send(channel, ['SPUBLISH', channel, JSON.stringify(envelope)]).then(
        (listeners) => {
          // Nobody on that node's channel: the process is gone (its subscriptions went with its connection).
          if (Number(listeners) === 0) this.settleForward(q, new HubError('unknown_node', `No hub node ${node} is listening`));
        },
        (error: unknown) => this.settleForward(q, error instanceof Error ? error : new Error(String(error))),
      );
    });
  }

  /** Fails the forwards waiting for a node that no longer listens on its channel: one SHARDNUMSUB per such node. */
  private checkOwners(): void {
    const nodes = new Set<string>();
    for (const forward of this.forwards.values()) nodes.add(forward.node);
    for (const node of nodes) {
      const channel = this.replyPrefix + node;
      this.link.send(channel, ['PUBSUB', 'SHARDNUMSUB', channel]).then((reply) => {
        if (Number((reply as [string, number])[1]) !== 0) return;
        for (const [q, forward] of this.forwards) if (forward.node === node) this.settleForward(q, new HubError('unknown_node', `Hub node ${node} is gone`));
      }, this.reportError);
    }
  }

  private unwatch(): void {
    if (this.watch !== null) clearInterval(this.watch);
    this.watch = null;
  }

  private settleForward(q: number, outcome: ForwardedAnswer | Error): void {
    const forward = this.forwards.get(q);
    if (forward === undefined) return;
    this.forwards.delete(q);
    if (this.forwards.size === 0) this.unwatch();
    clearTimeout(forward.timer);
    if (outcome instanceof Error) forward.reject(outcome);
    else forward.resolve(outcome);
  }

  /** Serves a request forwarded to this node and sends the answer back to the asker. */
  private serveForward(envelope: Extract<Envelope, { k: 'f' }>): void {
    const request: ForwardedRequest = { kind: envelope.r, session: envelope.s };
    if (envelope.l !== undefined) request.last = envelope.l;
    if (envelope.w !== undefined) request.wait = envelope.w;
    if (envelope.b !== undefined) request.body = bodyBytes(envelope.b, envelope.x);
    const served = this.sink()?.forwarded?.(request) ?? Promise.resolve({ status: 404, body: Buffer.from('{"error":"unknown_session","message":"No such session"}') });
    const reply = this.replyPrefix + envelope.o;
    served
      .then((answer) => {
        const out: Envelope = { k: 'g', q: envelope.q, s: answer.status };
        if (answer.body !== undefined && answer.body.length > 0) Object.assign(out, bodyText(answer.body));
        return this.link.send(reply, ['SPUBLISH', reply, JSON.stringify(out)]);
      })
      .catch(this.reportError);
  }

  private settle(q: number, found: boolean): void {
    const question = this.questions.get(q);
    if (question === undefined) return;
    this.questions.delete(q);
    clearTimeout(question.timer);
    question.resolve(found);
  }

  private receive(text: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch (error) {
      this.reportError(error);
      return;
    }
    if (envelope.k === 'f') {
      this.serveForward(envelope);
      return;
    }
    if (envelope.k === 'g') {
      this.settleForward(envelope.q, envelope.b === undefined ? { status: envelope.s } : { status: envelope.s, body: bodyBytes(envelope.b, envelope.x) });
      return;
    }
    if (envelope.k === 'r') {
      const question = this.questions.get(envelope.q);
      if (question === undefined) return;
      if (envelope.ok) this.settle(envelope.q, true);
      else if (++question.answers >= question.expected) this.settle(envelope.q, false);
      return;
    }
    // This node delivered its own part before publishing.
    if (envelope.o === this.node) return;
    const sink = this.sink();
    if (sink === null) return;
    switch (envelope.k) {
      case 'u':
        sink.deliverUser(envelope.u, envelope.e, dataOf(envelope), envelope.f);
        return;
      case 'a':
        sink.deliverAll?.(envelope.e, dataOf(envelope), envelope.x);
        return;
      case 'c': {
        const ok = sink.deliverClient(envelope.c, envelope.e, dataOf(envelope), envelope.f);
        const reply = this.replyPrefix + envelope.o;
        this.link.send(reply, ['SPUBLISH', reply, JSON.stringify({ k: 'r', q: envelope.q, ok })]).catch(this.reportError);
        return;
      }
    }
  }
}
