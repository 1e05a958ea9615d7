import { type ExtensionOffer, formatExtension } from './extensions.js';
import { SwitchboardError } from './switchboard-error.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** Configuration of permessage-deflate, named as ws names it. */
export interface PerMessageDeflateOptions {
  /** Ask for (client) or impose (server) no context takeover on the server's side. */
  serverNoContextTakeover?: boolean;
  /** Ask for (client) or impose (server) no context takeover on the client's side. */
  clientNoContextTakeover?: boolean;
  /** Server: the largest window the server will use (false: refuse offers that limit it). Client: the window the server should use. */
  serverMaxWindowBits?: number | boolean;
  /** Server: the window to impose on the client. Client: false to not offer the parameter. */
  clientMaxWindowBits?: number | boolean;
  /** Messages smaller than this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
  /** Most zlib operations running at once in the process (default 10). */
  concurrencyLimit?: number;
  /**
   * Bytes the messages being inflated may hold together in the process
   * (default 64 MiB; 0: no limit). Past it, every inflation but one waits
   * for others to finish. Process-wide, as `concurrencyLimit` is.
   */
  maxInflatingBytes?: number;
  /** Passed to zlib's deflateRaw. */
  zlibDeflateOptions?: Record<string, unknown>;
  /** Passed to zlib's inflateRaw. */
  zlibInflateOptions?: Record<string, unknown>;
}

/** The parameters both sides agreed on. Window bits are the ones each side compresses with. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** The code of a permessage-deflate offer or answer that cannot be accepted (a client fails the connection with it). */
export type DeflateNegotiationErrorCode = 'WS_ERR_INVALID_EXTENSION';

/** Why an offer or answer is not acceptable, for error messages. */
export class DeflateNegotiationError extends SwitchboardError {
  declare readonly code: DeflateNegotiationErrorCode;

  constructor(message: string) {
    super('WS_ERR_INVALID_EXTENSION', message);
    this.name = 'DeflateNegotiationError';
  }
}

const MIN_BITS = 8;
const MAX_BITS = 15;
/** zlib cannot make raw deflate streams with an 8-bit window, so this side never promises to compress with one. */
const MIN_DEFLATE_BITS = 9;

interface ParsedParams {
  server_no_context_takeover?: true;
  client_no_context_takeover?: true;
  server_max_window_bits?: number;
  client_max_window_bits?: number | true;
}

/** Checks the parameters of one permessage-deflate offer or answer; throws on anything RFC 7692 forbids. */
export function parseDeflateParams(offer: ExtensionOffer, isAnswer: boolean): ParsedParams {
  const parsed: ParsedParams = {};
  for (const [key, values] of offer.params) {
    if (values.length > 1) throw new DeflateNegotiationError(`Parameter ${key} given more than once`);
    const value = values[0]!;
    switch (key) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) throw new DeflateNegotiationError(`Parameter ${key} must not have a value`);
        parsed[key] = true;
        break;
      case 'server_max_window_bits':
      case 'client_max_window_bits': {
        if (value === true) {
          // Only a client's offer may send client_max_window_bits without a value.
          if (key === 'client_max_window_bits' && !isAnswer) {
            parsed.client_max_window_bits = true;
            break;
          }
          throw new DeflateNegotiationError(`Parameter ${key} needs a value`);
        }
        // RFC 7692 section 7.1.2: a decimal integer without leading zeros.
        if (!/^[1-9][0-9]*$/.test(value)) throw new DeflateNegotiationError(`Invalid value for ${key}: ${value}`);
        const bits = Number(value);
        if (bits < MIN_BITS || bits > MAX_BITS) throw new DeflateNegotiationError(`Invalid value for ${key}: ${value}`);
        parsed[key] = bits;
        break;
      }
      default:
        throw new DeflateNegotiationError(`Unknown parameter ${key}`);
    }
  }
  return parsed;
}

/**
 * Server side: picks the first permessage-deflate offer it can accept (RFC
 * 7692 section 5) and returns the agreed parameters and the answer to send, or
 * null when no offer is acceptable (the connection then goes on uncompressed).
 */
