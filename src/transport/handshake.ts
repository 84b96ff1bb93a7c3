/**
 * Mutually authenticated peer handshake: signed ephemeral X25519, keys from HKDF-SHA256.
 *
 * Pure: no sockets, no timers, no clock; randomness is injected (`randomBytes(n)`), so every
 * failure path is a plain unit test. The socket edge (peer-conns.ts, peer-dialer.ts, under
 * PeerNetwork in peer-network.ts) moves the bytes.
 *
 * ```
 * Initiator (I, lower region id)                      Responder (R)
 *   hello     { v, type, federation, from, to, eph_I, nonce_I } ───────────►
 *             ◄─────────── hello-ack { v, type, from, eph_R, nonce_R, sig_R }
 *   finish    { v, type, sig_I } ──────────────────────────────────────────►
 *
 * th    = SHA-256(transcript)                 (transcript layout: see `transcriptBytes`)
 * sig_R = Ed25519(sk_R, th || "responder")
 * sig_I = Ed25519(sk_I, th || "initiator")
 * ss    = X25519(eph_I, eph_R)
 * k_i2r = HKDF-SHA256(ikm = ss, salt = th, info = "mpc-node v1 i2r", L = 32)
 * k_r2i = HKDF-SHA256(ikm = ss, salt = th, info = "mpc-node v1 r2i", L = 32)
 * ```
 *
 * The transcript contains both static public keys (as listed in the caller's directory), both
 * region ids, the federation id, both ephemerals and both nonces, so a signature proves
 * possession of the listed key for this exact session. Each side signs with its role label,
 * so a responder signature can never be replayed as an initiator signature.
 *
 * This file is the state machine (both roles, the single-use state, the wiping of secrets);
 * the messages and their strict decoder are handshake-messages.ts, the transcript and key
 * schedule handshake-keys.ts (both re-exported here). Full byte layouts: docs/transport.md.
 * @module
 */

import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { clean, concatBytes } from '@noble/hashes/utils.js';
import { TransportError } from '../errors.js';
import { type Identity } from './identity.js';
import { FEDERATION_NAME_RULE, isFederationName, isRegionId } from '../core/ids.js';
import { ed25519Verify } from '../core/crypto.js';
import { decodeHandshakeMsg, encodeHandshakeMsg, handshakeFailed as fail, HANDSHAKE_NONCE_BYTES, X25519_KEY_BYTES } from './handshake-messages.js';
import { deriveKeys, ecdh, SIG_LABEL_INITIATOR, SIG_LABEL_RESPONDER, transcriptBytes } from './handshake-keys.js';

export {
  decodeHandshakeMsg,
  ED25519_SIGNATURE_BYTES,
  encodeHandshakeMsg,
  HANDSHAKE_NONCE_BYTES,
  HANDSHAKE_VERSION,
  MAX_HANDSHAKE_MESSAGE_BYTES,
  X25519_KEY_BYTES,
  type FinishMsg,
  type HandshakeMsg,
  type HelloAckMsg,
  type HelloMsg,
} from './handshake-messages.js';
export { SESSION_KEY_BYTES, transcriptBytes } from './handshake-keys.js';

/** Region id -> Ed25519 public key of every peer this node may talk to. */
export type PeerDirectory = ReadonlyMap<string, Uint8Array>;

/** What both roles need to run a handshake. */
export interface HandshakeConfig {
  /** Federation id; both sides must agree exactly. */
  federation: string;
  /** This node's long-term identity. */
  identity: Identity;
  /** Public keys of the peers, by region (other regions only). */
  directory: PeerDirectory;
  /** CSPRNG: returns `n` fresh random bytes. Injected so tests are deterministic. */
  randomBytes: (n: number) => Uint8Array;
}

/** Result of a completed handshake: per-direction keys bound to an authenticated peer. */
export interface HandshakeSession {
  /** Authenticated region id of the other side. */
  peer: string;
  /** Our role in the handshake; selects the channel's nonce direction tags. */
  role: 'initiator' | 'responder';
  /** Key for frames we send (secret). */
  sendKey: Uint8Array;
  /** Key for frames we receive (secret). */
  recvKey: Uint8Array;
  /** SHA-256 of the transcript (public): a session id both sides agree on. */
  transcriptHash: Uint8Array;
}

