// What an opening handshake goes through on the server before it is
// accepted, over HTTP/1.1 or HTTP/2 alike: the application's verifyClient
// (sync or with a callback) and the permessage-deflate negotiation (RFC 7692
// section 5).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HandshakeError, acceptDeflateOffer, parseExtensions, type DeflateParams, type PerMessageDeflateOptions } from '../protocol/index.js';
import { destroySelf } from './refuse.js';
import type { VerifyClient, VerifyClientCallback, VerifyClientInfo } from './server-options.js';

/** How a handshake is refused: with an HTTP/1.1 answer on the socket, or an HTTP/2 status on the stream. */
export type Refuse = (socket: Duplex, status: number, message: string, headers?: Record<string, string | number>) => void;

/** An accepted permessage-deflate offer: its parameters, the response header value and the server's options. */
export interface Negotiated {
  params: DeflateParams;
  response: string;
  options: PerMessageDeflateOptions;
}

/**
 * Runs verifyClient, then `accept` (now or once the callback says so), or refuses with `refuse`
 * after telling `refused` the status (for the server's handshake counts).
 */
export function verifyThen(verifyClient: VerifyClient, req: IncomingMessage, socket: Duplex, refuse: Refuse, refused: (status: number) => void, accept: () => void): void {
  const info: VerifyClientInfo = {
    origin: headerString(req.headers.origin),
    secure: Boolean((req.socket as { authorized?: boolean; encrypted?: boolean }).authorized || (req.socket as { encrypted?: boolean }).encrypted),
    req,
  };
  if (verifyClient.length === 2) {
    // The socket waits for the answer with no WebSocket to handle its errors.
    socket.on('error', destroySelf);
    let answered = false;
    const done: VerifyClientCallback = (verified, code, message, headers) => {
      if (answered) return;
      answered = true;
      if (!verified) {
        refused(code ?? 401);
        refuse(socket, code ?? 401, message ?? '', headers);
        return;
      }
      accept();
    };
    try {
      (verifyClient as (info: VerifyClientInfo, cb: VerifyClientCallback) => void)(info, done);
    } catch (error) {
      if (!answered) {
        answered = true;
        refused(500);
        refuse(socket, 500, 'verifyClient failed');
      }
      process.emitWarning(`verifyClient threw: ${String(error)}`, 'SwitchboardWarning');
    }
    return;
  }
  let verified: boolean;
  try {
    verified = (verifyClient as (info: VerifyClientInfo) => boolean)(info);
  } catch (error) {
    process.emitWarning(`verifyClient threw: ${String(error)}`, 'SwitchboardWarning');
    refused(500);
    refuse(socket, 500, 'verifyClient failed');
    return;
  }
  if (!verified) {
    refused(401);
    refuse(socket, 401, '');
    return;
  }
  accept();
}

/** Picks the first acceptable permessage-deflate offer; a header that breaks the grammar refuses the handshake. */
export function negotiateDeflate(configured: boolean | PerMessageDeflateOptions | undefined, header: string | undefined): Negotiated | null {
  if (!configured || header === undefined) return null;
  const offers = parseExtensions(header);
  if (offers === null) throw new HandshakeError('WS_ERR_INVALID_EXTENSION_HEADER', 400, 'Invalid Sec-WebSocket-Extensions header');
  // No context takeover on the server's side unless asked for: all connections then share one compressor.
  const options = { serverNoContextTakeover: true, ...(configured === true ? {} : configured) };
  const accepted = acceptDeflateOffer(offers, options);
  return accepted === null ? null : { ...accepted, options };
}

function headerString(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
