/**
 * Mutually authenticated peer handshake: signed ephemeral X25519, keys from HKDF-SHA256.
 *
 * Pure: no sockets, no timers, no clock; randomness is injected (`randomBytes(n)`), so every
 * failure path is a plain unit test. The socket edge (peer-network.ts) moves the bytes.
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
 * Full byte layouts: docs/transport.md.
 * @module
 */

import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { clean, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { Packr, Unpackr } from 'msgpackr';
import { TransportError } from '../errors.js';
import { type Identity } from './identity.js';
import { FEDERATION_NAME_RULE, isFederationName, isRegionId, REGION_ID_RULE } from '../core/ids.js';
import { ed25519Verify } from '../core/crypto.js';

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
/** Session key length (AES-256). */
export const SESSION_KEY_BYTES = 32;

const TRANSCRIPT_LABEL = utf8ToBytes('mpc-node/handshake/v1');
const SIG_LABEL_RESPONDER = utf8ToBytes('responder');
const SIG_LABEL_INITIATOR = utf8ToBytes('initiator');
const INFO_I2R = utf8ToBytes('mpc-node v1 i2r');
const INFO_R2I = utf8ToBytes('mpc-node v1 r2i');

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

// ---------------------------------------------------------------------------------------------
// Messages and their codec

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

const fail = (msg: string): TransportError => new TransportError('TRANSPORT_HANDSHAKE_FAILED', msg);

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

// ---------------------------------------------------------------------------------------------
// Transcript

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

function deriveKeys(shared: Uint8Array, th: Uint8Array): { k_i2r: Uint8Array; k_r2i: Uint8Array } {
  // RFC 5869 §2.2: the salt is public and session-unique (the transcript hash).
  return {
    k_i2r: hkdf(sha256, shared, th, INFO_I2R, SESSION_KEY_BYTES),
    k_r2i: hkdf(sha256, shared, th, INFO_R2I, SESSION_KEY_BYTES),
  };
}

function ecdh(ephSecret: Uint8Array, peerEph: Uint8Array, who: string): Uint8Array {
  try {
    // noble rejects low-order points (all-zero shared secret, RFC 7748 §6.1).
    return x25519.getSharedSecret(ephSecret, peerEph);
  } catch {
    throw fail(`${who}: ephemeral key is not a valid X25519 public key (low order)`);
  }
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
