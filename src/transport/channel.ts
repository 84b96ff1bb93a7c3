/**
 * Record layer of a peer link: AES-256-GCM with per-direction keys and strict counters.
 *
 * ```
 * frame  = counter (8, u64 big-endian) || ciphertext (= plaintext length) || tag (16)
 * nonce  = direction tag (4, u32 big-endian) || counter (8, u64 big-endian)      12 bytes
 * aad    = "mpc-node v1 frame" (17, ASCII) || direction tag (4)
 * tags   : initiator->responder = 0x00000001, responder->initiator = 0x00000002
 * ```
 *
 * Each direction has its own key (HKDF output, see handshake.ts) *and* its own nonce space, so
 * a frame can be neither reflected back to its sender nor accepted in the other direction.
 * `open` accepts only the exact next counter: a replayed, dropped or reordered frame fails
 * before any decryption. Counters start at 0 for every new session; a session's keys are never
 * reused, because each handshake derives fresh ones from fresh ephemerals.
 *
 * No state advances on failure. The owner (peer-conns.ts, for PeerNetwork) closes the link on
 * any failure.
 * @module
 */

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TransportError } from '../errors.js';
import type { HandshakeSession } from './handshake.js';

/** Counter prefix length in a frame. */
export const FRAME_COUNTER_BYTES = 8;
/** GCM tag length (NIST SP 800-38D, full 128-bit tag). */
export const GCM_TAG_BYTES = 16;
/** Largest piece handed to one cipher update() (see seal). */
const GCM_PIECE_BYTES = 65536;

/** Bytes a frame adds to its plaintext. */
export const FRAME_OVERHEAD_BYTES = FRAME_COUNTER_BYTES + GCM_TAG_BYTES;
/** Direction tag for initiator -> responder frames. */
export const DIRECTION_I2R = 0x00000001;
/** Direction tag for responder -> initiator frames. */
export const DIRECTION_R2I = 0x00000002;
/**
 * Frames per direction before the channel refuses to seal. Far below the GCM limit of 2^32
 * invocations per key recommended for random nonces (ours are deterministic, so the real limit
 * is 2^64); it bounds the key's use and keeps counters exact in the u64 encoding.
 */
export const MAX_FRAMES_PER_DIRECTION = 2n ** 48n;

const AAD_LABEL = new TextEncoder().encode('mpc-node v1 frame');

function aad(direction: number): Buffer {
  const out = Buffer.alloc(AAD_LABEL.length + 4);
  out.set(AAD_LABEL, 0);
  out.writeUInt32BE(direction, AAD_LABEL.length);
  return out;
}

function nonce(direction: number, counter: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32BE(direction, 0);
  n.writeBigUInt64BE(counter, 4);
  return n;
}

const decryptFail = (msg: string): TransportError => new TransportError('TRANSPORT_DECRYPT_FAILED', msg);

/** Keys and role for a {@link SecureChannel}. */
export interface ChannelKeys {
  /** 32-byte key for frames we send (secret). */
  sendKey: Uint8Array;
  /** 32-byte key for frames we receive (secret). */
  recvKey: Uint8Array;
  /** Our handshake role: selects which direction tag we send with. */
  role: 'initiator' | 'responder';
}

/**
 * One established, authenticated and encrypted peer link (both directions).
 * @example
 * const ch = new SecureChannel(session);
 * const frame = ch.seal(bytes); // … peer: other.open(frame)
 */
export class SecureChannel {
  readonly #sendKey: Buffer; // secret
  readonly #recvKey: Buffer; // secret
  readonly #sendDir: number;
  readonly #recvDir: number;
  readonly #sendAad: Buffer;
  readonly #recvAad: Buffer;
  #sendCounter = 0n;
  #recvCounter = 0n;
  #destroyed = false;

  /**
   * @param keys - Session keys and role (a {@link HandshakeSession} fits).
   * @throws {RangeError} If a key is not 32 bytes.
   */
  constructor(keys: ChannelKeys | HandshakeSession) {
    if (!(keys.sendKey instanceof Uint8Array) || keys.sendKey.length !== 32) throw new RangeError('"sendKey" expected Uint8Array of length 32');
    if (!(keys.recvKey instanceof Uint8Array) || keys.recvKey.length !== 32) throw new RangeError('"recvKey" expected Uint8Array of length 32');
    if (keys.role !== 'initiator' && keys.role !== 'responder') throw new TypeError('"role" expected "initiator" or "responder"');
    // Own copies, so the caller may wipe its session object.
    this.#sendKey = Buffer.from(keys.sendKey);
    this.#recvKey = Buffer.from(keys.recvKey);
    this.#sendDir = keys.role === 'initiator' ? DIRECTION_I2R : DIRECTION_R2I;
    this.#recvDir = keys.role === 'initiator' ? DIRECTION_R2I : DIRECTION_I2R;
    this.#sendAad = aad(this.#sendDir);
    this.#recvAad = aad(this.#recvDir);
  }

  /** Frames sealed so far (= counter of the next frame to send). */
  get framesSent(): bigint {
    return this.#sendCounter;
  }
  /** Frames opened so far (= counter expected next). */
  get framesReceived(): bigint {
    return this.#recvCounter;
  }