/** Opaque state between `startInitiator` and `initiatorOnAck`. Single use. */
export interface InitiatorState {
  readonly role: 'initiator';
  /** The region being dialled. */
  readonly peer: string;
  /** @internal */ readonly _s: InitiatorSecrets;
}
/** Opaque state between `responderOnHello` and `responderOnFinish`. Single use. */
export interface ResponderState {
  readonly role: 'responder';
  /** The region the hello claims to come from (not yet authenticated). */
  readonly peer: string;
  /** @internal */ readonly _s: ResponderSecrets;
}

interface InitiatorSecrets {
  used: boolean;
  federation: string;
  identity: Identity;
  peerKey: Uint8Array;
  ephSecret: Uint8Array; // secret: zeroised after use
  ephPublic: Uint8Array;
  nonce: Uint8Array;
}
interface ResponderSecrets {
  used: boolean;
  peerKey: Uint8Array;
  transcriptHash: Uint8Array;
  k_i2r: Uint8Array; // secret: zeroised on failure; handed out on success
  k_r2i: Uint8Array;
}

function freshRandom(cfg: HandshakeConfig, n: number, title: string): Uint8Array {
  const r = cfg.randomBytes(n);
  if (!(r instanceof Uint8Array) || r.length !== n) throw new RangeError(`randomBytes(${n}) for "${title}" returned the wrong length`);
  return Uint8Array.from(r);
}

function checkConfig(cfg: HandshakeConfig): void {
  if (!isFederationName(cfg.federation)) {
    throw new RangeError(`"federation": ${FEDERATION_NAME_RULE}`);
  }
  if (!isRegionId(cfg.identity.region)) throw new RangeError('"identity.region" is not a valid region id');
  if (!(cfg.identity.secretKey instanceof Uint8Array) || cfg.identity.secretKey.length !== 32) {
    throw new RangeError('"identity.secretKey" expected Uint8Array of length 32');
  }
  if (!(cfg.identity.publicKey instanceof Uint8Array) || cfg.identity.publicKey.length !== 32) {
    throw new RangeError('"identity.publicKey" expected Uint8Array of length 32');
  }
}

function lookup(dir: PeerDirectory, region: string): Uint8Array {
  const key = dir.get(region);
  if (key === undefined) {
    throw new TransportError('TRANSPORT_UNKNOWN_PEER', `region "${region}" is not in the federation directory; add it (with its public key) to the federation file or check its name`);
  }
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new TransportError('TRANSPORT_UNKNOWN_PEER', `directory entry for region "${region}" is not a 32-byte Ed25519 public key`);
  }
  return key;
}

// ---------------------------------------------------------------------------------------------
// Initiator

/**
 * Starts a handshake towards `peer`: makes the ephemeral key pair and the hello message.
 * @param cfg - Handshake configuration.
 * @param peer - Region to dial; must be in `cfg.directory`.
 * @returns Single-use state and the encoded hello to send.
 * @throws {TransportError} TRANSPORT_UNKNOWN_PEER if `peer` is not in the directory.
 * @example
 * const { state, hello } = startInitiator(cfg, 'us-east');
 */
export function startInitiator(cfg: HandshakeConfig, peer: string): { state: InitiatorState; hello: Uint8Array } {
  checkConfig(cfg);
  if (peer === cfg.identity.region) throw fail(`cannot handshake with ourselves ("${peer}")`);
  const peerKey = lookup(cfg.directory, peer);
  const ephSecret = freshRandom(cfg, X25519_KEY_BYTES, 'ephemeral key');
  const ephPublic = x25519.getPublicKey(ephSecret);
  const nonce = freshRandom(cfg, HANDSHAKE_NONCE_BYTES, 'nonce');
  const hello = encodeHandshakeMsg({
    v: 1,
    type: 'hello',
    federation: cfg.federation,
    from: cfg.identity.region,
    to: peer,
    eph: ephPublic,
    nonce,
  });
  const state: InitiatorState = {
    role: 'initiator',
    peer,
    _s: { used: false, federation: cfg.federation, identity: cfg.identity, peerKey, ephSecret, ephPublic, nonce },
  };
  return { state, hello };
}

