/**
 * Round parameters: what every participant must agree on before anything secret is sent, their
 * canonical bytes and digest, the parameters a node of a federation proposes, the first field
 * two proposals differ in, the coordinator and each region's share x.
 * Spec: docs/protocol.md.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { federationDigestHex, type Federation } from '../federation/index.js';
import { policyDigest } from '../policy/index.js';

export const PARAMS_DIGEST_TAG = 'mpc-node/v1/params\0';

/** Number of extra elements after the model parameters in every shared vector: the total weight. */
export const EXTRA_ELEMS = 1;

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
  /** Number of model parameters (the shared vector has EXTRA_ELEMS more: the total weight). */
  readonly params: number;
  readonly scaleBits: number;
  readonly clipL2: number;
  readonly clipMode: 'clip' | 'reject';
  readonly minContributors: number;
  readonly minTrainers: number;
}

/** Keys of RoundParams in canonical order (used for comparison, digests and shape checks). */
export const PARAM_KEYS = [
  'round', 'federation', 'policy', 'participants', 'threshold', 'params', 'scaleBits', 'clipL2', 'clipMode', 'minContributors', 'minTrainers',
] as const satisfies readonly (keyof RoundParams)[];

const te = new TextEncoder();

/** Length-prefixed (u32 big-endian) concatenation: the canonical form of signed and digested fields. */
export function lengthPrefixed(parts: readonly Uint8Array[]): Uint8Array {
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

/** Canonical bytes of round parameters (for digests and comparison). */
export function paramsBytes(p: RoundParams): Uint8Array {
  return lengthPrefixed(PARAM_KEYS.map((k) => te.encode(JSON.stringify(p[k]))));
}

/** SHA-256(PARAMS_DIGEST_TAG || paramsBytes(p)) as hex. */
export function paramsDigestHex(p: RoundParams): string {
  return bytesToHex(sha256(concatBytes(utf8ToBytes(PARAMS_DIGEST_TAG), paramsBytes(p))));
}

/** The parameters a node of federation `f` proposes for round `round` of `params` values. */
export function roundParamsFor(f: Federation, round: string, params: number): RoundParams {
  return {
    round, federation: federationDigestHex(f), policy: policyDigest(f),
    participants: f.regions.map((r) => r.id).sort(), threshold: f.threshold, params,
    scaleBits: f.round.scaleBits, clipL2: f.round.clipL2, clipMode: f.round.clipMode,
    minContributors: f.round.minContributors, minTrainers: f.policy.minTrainers,
  };
}

/**
 * Compares two parameter sets; returns the first differing key with both values, or null.
 */
export function paramsMismatch(ours: RoundParams, theirs: RoundParams): { key: string; expected: string; found: string } | null {
  // the policy digest first: a policy difference also changes the federation digest, and
  // "policy differs" is the actionable message
  for (const k of ['policy', ...PARAM_KEYS.filter((x) => x !== 'policy')] as const) {
    const a = JSON.stringify(ours[k]);
    const b = JSON.stringify(theirs[k]);
    if (a !== b) return { key: k, expected: a, found: b };
  }
  return null;
}

/** The coordinator decides D and R: the first participant in sorted order. */
export const coordinatorOf = (p: RoundParams): string => p.participants[0]!;
/** Share x of a region: its 1-based position among the sorted participants (0: not a participant). */
export const xOf = (p: RoundParams, region: string): number => p.participants.indexOf(region) + 1;
/** The participant whose share x is `x` (the inverse of {@link xOf}). */
export const regionOfX = (p: RoundParams, x: number): string => p.participants[x - 1]!;