export function acceptDeflateOffer(
  offers: ExtensionOffer[],
  options: PerMessageDeflateOptions,
): { params: DeflateParams; response: string } | null {
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    let requested: ParsedParams;
    try {
      requested = parseDeflateParams(offer, false);
    } catch {
      continue;
    }
    if (options.serverNoContextTakeover === false && requested.server_no_context_takeover) continue;
    if (requested.server_max_window_bits !== undefined) {
      if (options.serverMaxWindowBits === false || requested.server_max_window_bits < MIN_DEFLATE_BITS) continue;
    }
    if (typeof options.clientMaxWindowBits === 'number' && requested.client_max_window_bits === undefined) continue;

    const serverNoContextTakeover = options.serverNoContextTakeover === true || requested.server_no_context_takeover === true;
    const clientNoContextTakeover = options.clientNoContextTakeover === true || requested.client_no_context_takeover === true;
    let serverMaxWindowBits = typeof options.serverMaxWindowBits === 'number' ? options.serverMaxWindowBits : MAX_BITS;
    if (requested.server_max_window_bits !== undefined) serverMaxWindowBits = Math.min(serverMaxWindowBits, requested.server_max_window_bits);
    serverMaxWindowBits = Math.max(serverMaxWindowBits, MIN_DEFLATE_BITS);
    let clientMaxWindowBits = MAX_BITS;
    const answer: Array<[string, number | true]> = [];
    if (serverNoContextTakeover) answer.push(['server_no_context_takeover', true]);
    if (clientNoContextTakeover) answer.push(['client_no_context_takeover', true]);
    if (requested.server_max_window_bits !== undefined || typeof options.serverMaxWindowBits === 'number') {
      answer.push(['server_max_window_bits', serverMaxWindowBits]);
    }
    if (requested.client_max_window_bits !== undefined) {
      if (typeof options.clientMaxWindowBits === 'number') {
        clientMaxWindowBits = options.clientMaxWindowBits;
        if (typeof requested.client_max_window_bits === 'number') clientMaxWindowBits = Math.min(clientMaxWindowBits, requested.client_max_window_bits);
        answer.push(['client_max_window_bits', clientMaxWindowBits]);
      } else if (typeof requested.client_max_window_bits === 'number') {
        // The client limited its own window; the answer may repeat it.
        clientMaxWindowBits = requested.client_max_window_bits;
      }
    }
    return {
      params: { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits },
      response: formatExtension(PERMESSAGE_DEFLATE, answer),
    };
  }
  return null;
}

/** Client side: the offer to send. */
export function deflateOffer(options: PerMessageDeflateOptions): string {
  const params: Array<[string, number | true]> = [];
  if (options.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (options.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (typeof options.serverMaxWindowBits === 'number') params.push(['server_max_window_bits', options.serverMaxWindowBits]);
  // Never offer a window zlib cannot compress with (8 bits): 9 instead, as the server announces.
  if (typeof options.clientMaxWindowBits === 'number') params.push(['client_max_window_bits', Math.max(options.clientMaxWindowBits, MIN_DEFLATE_BITS)]);
  else if (options.clientMaxWindowBits !== false) params.push(['client_max_window_bits', true]);
  return formatExtension(PERMESSAGE_DEFLATE, params);
}

/**
 * Client side: checks the server's answer against what was offered and
 * returns the agreed parameters. Throws when the answer is not acceptable
 * (the client must then fail the connection, RFC 7692 section 5).
 */
export function acceptDeflateAnswer(answers: ExtensionOffer[], options: PerMessageDeflateOptions): DeflateParams {
  if (answers.length !== 1) throw new DeflateNegotiationError('The server accepted more than one extension');
  const answer = answers[0]!;
  if (answer.name !== PERMESSAGE_DEFLATE) throw new DeflateNegotiationError(`The server accepted an extension that was not offered: ${answer.name}`);
  const p = parseDeflateParams(answer, true);
  if (options.serverNoContextTakeover && !p.server_no_context_takeover) {
    throw new DeflateNegotiationError('The server ignored the server_no_context_takeover request');
  }
  if (typeof options.serverMaxWindowBits === 'number') {
    if (p.server_max_window_bits === undefined || p.server_max_window_bits > options.serverMaxWindowBits) {
      throw new DeflateNegotiationError('The server ignored the server_max_window_bits request');
    }
  }
  // What deflateOffer offered (an 8-bit window is offered as 9).
  const offeredClientBits = typeof options.clientMaxWindowBits === 'number' ? Math.max(options.clientMaxWindowBits, MIN_DEFLATE_BITS) : MAX_BITS;
  let clientMaxWindowBits = offeredClientBits;
  if (p.client_max_window_bits !== undefined) {
    if (options.clientMaxWindowBits === false) throw new DeflateNegotiationError('The server set client_max_window_bits, which was not offered');
    const bits = p.client_max_window_bits as number;
    if (bits > offeredClientBits) {
      throw new DeflateNegotiationError('The server set client_max_window_bits above the offered value');
    }
    if (bits < MIN_DEFLATE_BITS) throw new DeflateNegotiationError('client_max_window_bits=8 is not supported by zlib');
    clientMaxWindowBits = bits;
  }
  return {
    serverNoContextTakeover: p.server_no_context_takeover === true,
    clientNoContextTakeover: p.client_no_context_takeover === true || options.clientNoContextTakeover === true,
    serverMaxWindowBits: p.server_max_window_bits ?? MAX_BITS,
    clientMaxWindowBits,
  };
}