/**
 * Consumes the responder's hello-ack: verifies its signature against the directory key of the
 * dialled region, derives the session keys and produces the finish message.
 * @param state - From {@link startInitiator}; consumed (and its secrets wiped) either way.
 * @param ackBytes - Untrusted bytes from the responder.
 * @returns The finish message to send and the session keys.
 * @throws {TransportError} TRANSPORT_HANDSHAKE_FAILED (malformed, wrong region, reused state),
 *   TRANSPORT_BAD_SIGNATURE (signature does not verify under the listed key).
 * @example
 * const { finish, session } = initiatorOnAck(state, ackBytes);
 */
export function initiatorOnAck(state: InitiatorState, ackBytes: Uint8Array): { finish: Uint8Array; session: HandshakeSession } {
  const s = state._s;
  if (s.used) throw fail('initiator handshake state already used; start a new handshake');
  s.used = true;
  let shared: Uint8Array | undefined;
  try {
    const ack = decodeHandshakeMsg(ackBytes, 'hello-ack');
    if (ack.from !== state.peer) {
      throw fail(`hello-ack comes from region "${ack.from}" but we dialled "${state.peer}"; check the endpoint in the federation file`);
    }
    const th = sha256(
      transcriptBytes({
        federation: s.federation,
        initiator: s.identity.region,
        responder: state.peer,
        initiatorKey: s.identity.publicKey,
        responderKey: s.peerKey,
        ephI: s.ephPublic,
        nonceI: s.nonce,
        ephR: ack.eph,
        nonceR: ack.nonce,
      }),
    );
    if (!ed25519Verify(s.peerKey, concatBytes(th, SIG_LABEL_RESPONDER), ack.sig)) {
      throw new TransportError(
        'TRANSPORT_BAD_SIGNATURE',
        `hello-ack signature from "${state.peer}" does not verify under its listed public key (wrong key in the federation file, a different federation, or an impostor)`,
      );
    }
    shared = ecdh(s.ephSecret, ack.eph, 'hello-ack');
    const { k_i2r, k_r2i } = deriveKeys(shared, th);
    const sig = ed25519.sign(concatBytes(th, SIG_LABEL_INITIATOR), s.identity.secretKey);
    const finish = encodeHandshakeMsg({ v: 1, type: 'finish', sig });
    return { finish, session: { peer: state.peer, role: 'initiator', sendKey: k_i2r, recvKey: k_r2i, transcriptHash: th } };
  } finally {
    // Best effort: this wipes our copies. JS cannot wipe copies made inside noble (bigint
    // scalars are immutable and garbage-collected) or strings; see the README's Security notes.
    clean(s.ephSecret);
    if (shared !== undefined) clean(shared);
  }
}

// ---------------------------------------------------------------------------------------------
// Responder

/**
 * Consumes an initiator's hello: checks federation, addressee and that the claimed region is in
 * the directory; then makes our ephemeral, derives the keys (held back until `finish` verifies)
 * and signs the hello-ack.
 * @param cfg - Handshake configuration.
 * @param helloBytes - Untrusted bytes from the connecting peer.
 * @returns Single-use state, the encoded hello-ack to send, and the (claimed) peer region.
 * @throws {TransportError} TRANSPORT_HANDSHAKE_FAILED (malformed, wrong federation, wrong `to`),
 *   TRANSPORT_UNKNOWN_PEER (claimed region not in the directory).
 * @example
 * const { state, ack, peer } = responderOnHello(cfg, helloBytes);
 */
