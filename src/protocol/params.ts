/**
 * Round parameters: what every participant must agree on before anything secret is sent, their
 * canonical bytes and digest, the parameters a node of a federation proposes, the first field
 * two proposals differ in, the coordinator and each region's share x.
 * Spec: docs/protocol.md.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { federationDigestHex, summaryDifferences, type Federation, type FederationSummary } from '../federation/index.js';
import { policyDigest } from '../policy/index.js';
import { HEX32_RE } from '../core/hex.js';
import { manifestDifference, type TensorManifest } from '../core/tensor-manifest.js';
import { MAX_PARTIES, REGION_ID_RE, ROUND_ID_RE } from '../core/ids.js';

export const PARAMS_DIGEST_TAG = 'mpc-node/v1/params\0';

/**
 * Number of extra elements after the model parameters in every shared vector of version 1: the
 * total weight. Version 2 adds one more, each dealer's random blinding element
 * (docs/protocol.md "Dealer consistency"): `extraElems`.
 */
export const EXTRA_ELEMS = 1;

/** Extra elements after the model parameters in a round's shared vectors: 1 (the weight), 2 in version 2 (and the blind). */
export const extraElems = (p: Pick<RoundParams, 'protocol'>): number => (p.protocol === 2 ? 2 : 1);

/** Elements of a round's shared vectors: its parameters plus `extraElems`. */
export const vectorLength = (p: Pick<RoundParams, 'params' | 'protocol'>): number => p.params + extraElems(p);

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
  /**
   * hex SHA-256 of the named-tensor manifest every trainer of the round sent
   * (src/core/tensor-manifest.ts); absent for a round of plain float32 vectors. Only present
   * keys enter the canonical bytes, so rounds without one keep the digests they always had.
   */
  readonly manifest?: string;
  /**
   * The round protocol's version when it is not 1 (`round.protocol` of the federation file):
   * absent means version 1, so version-1 rounds keep the digests they always had.
   */
  readonly protocol?: 2;
}

/** The protocol version of a round: 1 unless its parameters say 2. */
export const versionOf = (p: Pick<RoundParams, 'protocol'>): 1 | 2 => p.protocol ?? 1;

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
  const parts = PARAM_KEYS.map((k) => te.encode(JSON.stringify(p[k])));
  if (p.manifest !== undefined) parts.push(te.encode('manifest'), te.encode(JSON.stringify(p.manifest)));
  if (p.protocol !== undefined) parts.push(te.encode('protocol'), te.encode(JSON.stringify(p.protocol)));
  return lengthPrefixed(parts);
}

/** SHA-256(PARAMS_DIGEST_TAG || paramsBytes(p)) as hex. */
export function paramsDigestHex(p: RoundParams): string {
  return bytesToHex(sha256(concatBytes(utf8ToBytes(PARAMS_DIGEST_TAG), paramsBytes(p))));
}

/**
 * The parameters a node of federation `f` proposes for round `round` of `params` values (and,
 * for a round of named tensors, the digest of their manifest).
 */
export function roundParamsFor(f: Federation, round: string, params: number, manifest?: string): RoundParams {
  return {
    round, federation: federationDigestHex(f), policy: policyDigest(f),
    participants: f.regions.map((r) => r.id).sort(), threshold: f.threshold, params,
    scaleBits: f.round.scaleBits, clipL2: f.round.clipL2, clipMode: f.round.clipMode,
    minContributors: f.round.minContributors, minTrainers: f.policy.minTrainers,
    ...(manifest !== undefined ? { manifest } : {}),
    ...(f.round.protocol === 2 ? { protocol: 2 as const } : {}),
  };
}

/** Each RoundParams field as a mismatch message names it: its place in the federation file. */
const PARAM_FIELD: Readonly<Record<(typeof PARAM_KEYS)[number], string>> = {
  round: 'round id', federation: 'federation digest', policy: 'policy digest', participants: 'regions', threshold: 'threshold',
  params: 'params (the update length)', scaleBits: 'round.scaleBits', clipL2: 'round.clipL2', clipMode: 'round.clipMode',
  minContributors: 'round.minContributors', minTrainers: 'policy.minTrainers',
};

/** Most differing fields a mismatch message lists. */
const MISMATCH_SHOWN = 4;

/**
 * Compares our parameters with a peer's. The fields of RoundParams come first; the two digests
 * (which also change with any of them) only when nothing else differs, and then, when both
 * nodes' federation summaries are at hand, as the summary fields that differ
 * (`round.collectMs`, `policy.regions.eu.shareTo`, …) instead of the digests.
 * @returns null when they are equal; else the first difference (`expected`: ours, `found`:
 * theirs) and `detail`, every difference as `field: <ours> at <self>, <theirs> at <peer>`.
 * @example
 * paramsMismatch(p, { ...p, clipL2: 50 }, 'us', 'eu')!.detail; // 'round.clipL2: 100 at us, 50 at eu'
 */
