// Generators of valid and almost-valid inputs for the fuzz targets: frame
// streams, opening handshakes and permessage-deflate offers (hub messages:
// hub-messages.ts).
// Each takes an Rng, so the 10^6-input script and the bounded tests share them.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { Rng } from './rng.js';

// ---------------------------------------------------------------- frames

export interface RawFrame {
  fin: boolean;
  /** Bits 0x70 of the first byte. */
  rsv: number;
  opcode: number;
  payload: Buffer;
  maskKey: Buffer | null;
  /** Length encoding; a longer one than needed is non-minimal (a protocol error). */
  lengthForm: 7 | 16 | 64;
  /** A length field that lies about the payload (the payload bytes are then what follows). */
  claimedLength?: number;
}

/** An encoder independent of the library's writer, able to write every invalid encoding. */
export function encodeRawFrame(f: RawFrame): Buffer {
  const len = f.claimedLength ?? f.payload.length;
  const form = f.lengthForm;
  const headerLength = 2 + (form === 16 ? 2 : form === 64 ? 8 : 0) + (f.maskKey ? 4 : 0);
  const out = Buffer.allocUnsafe(headerLength + f.payload.length);
  out[0] = (f.fin ? 0x80 : 0) | (f.rsv & 0x70) | (f.opcode & 0x0f);
  const maskBit = f.maskKey ? 0x80 : 0;
  let pos = 2;
  if (form === 7) out[1] = maskBit | (len & 0x7f);
  else if (form === 16) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(len & 0xffff, 2);
    pos = 4;
  } else {
    out[1] = maskBit | 127;
    out.writeUInt32BE(Math.floor(len / 0x100000000) >>> 0, 2);
    out.writeUInt32BE(len >>> 0, 6);
    pos = 10;
  }
  if (f.maskKey) {
    f.maskKey.copy(out, pos);
    pos += 4;
    for (let i = 0; i < f.payload.length; i++) out[pos + i] = f.payload[i]! ^ f.maskKey[i & 3]!;
  } else {
    f.payload.copy(out, pos);
  }
  return out;
}

const TEXT_PIECES = ['a', 'hello ', 'é', '€', '😀', 'ж', '中', '\u0000', '\u{10FFFF}', '\uFFFD', '{"t":"pub"}', ' '];
/** Byte sequences that are not UTF-8: lone continuation, overlong, surrogate, above U+10FFFF, truncated. */
const BAD_UTF8 = [[0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xff], [0xc3]];

export function utf8Text(rng: Rng, maxBytes: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  const target = rng.size(maxBytes);
  while (length < target) {
    const piece = rng.pick(TEXT_PIECES);
    length += Buffer.byteLength(piece);
    if (length > maxBytes) break;
    parts.push(piece);
  }
  return Buffer.from(parts.join(''), 'utf8');
}

/** Text with one invalid sequence somewhere (maybe at a fragment or chunk boundary). */
export function badUtf8Text(rng: Rng, maxBytes: number): Buffer {
  const good = utf8Text(rng, maxBytes);
  const at = rng.below(good.length + 1);
  return Buffer.concat([good.subarray(0, at), Buffer.from(rng.pick(BAD_UTF8)), good.subarray(at)]);
}

export interface FrameStreamOptions {
  role: 'server' | 'client';
}

const CLOSE_CODES = [1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 2999, 3000, 4999, 5000, 0, 65535];

/**
 * A frame stream a peer in `role`'s opposite could send: mostly valid
 * messages (fragmented, control frames between fragments), with structural
 * faults mixed in on purpose (bad opcodes, RSV bits, wrong masking,
 * non-minimal or lying lengths, close frames of every shape).
 */
