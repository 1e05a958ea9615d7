// Fuzz target: the opening handshake, sans-I/O: findHeadEnd, parseRequestHead,
// validateUpgradeRequest, parseExtensions and the permessage-deflate
// negotiation (src/protocol/http-head.ts, handshake.ts, extensions.ts,
// permessage-deflate.ts), on random and mutated request heads.
import { Buffer } from 'node:buffer';
import {
  DeflateNegotiationError,
  HandshakeError,
  acceptDeflateOffer,
  acceptResponse,
  errorResponse,
  findHeadEnd,
  parseDeflateParams,
  parseExtensions,
  parseRequestHead,
  validateUpgradeRequest,
  type PerMessageDeflateOptions,
  type RequestHead,
} from '../../../packages/switchboard/src/protocol/index.js';
import type { FuzzTarget } from '../engine.js';
import { extensionOffer, mutatedHandshake, validHandshake } from '../generators.js';
import { mutateBytes, randomChunks, type Rng } from '../rng.js';

export interface HandshakeInput {
  chunks: Buffer[];
  deflate: PerMessageDeflateOptions;
}

const HANDSHAKE_STATUSES = new Set([400, 405, 426]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function fail(message: string): never {
  throw new Error(message);
}

/** Runs `what`; anything it throws must be an instance of `allowed`. */
function onlyThrows<T>(what: () => T, allowed: new (...args: never[]) => Error, label: string): T | undefined {
  try {
    return what();
  } catch (error) {
    if (error instanceof allowed) return undefined;
    fail(`${label} threw ${error instanceof Error ? error.stack : String(error)}`);
  }
}

function checkHead(head: RequestHead, text: string): void {
  if (!TOKEN.test(head.method)) fail(`method ${JSON.stringify(head.method)}`);
  if (head.target.length === 0 || /\s/.test(head.target)) fail(`target ${JSON.stringify(head.target)}`);
  if (!Number.isInteger(head.versionMajor) || !Number.isInteger(head.versionMinor)) fail('version is not an integer');
  if (head.rawHeaders.length % 2 !== 0) fail('rawHeaders of odd length');
  for (let i = 0; i < head.rawHeaders.length; i += 2) {
    const name = head.rawHeaders[i]!;
    const value = head.rawHeaders[i + 1]!;
    if (!TOKEN.test(name)) fail(`header name ${JSON.stringify(name)}`);
    if (/[\r\n\0]/.test(value)) fail(`header value with CR, LF or NUL: ${JSON.stringify(value)}`);
    if (value !== value.trim() && /^[ \t]|[ \t]$/.test(value)) fail(`header value keeps its whitespace: ${JSON.stringify(value)}`);
    // A field named __proto__ is dropped from `headers` (assigning a string to __proto__ does nothing), as in Node's IncomingMessage.
    if (name.toLowerCase() !== '__proto__' && !Object.prototype.hasOwnProperty.call(head.headers, name.toLowerCase())) fail(`header ${name} missing from headers`);
  }
  for (const name of Object.keys(head.headers)) if (name !== name.toLowerCase()) fail(`headers key ${name} not lower-case`);
  if (Object.getPrototypeOf(head.headers) !== Object.prototype && Object.getPrototypeOf(head.headers) !== null) fail('headers has another prototype');
  if (!text.startsWith(`${head.method} ${head.target} HTTP/`)) fail('request line does not match');
}

export const handshakeTarget: FuzzTarget<HandshakeInput> = {
  name: 'handshake',
  generate(rng: Rng): HandshakeInput {
    const path = rng.pick(['/', '/hub', '/a?b=c', '/x/y']);
    const protocols = rng.chance(0.3) ? ['switchboard.v1', 'chat'].slice(0, rng.int(1, 2)) : undefined;
    let text: string;
    const kind = rng.below(10);
    if (kind < 3) text = validHandshake(rng, { path, protocols }).head;
    else text = mutatedHandshake(rng, { path, protocols });
    let bytes: Buffer = Buffer.from(text, 'latin1');
    if (kind >= 7) bytes = mutateBytes(rng, bytes, 4);
    if (rng.chance(0.05)) bytes = rng.bytes(rng.size(400));
    const bits = (): number | boolean | undefined => rng.pick([undefined, true, false, 8, 9, 10, 15]);
    const deflate: PerMessageDeflateOptions = {
      serverNoContextTakeover: rng.pick([undefined, true, false]),
      clientNoContextTakeover: rng.pick([undefined, true, false]),
      serverMaxWindowBits: bits(),
      clientMaxWindowBits: bits(),
    };
    if (rng.chance(0.2)) bytes = Buffer.concat([bytes, Buffer.from(`\r\n${extensionOffer(rng)}`, 'latin1')]);
    return { chunks: randomChunks(rng, bytes), deflate };
  },
  check(input: HandshakeInput): void {
    const whole = Buffer.concat(input.chunks);
    const end = findHeadEnd(whole);
    // Incrementally, as the server reads it: the end is found in the same place.
    let received = Buffer.alloc(0);
    let endSplit = -1;
    for (const chunk of input.chunks) {
      const from = received.length;
      received = Buffer.concat([received, chunk]);
      endSplit = findHeadEnd(received, from);
      if (endSplit !== -1) break;
    }
    if (endSplit !== end) fail(`findHeadEnd: ${endSplit} split, ${end} whole`);
    if (end !== -1 && (end < 4 || whole.toString('latin1', end - 4, end) !== '\r\n\r\n')) fail(`findHeadEnd returned ${end}`);
    if (end === -1) return;

    const headBytes = whole.subarray(0, end);
    let head: RequestHead | null;
    try {
      head = parseRequestHead(headBytes);
    } catch (error) {
      fail(`parseRequestHead threw ${error instanceof Error ? error.stack : String(error)}`);
    }
    if (head === null) return;
    checkHead(head, headBytes.toString('latin1'));

    let validated: ReturnType<typeof validateUpgradeRequest> | undefined;
    try {
      validated = validateUpgradeRequest({ method: head.method, httpVersionMajor: head.versionMajor, httpVersionMinor: head.versionMinor, headers: head.headers });
    } catch (error) {
      if (!(error instanceof HandshakeError)) fail(`validateUpgradeRequest threw ${error instanceof Error ? error.stack : String(error)}`);
      if (!HANDSHAKE_STATUSES.has(error.status)) fail(`HandshakeError ${error.code} with status ${error.status}`);
      if (!/^WS_ERR_[A-Z_]+$/.test(error.code)) fail(`HandshakeError code ${error.code}`);
      const answer = errorResponse(error.status, error.message, error.headers);
      // The refusal's head is exactly its lines: no peer bytes can add one.
      const answerHead = answer.slice(0, answer.indexOf('\r\n\r\n'));
      if (/[\r\n]/.test(answerHead.split('\r\n').join(''))) fail('a bare CR or LF in a refusal head');
      if (answerHead.split('\r\n').length !== 4 + Object.keys(error.headers).length) fail(`refusal head has extra lines: ${JSON.stringify(answerHead)}`);
      return;
    }
    if (!/^[+/0-9A-Za-z]{22}==$/.test(validated.key)) fail(`accepted key ${validated.key}`);
    if (validated.version !== 13) fail(`accepted version ${validated.version}`);
    for (const protocol of validated.protocols) if (!TOKEN.test(protocol)) fail(`accepted protocol ${JSON.stringify(protocol)}`);

    let extensionAnswer: string | undefined;
    if (validated.extensions !== undefined) {
      const offers = onlyThrows(() => parseExtensions(validated.extensions!), Error as never, 'parseExtensions');
      if (offers === undefined) fail('parseExtensions threw');
      if (offers !== null) {
        for (const offer of offers) {
          if (!TOKEN.test(offer.name)) fail(`extension name ${JSON.stringify(offer.name)}`);
          onlyThrows(() => parseDeflateParams(offer, false), DeflateNegotiationError, 'parseDeflateParams');
        }
        const accepted = onlyThrows(() => acceptDeflateOffer(offers, input.deflate), Error as never, 'acceptDeflateOffer');
        if (accepted === undefined) fail('acceptDeflateOffer threw');
        if (accepted !== null) {
          const { params, response } = accepted;
          for (const bits of [params.serverMaxWindowBits, params.clientMaxWindowBits]) if (!(bits >= 8 && bits <= 15)) fail(`window bits ${bits}`);
          if (params.serverMaxWindowBits < 9) fail('server window of 8 bits (zlib cannot deflate with it)');
          // The answer is itself a valid, acceptable answer.
          const reparsed = parseExtensions(response);
          if (reparsed === null || reparsed.length !== 1) fail(`answer ${response} does not parse`);
          onlyThrows(() => parseDeflateParams(reparsed[0]!, true), Error as never, 'parseDeflateParams(answer)');
          extensionAnswer = response;
        }
      }
    }
    const protocol = validated.protocols.values().next().value as string | undefined;
    const answer = acceptResponse(validated.key, protocol, extensionAnswer);
    const lines = answer.slice(0, -4).split('\r\n');
    if (lines.length !== 4 + (protocol ? 1 : 0) + (extensionAnswer ? 1 : 0) || /[\r\n]/.test(lines.join(''))) fail(`101 head has extra lines: ${JSON.stringify(answer)}`);
  },
  describe(input: HandshakeInput): unknown {
    return { deflate: input.deflate, chunks: input.chunks.map((c) => c.toString('latin1')) };
  },
};
