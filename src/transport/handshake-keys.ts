/**
 * The handshake's key schedule: the transcript bytes both sides hash, the signature role
 * labels, the X25519 exchange and the HKDF-SHA256 derivation of the two direction keys.
 * Pure functions of their inputs; the state machine that calls them is handshake.ts.
 * @module
 */

import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { handshakeFailed as fail } from './handshake-messages.js';

/** Session key length (AES-256). */
export const SESSION_KEY_BYTES = 32;

const TRANSCRIPT_LABEL = utf8ToBytes('mpc-node/handshake/v1');
/** Appended to the transcript hash before signing, per role. */
export const SIG_LABEL_RESPONDER = utf8ToBytes('responder');
export const SIG_LABEL_INITIATOR = utf8ToBytes('initiator');
const INFO_I2R = utf8ToBytes('mpc-node v1 i2r');
const INFO_R2I = utf8ToBytes('mpc-node v1 r2i');

function lp(s: string): Uint8Array {
  const b = utf8ToBytes(s);
  if (b.length > 0xffff) throw new RangeError('string too long for transcript');
  const out = new Uint8Array(2 + b.length);
  out[0] = b.length >>> 8;
  out[1] = b.length & 0xff;
  out.set(b, 2);
  return out;
}

/**
 * The exact bytes hashed into the transcript hash:
 *
 * ```
 * "mpc-node/handshake/v1"                (21 bytes, ASCII)
 * u16be len || federation                (UTF-8)
 * u16be len || initiator region
 * u16be len || responder region
 * initiator Ed25519 public key           (32)
 * responder Ed25519 public key           (32)
 * eph_I (32) || nonce_I (32) || eph_R (32) || nonce_R (32)
 * ```
 * @param t - Transcript fields.
 * @returns Concatenated bytes.
 * @example
 * sha256(transcriptBytes(fields));
 */
export function transcriptBytes(t: {
  federation: string;
  initiator: string;
  responder: string;
  initiatorKey: Uint8Array;
  responderKey: Uint8Array;
  ephI: Uint8Array;
  nonceI: Uint8Array;
  ephR: Uint8Array;
  nonceR: Uint8Array;
}): Uint8Array {
  return concatBytes(
    TRANSCRIPT_LABEL,
    lp(t.federation),
    lp(t.initiator),
    lp(t.responder),
    t.initiatorKey,
    t.responderKey,
    t.ephI,
    t.nonceI,
    t.ephR,
    t.nonceR,
  );
}

/** The two session keys of a transcript hash and a shared secret. */
export function deriveKeys(shared: Uint8Array, th: Uint8Array): { k_i2r: Uint8Array; k_r2i: Uint8Array } {
  // RFC 5869 §2.2: the salt is public and session-unique (the transcript hash).
  return {
    k_i2r: hkdf(sha256, shared, th, INFO_I2R, SESSION_KEY_BYTES),
    k_r2i: hkdf(sha256, shared, th, INFO_R2I, SESSION_KEY_BYTES),
  };
}

/**
 * X25519 of our ephemeral secret and the peer's ephemeral public key.
 * @throws {TransportError} TRANSPORT_HANDSHAKE_FAILED for a low-order point.
 */
export function ecdh(ephSecret: Uint8Array, peerEph: Uint8Array, who: string): Uint8Array {
  try {
    // noble rejects low-order points (all-zero shared secret, RFC 7748 §6.1).
    return x25519.getSharedSecret(ephSecret, peerEph);
  } catch {
    throw fail(`${who}: ephemeral key is not a valid X25519 public key (low order)`);
  }
}