export function paramsMismatch(
  ours: RoundParams, theirs: RoundParams, self: string, peer: string,
  summaries: { ours?: FederationSummary | null; theirs?: FederationSummary | undefined; manifests?: { ours?: TensorManifest | undefined; theirs?: TensorManifest | undefined } } = {},
): { key: string; expected: string; found: string; detail: string } | null {
  const show = (v: string | null) => (v === null ? 'absent' : v);
  const differing = (keys: readonly (typeof PARAM_KEYS)[number][]) => keys.filter((k) => JSON.stringify(ours[k]) !== JSON.stringify(theirs[k]));
  if (ours.manifest !== theirs.manifest) {
    // the models differ: name the first tensor when both manifests are at hand
    const where = summaries.manifests?.ours && summaries.manifests.theirs ? manifestDifference(summaries.manifests.ours, summaries.manifests.theirs, self, peer) : null;
    const short = (m: string | undefined) => (m === undefined ? 'plain float32 vectors (no manifest)' : `manifest "${m.slice(0, 12)}…"`);
    const detail = `the trainers' models differ: ${where ?? `${short(ours.manifest)} at ${self}, ${short(theirs.manifest)} at ${peer}`}`;
    return { key: 'manifest', expected: JSON.stringify(ours.manifest ?? null), found: JSON.stringify(theirs.manifest ?? null), detail };
  }
  if (versionOf(ours) !== versionOf(theirs)) {
    const detail = `round.protocol: ${versionOf(ours)} at ${self}, ${versionOf(theirs)} at ${peer}`;
    return { key: 'protocol', expected: String(versionOf(ours)), found: String(versionOf(theirs)), detail };
  }
  const fieldsFirst = differing(PARAM_KEYS.filter((k) => k !== 'policy' && k !== 'federation'));
  const keys = fieldsFirst.length ? fieldsFirst : differing(['policy', 'federation']);
  if (!keys.length) return null;
  const key = keys[0]!;
  // a digest is shown by its first 12 hex digits
  const value = (k: (typeof PARAM_KEYS)[number], p: RoundParams) => (k === 'policy' || k === 'federation' ? `"${p[k].slice(0, 12)}…"` : JSON.stringify(p[k]));
  let listed = keys.map((k) => ({ field: PARAM_FIELD[k], ours: value(k, ours), theirs: value(k, theirs) }));
  const named = !fieldsFirst.length && summaries.ours && summaries.theirs ? summaryDifferences(summaries.ours, summaries.theirs) : [];
  // a path as a peer sent it, cut to 96 characters (the message must stay an abort reason)
  if (named.length) listed = named.map((d) => ({ field: d.path.length > 96 ? `${d.path.slice(0, 95)}…` : d.path, ours: show(d.ours), theirs: show(d.theirs) }));
  const parts = listed.slice(0, MISMATCH_SHOWN).map((d) => `${d.field}: ${d.ours} at ${self}, ${d.theirs} at ${peer}`);
  if (listed.length > MISMATCH_SHOWN) parts.push(`${listed.length - MISMATCH_SHOWN} more field(s)`);
  return { key, expected: JSON.stringify(ours[key]), found: JSON.stringify(theirs[key]), detail: parts.join('; ') };
}

/**
 * The one shape check of a RoundParams from outside (a peer's `params` message, a transcript's
 * `params` entry): the exact key set, ids, digests, distinct sorted-or-not participants, integer
 * ranges, clipL2 and clipMode. Semantic checks (against this node's own params) are
 * `paramsMismatch`'s.
 * @returns the first problem as a sentence naming the field, or null if the shape is right.
 */
export function roundParamsProblem(p: unknown): string | null {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return 'params must be a map';
  const o = p as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(PARAM_KEYS as readonly string[]).includes(k) && k !== 'manifest' && k !== 'protocol') return `params: unexpected field ${JSON.stringify(k.slice(0, 32))}`;
  for (const k of PARAM_KEYS) if (!(k in o)) return `params: missing field ${k}`;
  const str = (k: string, re: RegExp): boolean => typeof o[k] === 'string' && (o[k] as string).length <= 256 && re.test(o[k] as string);
  if (!str('round', ROUND_ID_RE)) return 'params.round is not a valid round id';
  if (!str('federation', HEX32_RE)) return 'params.federation is not a 32-byte hex digest';
  if (!str('policy', HEX32_RE)) return 'params.policy is not a 32-byte hex digest';
  if ('manifest' in o && !str('manifest', HEX32_RE)) return 'params.manifest is not a 32-byte hex digest';
  if ('protocol' in o && o['protocol'] !== 2) return 'params.protocol must be 2 when present (version 1 leaves it out)';
  const v = o['participants'];
  if (!Array.isArray(v) || v.length > MAX_PARTIES || !v.every((r) => typeof r === 'string' && REGION_ID_RE.test(r))) return 'params.participants must be a list of region ids';
  if (new Set(v as string[]).size !== v.length) return 'params.participants repeats a region';
  for (const k of ['threshold', 'params', 'scaleBits', 'minContributors', 'minTrainers']) {
    const x = o[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= 2 ** 32) return `params.${k} must be an integer in [0, 2^32)`;
  }
  if (typeof o['clipL2'] !== 'number' || !(o['clipL2'] > 0) || !Number.isFinite(o['clipL2'])) return 'params.clipL2 must be a positive number';
  if (o['clipMode'] !== 'clip' && o['clipMode'] !== 'reject') return "params.clipMode must be 'clip' or 'reject'";
  return null;
}

/** The shape check of a peer's federation summary (its one definition is src/federation/summary.ts). */
export { summaryProblem } from '../federation/index.js';

/** The coordinator decides D and R: the first participant in sorted order. */
export const coordinatorOf = (p: RoundParams): string => p.participants[0]!;
/** Share x of a region: its 1-based position among the sorted participants (0: not a participant). */
export const xOf = (p: RoundParams, region: string): number => p.participants.indexOf(region) + 1;
/** The participant whose share x is `x` (the inverse of {@link xOf}). */
export const regionOfX = (p: RoundParams, x: number): string => p.participants[x - 1]!;