  /**
   * Encrypts one message into a frame and advances the send counter.
   * @param plaintext - Message bytes (any length; size limits are the link's business).
   * @param into - Optional buffer to write the frame into (used when it is large enough), so a
   *   link can recycle its frames instead of allocating one per message.
   * @returns `counter || ciphertext || tag` (a view of `into` when it was used).
   * @throws {TransportError} TRANSPORT_CLOSED after `destroy()` or when the counter is exhausted.
   * @example
   * ws.send(ch.seal(msg));
   */
  seal(plaintext: Uint8Array | readonly Uint8Array[], into?: Uint8Array): Uint8Array {
    const parts = plaintext instanceof Uint8Array ? [plaintext] : plaintext;
    if (!parts.every((p) => p instanceof Uint8Array)) throw new TypeError('"plaintext" expected Uint8Array or Uint8Array[]');
    const length = parts.reduce((n, p) => n + p.length, 0);
    if (this.#destroyed) throw new TransportError('TRANSPORT_CLOSED', 'channel destroyed; wait for the link to be re-established');
    if (this.#sendCounter >= MAX_FRAMES_PER_DIRECTION) {
      throw new TransportError('TRANSPORT_CLOSED', 'channel frame counter exhausted; reconnect to derive fresh keys');
    }
    const counter = this.#sendCounter;
    const cipher = createCipheriv('aes-256-gcm', this.#sendKey, nonce(this.#sendDir, counter), { authTagLength: GCM_TAG_BYTES });
    cipher.setAAD(this.#sendAad);
    const size = FRAME_COUNTER_BYTES + length + GCM_TAG_BYTES;
    // every byte of the frame is written below, so a reused buffer needs no clearing
    const out = into && into.length >= size ? into.subarray(0, size) : new Uint8Array(size);
    new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(0, counter, false);
    // update() in <= 64 KiB pieces: node:crypto runs ~3.5x faster than on one large buffer here
    // (bench: 1.85 vs 0.51 GB/s for a 512 KiB message); the bytes are the same.
    // Parts are encrypted in order straight into the frame (no joined plaintext copy).
    let o = FRAME_COUNTER_BYTES;
    for (const part of parts) {
      for (let i = 0; i < part.length; i += GCM_PIECE_BYTES) {
        const piece = cipher.update(part.subarray(i, Math.min(part.length, i + GCM_PIECE_BYTES)));
        out.set(piece, o);
        o += piece.length;
      }
    }
    const fin = cipher.final(); // empty for GCM, kept for correctness
    out.set(fin, o);
    out.set(cipher.getAuthTag(), FRAME_COUNTER_BYTES + length);
    this.#sendCounter = counter + 1n;
    return out;
  }

  /**
   * Authenticates and decrypts the next frame from the peer.
   * @param frame - Untrusted bytes from the socket.
   * @param into - Optional buffer to decrypt into (used when it is large enough).
   * @returns The plaintext: a fresh buffer, or a view of `into`.
   * @throws {TransportError} TRANSPORT_DECRYPT_FAILED: "replayed"/"out of order" when the counter
   *   is not the next expected one, "authentication failed" when the frame was modified, forged
   *   or sealed with another key. Messages contain counters and lengths, never data.
   * @example
   * const msg = ch.open(frame);
   */
  open(frame: Uint8Array, into?: Uint8Array): Uint8Array {
    if (!(frame instanceof Uint8Array)) throw new TypeError('"frame" expected Uint8Array');
    if (this.#destroyed) throw new TransportError('TRANSPORT_CLOSED', 'channel destroyed; wait for the link to be re-established');
    if (frame.length < FRAME_OVERHEAD_BYTES) {
      throw decryptFail(`frame of ${frame.length} bytes is shorter than the ${FRAME_OVERHEAD_BYTES}-byte minimum (counter + tag)`);
    }
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const counter = view.getBigUint64(0, false);
    const expected = this.#recvCounter;
    // Counter check first: cheap, and a replay must fail even though its tag is valid.
    if (counter < expected) throw decryptFail(`replayed frame: counter ${counter} already received (expected ${expected})`);
    if (counter > expected) throw decryptFail(`out-of-order frame: counter ${counter}, expected ${expected} (frame dropped or reordered)`);
    const tagStart = frame.length - GCM_TAG_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', this.#recvKey, nonce(this.#recvDir, counter), { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(this.#recvAad);
    decipher.setAuthTag(frame.subarray(tagStart));
    const bodyLength = tagStart - FRAME_COUNTER_BYTES;
    const body = into && into.length >= bodyLength ? into.subarray(0, bodyLength) : new Uint8Array(bodyLength);
    for (let i = FRAME_COUNTER_BYTES, o = 0; i < tagStart; i += GCM_PIECE_BYTES) {
      const piece = decipher.update(frame.subarray(i, Math.min(tagStart, i + GCM_PIECE_BYTES)));
      body.set(piece, o);
      o += piece.length;
    }
    try {
      decipher.final();
    } catch {
      // Unauthenticated plaintext is discarded unseen; wipe it anyway.
      body.fill(0);
      throw decryptFail(`authentication failed for frame ${counter}: modified, forged, or sealed with another key`);
    }
    this.#recvCounter = expected + 1n;
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }

  /**
   * Wipes both keys and makes the channel unusable. Best effort: node:crypto keeps its own
   * copies inside OpenSSL contexts that JS cannot reach (they are freed with the cipher objects).
   * @example
   * ch.destroy();
   */
  destroy(): void {
    this.#destroyed = true;
    this.#sendKey.fill(0);
    this.#recvKey.fill(0);
  }
}
