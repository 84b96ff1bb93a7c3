/**
 * What the holders commit to and seal: the result digests (sum, mean, result), the float32
 * bytes they cover, and the Fiat-Shamir challenge of the consistency check. Computed the same way
 * by the node, the verifier and the browser auditor. Spec: docs/transcript.md.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { nobleSha256, type HashFactory } from '../core/crypto.js';
import { signedBytes, type PeerMessage } from './messages.js';
import { paramsDigestHex, versionOf, type RoundParams } from './params.js';

export const RESULT_SUM_TAG = 'mpc-node/v1/result/sum\0';
export const RESULT_MEAN_TAG = 'mpc-node/v1/result/mean\0';
export const RESULT_TAG = 'mpc-node/v1/result\0';
export const CHALLENGE_TAG = 'mpc-node/v1/challenge\0';

const te = new TextEncoder();
const LITTLE_ENDIAN = new Uint8Array(Float32Array.of(1).buffer)[3] === 0x3f;

/** Raw little-endian bytes of a float32 vector (a view, no copy, on little-endian machines). */
export function f32Bytes(v: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(i * 4, v[i]!, true);
  return out;
}

/** SHA-256(tag || raw little-endian float32 bytes): what an auditor recomputes over result.bin. */
export function vectorDigest(kind: 'sum' | 'mean', f32le: Uint8Array, hash: HashFactory = nobleSha256): Uint8Array {
  const h = hash();
  h.update(utf8ToBytes(kind === 'sum' ? RESULT_SUM_TAG : RESULT_MEAN_TAG));
  h.update(f32le);
  return h.digest();
}

/** The mean the node returns for reduce=mean, exactly as it computes it (float64 division, float32 store). */
export function meanOf(sum: Float32Array, totalWeight: number): Float32Array {
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = sum[i]! / totalWeight;
  return out;
}

/**
 * The result digest the holders seal: SHA-256(RESULT_TAG || sumDigest || meanDigest || f64 BE totalWeight).
 */
export function resultDigest(sumDigest: Uint8Array, meanDigest: Uint8Array, totalWeight: number): Uint8Array {
  const w = new Uint8Array(8);
  new DataView(w.buffer).setFloat64(0, totalWeight);
  return sha256(concatBytes(utf8ToBytes(RESULT_TAG), sumDigest, meanDigest, w));
}

/**
 * The sum and mean digests and the result digest of a result read in pieces (the round's
 * `RoundResult`), without a model-sized array (40 MB at 1e7 parameters).
 */
export function resultDigests(r: { params: number; totalWeight: number; read(offset: number, out: Float32Array, reduce: 'sum' | 'mean'): void }, hash: HashFactory = nobleSha256): { sum: Uint8Array; mean: Uint8Array; digest: Uint8Array } {
  const hs = hash();
  const hm = hash();
  hs.update(utf8ToBytes(RESULT_SUM_TAG));
  hm.update(utf8ToBytes(RESULT_MEAN_TAG));
  const piece = new Float32Array(Math.min(r.params, 65536));
  for (let o = 0; o < r.params; o += piece.length) {
    const p = piece.subarray(0, Math.min(piece.length, r.params - o));
    r.read(o, p, 'sum');
    hs.update(f32Bytes(p));
    r.read(o, p, 'mean');
    hm.update(f32Bytes(p));
  }
  const s = hs.digest();
  const m = hm.digest();
  return { sum: s, mean: m, digest: resultDigest(s, m, r.totalWeight) };
}

/**
 * Fiat-Shamir challenge of the consistency check, fixed once every holder's aggregate share is
 * committed: SHA-256(CHALLENGE_TAG || params digest || signedBytes(decision) || decision sig ||
 * for each holder h in decision order: len-prefixed h || agg-done digest of h).
 */
export function challengeOf(p: RoundParams, decision: Extract<PeerMessage, { type: 'decision' }>, aggDigests: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [utf8ToBytes(CHALLENGE_TAG), utf8ToBytes(paramsDigestHex(p)), signedBytes(decision, versionOf(p)), decision.sig];
  for (const h of decision.holders) {
    const d = aggDigests.get(h);
    if (!d) throw new RangeError(`challengeOf: no aggregate digest of ${h}`);
    const name = te.encode(h);
    parts.push(Uint8Array.of(name.length), name, d);
  }
  return sha256(concatBytes(...parts));
}

/** Domain separation of a dealer's challenge (version 2). */
export const DEAL_CHALLENGE_TAG = 'mpc-node/v2/deal-challenge\0';

/**
 * Version 2: the challenge of the dealer-consistency check on `commits` (docs/protocol.md
 * "Dealer consistency"), fixed by the dealer's signed commitments before any share is sent:
 * SHA-256(DEAL_CHALLENGE_TAG || params digest || signedBytes(commits) || commits sig).
 */
export function dealChallengeOf(p: RoundParams, commits: Extract<PeerMessage, { type: 'commits' }>): Uint8Array {
  return sha256(concatBytes(utf8ToBytes(DEAL_CHALLENGE_TAG), utf8ToBytes(paramsDigestHex(p)), signedBytes(commits, 2), commits.sig));
}