export function frameStream(rng: Rng, options: FrameStreamOptions): Buffer {
  const frames: Buffer[] = [];
  const masked = options.role === 'server';
  const key = (): Buffer | null => {
    const wanted = rng.chance(0.97) ? masked : !masked;
    if (!wanted) return null;
    return rng.chance(0.2) ? Buffer.from([0, 0, 0, 0]) : rng.bytes(4);
  };
  const form = (len: number): 7 | 16 | 64 => {
    const minimal = len < 126 ? 7 : len < 65536 ? 16 : 64;
    if (rng.chance(0.97)) return minimal;
    return rng.pick([7, 16, 64] as const);
  };
  const faults = rng.chance(0.5);
  const frame = (fin: boolean, opcode: number, payload: Buffer, rsv = 0): void => {
    const f: RawFrame = { fin, rsv, opcode, payload, maskKey: key(), lengthForm: form(payload.length) };
    if (f.lengthForm === 7 && payload.length > 125) f.lengthForm = 16;
    if (f.lengthForm === 16 && payload.length > 65535) f.lengthForm = 64;
    if (faults && rng.chance(0.05)) f.rsv = rng.below(8) << 4;
    if (faults && rng.chance(0.03)) f.opcode = rng.below(16);
    if (faults && rng.chance(0.03)) f.fin = !f.fin;
    if (faults && rng.chance(0.03)) {
      f.claimedLength = rng.pick([0, 1, 125, 126, 65535, 65536, 2 ** 20 + 1, 2 ** 24, 50 * 2 ** 20, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1, 2 ** 53, 2 ** 63]);
      f.lengthForm = f.claimedLength < 126 ? 7 : f.claimedLength < 65536 ? 16 : 64;
      if (f.claimedLength > Number.MAX_SAFE_INTEGER) {
        // Write the 64-bit field by hand: the top bit set (a length no parser may accept).
        const b = encodeRawFrame({ ...f, claimedLength: 0 });
        b[1] = (b[1]! & 0x80) | 127;
        b.writeUInt32BE(0x80000000 + rng.below(0x7fffffff), 2);
        frames.push(b);
        return;
      }
    }
    frames.push(encodeRawFrame(f));
  };
  const control = (): void => {
    const opcode = rng.pick([0x9, 0xa, 0x9, 0xa, 0x8]);
    if (opcode === 0x8) {
      closeFrame();
      return;
    }
    const size = rng.chance(0.9) ? rng.size(125) : rng.int(126, 300);
    frame(true, opcode, rng.bytes(size));
  };
  const closeFrame = (): void => {
    const shape = rng.below(6);
    let payload: Buffer;
    if (shape === 0) payload = Buffer.alloc(0);
    else if (shape === 1) payload = rng.bytes(1);
    else {
      const code = rng.pick(CLOSE_CODES);
      const reason = shape === 2 ? badUtf8Text(rng, 40) : utf8Text(rng, shape === 3 ? 130 : 60);
      payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), reason]);
    }
    frame(true, 0x8, payload);
  };
  const message = (): void => {
    const kind = rng.below(6);
    const isText = kind < 4;
    const data = kind === 3 ? badUtf8Text(rng, 400) : isText ? utf8Text(rng, rng.chance(0.01) ? 70000 : 400) : rng.bytes(rng.chance(0.01) ? rng.int(65536, 70000) : rng.size(400));
    const compressed = rng.chance(0.1);
    const pieces = rng.chance(0.6) ? 1 : rng.int(2, rng.chance(0.1) ? 60 : 6);
    const cuts = Array.from({ length: pieces - 1 }, () => rng.below(data.length + 1)).sort((a, b) => a - b);
    const bounds = [0, ...cuts, data.length];
    for (let i = 0; i + 1 < bounds.length; i++) {
      if (i > 0) while (rng.chance(0.2)) control();
      const opcode = i === 0 ? (isText ? 0x1 : 0x2) : 0x0;
      frame(i + 2 === bounds.length, opcode, data.subarray(bounds[i], bounds[i + 1]), i === 0 && compressed ? 0x40 : 0);
    }
  };
  const count = rng.int(0, 8);
  for (let i = 0; i < count; i++) {
    const r = rng.below(10);
    if (r < 6) message();
    else if (r < 9) control();
    else if (faults) frame(rng.chance(0.5), rng.pick([0x0, 0x3, 0x7, 0xb, 0xf, 0x1, 0x2]), rng.bytes(rng.size(40)), rng.below(8) << 4);
    else message();
  }
  if (rng.chance(0.3)) closeFrame();
  if (rng.chance(0.2)) frames.push(rng.bytes(rng.size(30)));
  return Buffer.concat(frames);
}

