/**
 * Messages between region nodes for one aggregation round (protocol version 1), and the
 * canonical bytes that their signatures cover. Spec: docs/protocol.md.
 *
 * Sender identity comes from the authenticated peer link; fields that name a party (dealer,
 * holder) must equal it, and signatures bind them for the transcript.
 * @module
 */
import type { ErrorCode } from '../errors.js';

export const PROTOCOL_VERSION = 1;

/** A round id: 1-128 of A-Z a-z 0-9 . _ : - (safe as a file name, in a URL and in logs). */
export const ROUND_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Parameters every participant must agree on before anything secret is sent. */
export interface RoundParams {
  readonly round: string;
  /** hex SHA-256 of the federation file (canonical form). */
  readonly federation: string;
  /** hex digest of the locality policy in force. */
  readonly policy: string;
  /** All regions of the federation, sorted; region i (0-based) holds share x = i + 1. */
  readonly participants: readonly string[];
  readonly threshold: number;
  /** Number of model parameters (the shared vector has 2 more: total weight and trainer count). */
  readonly params: number;
  readonly scaleBits: number;
  readonly clipL2: number;
  readonly clipMode: 'clip' | 'reject';
  readonly minContributors: number;
  readonly minTrainers: number;
}

/** Keys of RoundParams in canonical order (used for comparison and signing). */
export const PARAM_KEYS = [
  'round', 'federation', 'policy', 'participants', 'threshold', 'params', 'scaleBits', 'clipL2', 'clipMode', 'minContributors', 'minTrainers',
] as const satisfies readonly (keyof RoundParams)[];

export type PeerMessage =
  | { type: 'params'; round: string; params: RoundParams }
  /** A chunk of the share vector the sender dealt to the receiver (elements offset..). */
  | { type: 'share'; round: string; offset: number; data: Uint8Array }
  /** Sent to everyone when the sender finished dealing (or has nothing to contribute). */
  | { type: 'commits'; round: string; dealer: string; contributes: boolean; trainers: number; digests: Record<string, Uint8Array>; sig: Uint8Array }
  | { type: 'receipt'; round: string; dealer: string; holder: string; digest: Uint8Array; sig: Uint8Array }
  /** The coordinator's decision; relayed unchanged by holders ahead of their aggregate share. */
  | { type: 'decision'; round: string; coordinator: string; dealers: string[]; holders: string[]; sig: Uint8Array }
  /** A chunk of the sender's aggregate share (sum of the shares it holds from the decided dealers). */
  | { type: 'agg'; round: string; offset: number; data: Uint8Array }
  | { type: 'agg-done'; round: string; holder: string; digest: Uint8Array; sig: Uint8Array }
  | { type: 'abort'; round: string; code: ErrorCode; reason: string; culprits: string[] }
  /**
   * Sent by each decided holder once it reconstructed: `result` is the result digest
   * (src/transcript resultDigest), `projection` its aggregate share's projection on the
   * Fiat-Shamir challenge (8 bytes, u64 big-endian), or empty when the challenge is undefined.
   */
  | { type: 'seal'; round: string; holder: string; result: Uint8Array; projection: Uint8Array; sig: Uint8Array };

export type MessageType = PeerMessage['type'];
export const MESSAGE_TYPES: readonly MessageType[] = ['params', 'share', 'commits', 'receipt', 'decision', 'agg', 'agg-done', 'abort', 'seal'];

export type Signed = Extract<PeerMessage, { sig: Uint8Array }>;
/** A signed message before signing. */
export type Unsigned<T = Signed> = T extends unknown ? Omit<T, 'sig'> : never;

const te = new TextEncoder();

/**
 * Canonical bytes a signature covers: "mpc-node/v1/<type>" then each field, length-prefixed
 * (u32 big-endian) in a fixed order. Deterministic without depending on msgpack key order.
 */
export function signedBytes(m: Unsigned | Signed): Uint8Array {
  const parts: Uint8Array[] = [te.encode(`mpc-node/v${PROTOCOL_VERSION}/${m.type}`), te.encode(m.round)];
  switch (m.type) {
    case 'commits':
      parts.push(te.encode(m.dealer), Uint8Array.of(m.contributes ? 1 : 0), te.encode(String(m.trainers)));
      for (const k of Object.keys(m.digests).sort()) parts.push(te.encode(k), m.digests[k]!);
      break;
    case 'receipt':
      parts.push(te.encode(m.dealer), te.encode(m.holder), m.digest);
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

/** Canonical bytes of round parameters (for digests and comparison). */
export function paramsBytes(p: RoundParams): Uint8Array {
  return lengthPrefixed(PARAM_KEYS.map((k) => te.encode(JSON.stringify(p[k]))));
}

function lengthPrefixed(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((s, p) => s + 4 + p.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const p of parts) {
    dv.setUint32(o, p.length);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}