export function responderOnHello(cfg: HandshakeConfig, helloBytes: Uint8Array): { state: ResponderState; ack: Uint8Array; peer: string } {
  checkConfig(cfg);
  const hello = decodeHandshakeMsg(helloBytes, 'hello');
  if (hello.federation !== cfg.federation) {
    throw fail(`hello is for federation ${JSON.stringify(hello.federation)} but this node serves ${JSON.stringify(cfg.federation)}`);
  }
  if (hello.to !== cfg.identity.region) {
    throw fail(`hello is addressed to region "${hello.to}" but this node is "${cfg.identity.region}"; check the endpoint in the peer's federation file`);
  }
  if (hello.from === cfg.identity.region) throw fail(`hello claims to come from this node's own region "${hello.from}"`);
  const peerKey = lookup(cfg.directory, hello.from);
  const ephSecret = freshRandom(cfg, X25519_KEY_BYTES, 'ephemeral key');
  let shared: Uint8Array | undefined;
  try {
    const ephPublic = x25519.getPublicKey(ephSecret);
    const nonce = freshRandom(cfg, HANDSHAKE_NONCE_BYTES, 'nonce');
    shared = ecdh(ephSecret, hello.eph, 'hello');
    const th = sha256(
      transcriptBytes({
        federation: cfg.federation,
        initiator: hello.from,
        responder: cfg.identity.region,
        initiatorKey: peerKey,
        responderKey: cfg.identity.publicKey,
        ephI: hello.eph,
        nonceI: hello.nonce,
        ephR: ephPublic,
        nonceR: nonce,
      }),
    );
    const { k_i2r, k_r2i } = deriveKeys(shared, th);
    const sig = ed25519.sign(concatBytes(th, SIG_LABEL_RESPONDER), cfg.identity.secretKey);
    const ack = encodeHandshakeMsg({ v: 1, type: 'hello-ack', from: cfg.identity.region, eph: ephPublic, nonce, sig });
    const state: ResponderState = {
      role: 'responder',
      peer: hello.from,
      _s: { used: false, peerKey, transcriptHash: th, k_i2r, k_r2i },
    };
    return { state, ack, peer: hello.from };
  } finally {
    clean(ephSecret); // best effort, see initiatorOnAck
    if (shared !== undefined) clean(shared);
  }
}

/**
 * Consumes the initiator's finish: verifies its signature against the directory key of the
 * claimed region. Only then are the session keys released.
 * @param state - From {@link responderOnHello}; consumed either way (keys wiped on failure).
 * @param finishBytes - Untrusted bytes from the connecting peer.
 * @returns The session keys.
 * @throws {TransportError} TRANSPORT_HANDSHAKE_FAILED (malformed, reused state),
 *   TRANSPORT_BAD_SIGNATURE (signature does not verify under the listed key).
 * @example
 * const session = responderOnFinish(state, finishBytes);
 */
export function responderOnFinish(state: ResponderState, finishBytes: Uint8Array): HandshakeSession {
  const s = state._s;
  if (s.used) throw fail('responder handshake state already used; wait for a new hello');
  s.used = true;
  try {
    const finish = decodeHandshakeMsg(finishBytes, 'finish');
    if (!ed25519Verify(s.peerKey, concatBytes(s.transcriptHash, SIG_LABEL_INITIATOR), finish.sig)) {
      throw new TransportError(
        'TRANSPORT_BAD_SIGNATURE',
        `finish signature from "${state.peer}" does not verify under its listed public key (wrong key in the federation file, or an impostor)`,
      );
    }
  } catch (e) {
    clean(s.k_i2r, s.k_r2i);
    throw e;
  }
  return { peer: state.peer, role: 'responder', sendKey: s.k_r2i, recvKey: s.k_i2r, transcriptHash: s.transcriptHash };
}

/**
 * Wipes the secrets held by an unfinished handshake (e.g. on timeout or socket close).
 * Safe to call on finished or already-destroyed state.
 * @param state - Either role's state.
 * @example
 * abortHandshake(state);
 */
export function abortHandshake(state: InitiatorState | ResponderState): void {
  const s = state._s;
  if (s.used) return;
  s.used = true;
  if (state.role === 'initiator') clean((s as InitiatorSecrets).ephSecret);
  else clean((s as ResponderSecrets).k_i2r, (s as ResponderSecrets).k_r2i);
}
