/**
 * Messages between region nodes for one aggregation round (protocol version 1), and the
 * canonical bytes that their signatures cover. Spec: docs/protocol.md.
 *
 * Sender identity comes from the authenticated peer link; fields that name a party (dealer,
 * holder) must equal it, and signatures bind them for the transcript.
 * @module
 */
import type { ErrorCode } from '../errors.js';
import type { FederationSummary } from '../federation/index.js';
import { lengthPrefixed, type RoundParams } from './params.js';

/**
 * The wire envelope's version (`v` of every encoded message, src/wire/codec.ts). A round's
 * protocol version is its parameters' `protocol` (src/protocol/params.ts versionOf).
 */
export const PROTOCOL_VERSION = 1;

export type PeerMessage =
  /**
   * `summary`: the sender's federation summary (src/federation/summary.ts), so a mismatch can
   * name the fields; `tensors`: the canonical text of the round's named-tensor manifest (its
   * digest is `params.manifest`), so a mismatch can name the first tensor that differs.
   */
  | { type: 'params'; round: string; params: RoundParams; summary?: FederationSummary; tensors?: string }
  /** A chunk of the share vector the sender dealt to the receiver (elements offset..). */
  | { type: 'share'; round: string; offset: number; data: Uint8Array }
  /** Sent to everyone when the sender finished dealing (or has nothing to contribute). */
  | { type: 'commits'; round: string; dealer: string; contributes: boolean; trainers: number; digests: Record<string, Uint8Array>; sig: Uint8Array }
  /**
   * `projection` (version 2 only): the holder's share projected on the dealer's challenge (8
   * bytes, u64 big-endian), for the dealer-consistency check.
   */
  | { type: 'receipt'; round: string; dealer: string; holder: string; digest: Uint8Array; projection?: Uint8Array; sig: Uint8Array }
  /** Version 2: the 32-byte seed the receiver's share from the sender expands to (sent after `commits`). */
  | { type: 'seed'; round: string; seed: Uint8Array }
  /** The coordinator's decision; relayed unchanged by holders ahead of their aggregate share. */
  | { type: 'decision'; round: string; coordinator: string; dealers: string[]; holders: string[]; sig: Uint8Array }
  /** A chunk of the sender's aggregate share (sum of the shares it holds from the decided dealers). */
  | { type: 'agg'; round: string; offset: number; data: Uint8Array }
  /**
   * The holder's commitment to its whole aggregate share: in version 1 sent after streaming it,
   * in version 2 before (the challenge is fixed once every decided holder's is in).
   */
  | { type: 'agg-done'; round: string; holder: string; digest: Uint8Array; sig: Uint8Array }
  /**
   * Version 2: the sender asks the receiver (a decided holder) for its whole aggregate share: it
   * chose the receiver as a source in place of one whose link went down (docs/protocol.md
   * "Dropouts in version 2").
   */
  | { type: 'agg-pull'; round: string }
  /** Version 2: the holder's aggregate share projected on the round's challenge (8 bytes, u64 big-endian). */
  | { type: 'agg-proj'; round: string; holder: string; projection: Uint8Array; sig: Uint8Array }
  | { type: 'abort'; round: string; code: ErrorCode; reason: string; culprits: string[] }
  /**
   * Sent by each decided holder once it reconstructed: `result` is the result digest
   * (src/transcript resultDigest), `projection` its aggregate share's projection on the
   * Fiat-Shamir challenge (8 bytes, u64 big-endian), or empty when the challenge is undefined.
   */
  | { type: 'seal'; round: string; holder: string; result: Uint8Array; projection: Uint8Array; sig: Uint8Array };

/**
 * The codes a round aborts with (the protocol and policy causes an `abort` message may name). A
 * peer's abort with one of them is reported under it; with any other code, as PROTOCOL_ABORTED.
 */
export const ABORT_CAUSES: readonly ErrorCode[] = [
  'PROTOCOL_PARAMS_MISMATCH', 'PROTOCOL_BELOW_THRESHOLD', 'PROTOCOL_BELOW_MIN_CONTRIBUTORS', 'POLICY_MIN_TRAINERS', 'POLICY_FLOW_REFUSED',
  'PROTOCOL_BAD_COMMITMENT', 'PROTOCOL_BAD_SIGNATURE', 'PROTOCOL_EQUIVOCATION', 'PROTOCOL_INCONSISTENT_AGGREGATE', 'PROTOCOL_INCONSISTENT_DEALER', 'PROTOCOL_UNEXPECTED_MESSAGE',
  'PROTOCOL_TIMEOUT', 'PROTOCOL_PEER_LOST', 'PROTOCOL_ABORTED',
];

export const isAbortCause = (code: string): code is ErrorCode => (ABORT_CAUSES as readonly string[]).includes(code);

/** Longest `abort` reason (characters): a longer one is cut when sent. */
export const MAX_ABORT_REASON = 2048;

export type MessageType = PeerMessage['type'];
export const MESSAGE_TYPES: readonly MessageType[] = ['params', 'share', 'seed', 'commits', 'receipt', 'decision', 'agg', 'agg-done', 'agg-proj', 'agg-pull', 'abort', 'seal'];

export type Signed = Extract<PeerMessage, { sig: Uint8Array }>;
/** A signed message before signing. */
export type Unsigned<T = Signed> = T extends unknown ? Omit<T, 'sig'> : never;

const te = new TextEncoder();

/**
 * Canonical bytes a signature covers: "mpc-node/v<version>/<type>" (the round's protocol
 * version) then each field, length-prefixed (u32 big-endian) in a fixed order. Deterministic
 * without depending on msgpack key order.
 */
export function signedBytes(m: Unsigned | Signed, version: 1 | 2 = 1): Uint8Array {
  const parts: Uint8Array[] = [te.encode(`mpc-node/v${version}/${m.type}`), te.encode(m.round)];
  switch (m.type) {
    case 'commits':
      parts.push(te.encode(m.dealer), Uint8Array.of(m.contributes ? 1 : 0), te.encode(String(m.trainers)));
      for (const k of Object.keys(m.digests).sort()) parts.push(te.encode(k), m.digests[k]!);
      break;
    case 'receipt':
      parts.push(te.encode(m.dealer), te.encode(m.holder), m.digest);
      if (m.projection !== undefined) parts.push(m.projection);
      break;
    case 'agg-proj':
      parts.push(te.encode(m.holder), m.projection);
      break;
    case 'decision':
      parts.push(te.encode(m.coordinator), te.encode(m.dealers.join(',')), te.encode(m.holders.join(',')));
      break;
    case 'agg-done':
      parts.push(te.encode(m.holder), m.digest);
      break;
    case 'seal':
      parts.push(te.encode(m.holder), m.result, m.projection);
      break;
  }
  return lengthPrefixed(parts);
}

