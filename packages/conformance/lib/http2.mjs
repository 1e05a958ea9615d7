// Server mode over HTTP/2 (--http2): each case's connection is an RFC 8441
// extended CONNECT stream on an HTTP/2 session of its own (TLS; the
// server's certificate is not checked: loopback only). After `:status 200`
// the case's frames go over the stream unchanged, so every frame-level case
// runs as over TCP. END_STREAM plays the part of TCP's FIN and RST_STREAM of
// a reset (RFC 8441 section 5).
import http2 from 'node:http2';
import { clientCheckResponse, offerHeader } from './deflate.mjs';

/** Receive windows large enough that the 16 MiB messages of 9.* are not throttled by WINDOW_UPDATE round trips. */
const STREAM_WINDOW = 4 * 1024 * 1024;
const SESSION_WINDOW = 32 * 1024 * 1024;

/** An HTTP/2 session to the target, once the server's SETTINGS have arrived (RFC 8441 section 3 needs them). */
function openSession(target, timeoutMs) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://${target.hostHeader}`, {
      host: target.host,
      port: target.port,
      rejectUnauthorized: false,
      settings: { initialWindowSize: STREAM_WINDOW },
    });
    const t = setTimeout(() => {
      session.destroy();
      reject(new Error(`HTTP/2 connect to ${target.host}:${target.port} timed out`));
    }, timeoutMs);
    session.once('remoteSettings', (settings) => {
      clearTimeout(t);
      session.setLocalWindowSize(SESSION_WINDOW);
      resolve({ session, connectProtocol: settings.enableConnectProtocol === true });
    });
    session.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/**
 * Opens a WebSocket stream for a case. Resolves with
 * { session, stream, negotiated, agreed } or { problem } when the handshake
 * already fails the case; `ctl.h2session` is set for cleanup.
 */
export async function openStream(def, target, scale, ctl) {
  const { session, connectProtocol } = await openSession(target, 5000 * scale);
  ctl.h2session = session;
  session.on('error', () => {});
  if (!connectProtocol) return { problem: 'the server does not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 section 3)' };
  const headers = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': target.path,
    ':authority': target.hostHeader,
    'sec-websocket-version': '13',
  };
  if (def.deflate) headers['sec-websocket-extensions'] = offerHeader(def.deflate.offers);
  const stream = session.request(headers, { endStream: false });
  ctl.socket = stream;
  const response = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no response to the extended CONNECT')), 5000 * scale);
    stream.once('response', (h) => {
      clearTimeout(t);
      resolve(h);
    });
    stream.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    stream.once('close', () => {
      clearTimeout(t);
      reject(new Error(`the stream closed before a response (RST_STREAM code ${stream.rstCode})`));
    });
  });
  stream.removeAllListeners('error');
  stream.removeAllListeners('close');
  const status = Number(response[':status']);
  // RFC 8441 section 5: a 2xx response opens the WebSocket; no Sec-WebSocket-Accept in HTTP/2.
  if (status < 200 || status > 299) return { problem: `the server answered the extended CONNECT with ${status}` };
  const ext = response['sec-websocket-extensions'];
  let agreed = null;
  if (def.deflate) {
    const checked = clientCheckResponse(def.deflate.offers, ext);
    if (checked.problems.length) return { problem: `permessage-deflate negotiation: ${checked.problems.join('; ')}` };
    agreed = checked.agreed;
  } else if (ext !== undefined) {
    return { problem: `server accepted extensions that were not offered: ${ext}` };
  }
  // The stream is half-closable; TCP as the cases expect it is not: answer the server's END_STREAM with ours.
  stream.on('end', () => stream.end());
  stream.pause();
  return { stream, negotiated: ext ?? null, agreed };
}