// ---------------------------------------------------------------- handshakes

export function randomKey(rng: Rng): string {
  return rng.bytes(16).toString('base64');
}

export function acceptFor(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ODD_STRINGS = ['', ' ', '\t', ',', ';', '=', '"', '""', '\\', '\u0000', '\r', '\n', '\r\n', ':', '\u00ff', '\u0080', '%00', '..', '/', '?', '#', 'é', '__proto__', 'constructor'];

export function token(rng: Rng, max = 12): string {
  let s = '';
  const n = rng.int(1, max);
  for (let i = 0; i < n; i++) s += TOKEN_CHARS[rng.below(TOKEN_CHARS.length)];
  return s;
}

/** A string that is mostly a token, sometimes one of the characters tokens exclude. */
function oddValue(rng: Rng): string {
  if (rng.chance(0.6)) return token(rng);
  let s = '';
  const n = rng.int(1, 4);
  for (let i = 0; i < n; i++) s += rng.chance(0.5) ? rng.pick(ODD_STRINGS) : token(rng, 4);
  return s;
}

/**
 * A Sec-WebSocket-Extensions value: permessage-deflate offers with valid,
 * odd and repeated parameters. `wellFormed`: only what RFC 6455 section 9.1's
 * grammar allows (a server may decline such an offer, never refuse the handshake).
 */
export function extensionOffer(rng: Rng, wellFormed = false): string {
  if (wellFormed) return wellFormedOffer(rng);
  const offers: string[] = [];
  const count = rng.int(1, 4);
  for (let i = 0; i < count; i++) {
    let offer = rng.chance(0.8) ? 'permessage-deflate' : rng.chance(0.5) ? oddValue(rng) : 'x-webkit-deflate-frame';
    const params = rng.int(0, 4);
    for (let p = 0; p < params; p++) {
      const name = rng.chance(0.85)
        ? rng.pick(['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'])
        : oddValue(rng);
      const valueKind = rng.below(6);
      const value =
        valueKind === 0 ? '' : valueKind < 3 ? `=${rng.int(7, 16)}` : valueKind === 3 ? `="${rng.int(8, 15)}"` : valueKind === 4 ? `=${rng.pick(['08', '0', '-9', '9.0', '1e1', '15 ', '"', '""', '"9'])}` : `=${oddValue(rng)}`;
      offer += `${rng.pick([';', '; ', ' ;', ';\t'])}${name}${value}`;
    }
    offers.push(offer);
  }
  return offers.join(rng.pick([', ', ',', ' , ', ',,']));
}

function wellFormedOffer(rng: Rng): string {
  const offers: string[] = [];
  for (let n = rng.int(1, 3); n > 0; n--) {
    let offer = rng.chance(0.8) ? 'permessage-deflate' : token(rng);
    for (let p = rng.int(0, 3); p > 0; p--) {
      const name = rng.pick(['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits', token(rng)]);
      const value = rng.below(4);
      offer += `; ${name}${value === 0 ? '' : value === 1 ? `=${rng.int(1, 20)}` : value === 2 ? `="${rng.int(8, 15)}"` : `=${token(rng)}`}`;
    }
    offers.push(offer);
  }
  return offers.join(', ');
}

export interface HandshakeOptions {
  path: string;
  protocols?: string[];
}

/** A well-formed opening handshake (RFC 6455 section 4.1), with random optional headers. */
export function validHandshake(rng: Rng, options: HandshakeOptions): { head: string; key: string } {
  const key = randomKey(rng);
  const lines = [`GET ${options.path} HTTP/1.1`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13'];
  if (options.protocols) lines.push(`Sec-WebSocket-Protocol: ${options.protocols.join(', ')}`);
  if (rng.chance(0.3)) lines.push(`Sec-WebSocket-Extensions: ${extensionOffer(rng, true)}`);
  if (rng.chance(0.2)) lines.push(`Origin: http://${token(rng)}`);
  for (let i = rng.below(3); i > 0; i--) lines.push(`X-${token(rng)}: ${token(rng, 30)}`);
  // Header order does not matter after the request line.
  const rest = lines.slice(1);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [rest[i], rest[j]] = [rest[j]!, rest[i]!];
  }
  return { head: `${lines[0]}\r\n${rest.join('\r\n')}\r\n\r\n`, key };
}

/**
 * A handshake with line-level faults: headers dropped, repeated, with odd
 * values or names, folded lines, bare LF, methods and versions of every kind.
 */
export function mutatedHandshake(rng: Rng, options: HandshakeOptions): string {
  const { head } = validHandshake(rng, options);
  const lines = head.slice(0, -4).split('\r\n');
  const edits = rng.int(1, 4);
  for (let e = 0; e < edits; e++) {
    const i = rng.int(0, lines.length - 1);
    switch (rng.below(12)) {
      case 0:
        if (lines.length > 1) lines.splice(rng.int(1, lines.length - 1), 1);
        break;
      case 1:
        lines.splice(rng.int(1, lines.length), 0, lines[rng.int(1, Math.max(1, lines.length - 1))] ?? 'Host: x');
        break;
      case 2: {
        const [name] = (lines[i] ?? '').split(':');
        lines[i] = `${name}: ${oddValue(rng)}`;
        break;
      }
      case 3:
        lines[0] = `${rng.pick(['GET', 'POST', 'get', 'CONNECT', 'OPTIONS', token(rng), 'G\u00c9T'])} ${rng.pick([options.path, '/', '*', 'http://x/y', '/a b', '', '/%00', '/' + 'a'.repeat(rng.int(1, 3000))])} ${rng.pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1 ', 'HTTP/11', 'http/1.1', 'HTTP/9.9'])}`;
        break;
      case 4:
        lines.splice(rng.int(1, lines.length), 0, `${rng.pick([' ', '\t'])}folded`);
        break;
      case 5:
        lines.splice(rng.int(1, lines.length), 0, `${oddValue(rng)}${rng.pick([':', ' :', '', '::'])} ${oddValue(rng)}`);
        break;
      case 6:
        lines[i] = (lines[i] ?? '').toUpperCase();
        break;
      case 7:
        lines[i] = (lines[i] ?? '').replace(': ', rng.pick([':', ':\t', ' : ', ':   ', ': \u0000']));
        break;
      case 8:
        lines.splice(rng.int(1, lines.length), 0, `Sec-WebSocket-Extensions: ${extensionOffer(rng)}`);
        break;
      case 9:
        lines.splice(rng.int(1, lines.length), 0, `Sec-WebSocket-Protocol: ${Array.from({ length: rng.int(1, 4) }, () => oddValue(rng)).join(rng.pick([',', ', ', ' ,']))}`);
        break;
      case 10:
        for (let k = rng.int(1, 200); k > 0; k--) lines.push(`X-Many-${k}: ${token(rng)}`);
        break;
      default:
        lines.splice(rng.int(1, lines.length), 0, `${rng.pick(['Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Host', 'Upgrade', 'Connection'])}: ${rng.pick(['', '13', '8', ' 13', '0x0d', 'websocket', 'upgrade, keep-alive', randomKey(rng), randomKey(rng).slice(1), 'a'.repeat(rng.int(0, 40))])}`);
    }
  }
  let text = `${lines.join('\r\n')}\r\n\r\n`;
  if (rng.chance(0.05)) text = text.replace(/\r\n/g, '\n');
  return text;
}
