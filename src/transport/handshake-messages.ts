/**
 * The three handshake messages (hello, hello-ack, finish) as bytes: their types, the msgpack
 * encoding, and the strict decoder every untrusted handshake message goes through (size, parse,
 * exact key set, version, type, each field's type and length). The state machine that sends
 * and consumes them is handshake.ts. Byte layouts: docs/transport.md.
 * @module
 */

import { Packr, Unpackr } from 'msgpackr';
import { TransportError } from '../errors.js';
import { FEDERATION_NAME_RULE, isFederationName, isRegionId, REGION_ID_RULE } from '../core/ids.js';

/** Handshake protocol version carried in every message (`v`) and in the transcript label. */
export const HANDSHAKE_VERSION = 1;
/** Largest handshake message accepted, checked before decoding. Real ones are < 400 bytes. */
export const MAX_HANDSHAKE_MESSAGE_BYTES = 1024;
/** X25519 key length (RFC 7748 §5). */
export const X25519_KEY_BYTES = 32;
/** Handshake nonce length. */
export const HANDSHAKE_NONCE_BYTES = 32;
/** Ed25519 signature length (RFC 8032 §5.1.6). */
export const ED25519_SIGNATURE_BYTES = 64;

/** I -> R. */
export interface HelloMsg {
  v: 1;
  type: 'hello';
  federation: string;
  from: string;
  to: string;
  eph: Uint8Array;
  nonce: Uint8Array;
}
/** R -> I. */
export interface HelloAckMsg {
  v: 1;
  type: 'hello-ack';
  from: string;
  eph: Uint8Array;
  nonce: Uint8Array;
  sig: Uint8Array;
}
/** I -> R. */
export interface FinishMsg {
  v: 1;
  type: 'finish';
  sig: Uint8Array;
}
/** Any handshake message. */
export type HandshakeMsg = HelloMsg | HelloAckMsg | FinishMsg;

// Dedicated msgpackr instances: plain maps, no records, no extensions we rely on.
const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false, bundleStrings: false, mapsAsObjects: true, int64AsType: 'number' });

const SCHEMAS = {
  hello: { federation: 'federation', from: 'region', to: 'region', eph: X25519_KEY_BYTES, nonce: HANDSHAKE_NONCE_BYTES },
  'hello-ack': { from: 'region', eph: X25519_KEY_BYTES, nonce: HANDSHAKE_NONCE_BYTES, sig: ED25519_SIGNATURE_BYTES },
  finish: { sig: ED25519_SIGNATURE_BYTES },
} as const satisfies Record<HandshakeMsg['type'], Record<string, 'federation' | 'region' | number>>;

/** The error of every handshake failure that is not about a key or signature. */
export const handshakeFailed = (msg: string): TransportError => new TransportError('TRANSPORT_HANDSHAKE_FAILED', msg);
const fail = handshakeFailed;

/**
 * Encodes a handshake message (msgpack map). Inputs are trusted (built by this module).
 * @param msg - Message.
 * @returns Encoded bytes.
 * @example
 * encodeHandshakeMsg({ v: 1, type: 'finish', sig: new Uint8Array(64) });
 */
export function encodeHandshakeMsg(msg: HandshakeMsg): Uint8Array {
  const out = packr.pack(msg);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Decodes and structurally validates one handshake message of the expected type.
 *
 * Order (cheap first): size limit, msgpack parse (errors wrapped: msgpackr quotes the data),
 * plain object, exact key set, `v`, `type`, then each field's type and length.
 * @param bytes - Untrusted bytes from the peer.
 * @param expected - The only type acceptable at this point of the handshake.
 * @returns The validated message.
 * @throws {TransportError} TRANSPORT_HANDSHAKE_FAILED naming the problem (never the data).
 * @example
 * decodeHandshakeMsg(bytes, 'hello');
 */
export function decodeHandshakeMsg<T extends HandshakeMsg['type']>(
  bytes: Uint8Array,
  expected: T,
): Extract<HandshakeMsg, { type: T }> {
  if (!(bytes instanceof Uint8Array)) throw fail(`${expected}: expected binary data`);
  if (bytes.length > MAX_HANDSHAKE_MESSAGE_BYTES) {
    throw fail(`${expected}: message of ${bytes.length} bytes exceeds the ${MAX_HANDSHAKE_MESSAGE_BYTES}-byte handshake limit`);
  }
  if (bytes.length === 0) throw fail(`${expected}: empty message`);
  let raw: unknown;
  try {
    raw = unpackr.unpack(bytes);
  } catch (e) {
    // msgpackr's messages may embed decoded content ("Data read, but end of buffer not
    // reached {...}"), so neither the message nor the error object is passed on.
    const m = e instanceof Error ? e.message : '';
    const why = m.startsWith('Data read, but end of buffer not reached') ? 'trailing bytes after message'
      : m.startsWith('Unexpected end') ? 'truncated message' : 'not valid msgpack';
    throw fail(`${expected}: ${why}`);
  }
  if (typeof raw !== 'object' || raw === null || Object.getPrototypeOf(raw) !== Object.prototype) {
    throw fail(`${expected}: expected a msgpack map`);
  }
  const obj = raw as Record<string, unknown>;
  if (obj['v'] !== HANDSHAKE_VERSION) throw fail(`${expected}: unsupported version (expected v=${HANDSHAKE_VERSION})`);
  if (obj['type'] !== expected) {
    const t = obj['type'];
    const shown = typeof t === 'string' && /^[a-z-]{1,16}$/.test(t) ? `"${t}"` : 'an invalid type';
    throw fail(`expected a "${expected}" message, got ${shown}`);
  }
  const schema: Record<string, 'federation' | 'region' | number> = SCHEMAS[expected];
  const want = new Set(['v', 'type', ...Object.keys(schema)]);
  const keys = Object.keys(obj);
  for (const k of keys) {
    if (!want.has(k)) throw fail(`${expected}: unexpected field ${/^[A-Za-z-]{1,16}$/.test(k) ? `"${k}"` : '(unprintable name)'}`);
  }
  if (keys.length !== want.size) {
    const missing = [...want].filter((k) => !(k in obj));
    throw fail(`${expected}: missing field(s) ${missing.map((k) => `"${k}"`).join(', ')}`);
  }
  const out: Record<string, unknown> = { v: HANDSHAKE_VERSION, type: expected };
  for (const [k, kind] of Object.entries(schema)) {
    const val = obj[k];
    if (kind === 'region') {
      if (!isRegionId(val)) throw fail(`${expected}: "${k}" must be a region id (${REGION_ID_RULE})`);
      out[k] = val;
    } else if (kind === 'federation') {
      if (!isFederationName(val)) throw fail(`${expected}: "${k}" must be a federation name (${FEDERATION_NAME_RULE})`);
      out[k] = val;
    } else {
      if (!(val instanceof Uint8Array)) throw fail(`${expected}: "${k}" must be binary`);
      if (val.length !== kind) throw fail(`${expected}: "${k}" must be ${kind} bytes, got ${val.length}`);
      out[k] = Uint8Array.from(val); // own copy, detached from the receive buffer
    }
  }
  return out as unknown as Extract<HandshakeMsg, { type: T }>;
}
