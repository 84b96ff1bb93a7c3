/**
 * Seeded Shamir shares (protocol version 2, docs/protocol.md "Seeded shares"): a polynomial of
 * degree t-1 has t degrees of freedom; one is the secret, f(0). The other t-1 are the shares of
 * t-1 "seeded" holders, each expanded from a 32-byte seed the holder receives instead of its
 * share vector. Every other holder's share is then fixed: f(x) = c_0(x) f(0) + sum_j c_j(x) f(z_j),
 * the Lagrange basis through the points 0, z_1..z_{t-1} evaluated at x.
 *
 * Privacy: the seeded shares are pseudorandom (AES-256-CTR under a secret key), so they stand
 * in for the uniform random coefficients of ordinary Shamir sharing; for any t-1 holders, fixing
 * f(0) leaves the seeded values mapped one-to-one onto their shares, so their view is
 * (computationally) uniform and independent of the secret.
 *
 * Pure: the kernels, the hash and the stream are injected; no I/O.
 * @module
 */
import type { HashFactory } from '../core/crypto.js';
import { sampleField, type RandomFill } from '../field/random.js';
import { lagrangeCoefficients, P } from '../field/reference.js';
import type { FieldVec, WasmKernels } from '../field/wasm.js';
import { checkPoints } from './shamir.js';

/** Bytes of the seed a seeded holder receives instead of its share vector. */
export const SEED_BYTES = 32;

/** Domain separation of a seeded share's per-chunk keys. */
export const SEEDED_SHARE_LABEL = 'mpc-node/v2/seeded-share';

const te = new TextEncoder();

/**
 * The key of chunk `chunk` of the share a seed expands to: SHA-256 of the label and, each
 * prefixed by its u32 big-endian length, the seed, the round id, the dealer, the holder and the
 * chunk index (u32 big-endian), so no two (round, dealer, holder, chunk) share a keystream.
 * secret: the key (derived from the secret seed); the caller wipes it.
 */
export function seededChunkKey(hash: HashFactory, seed: Uint8Array, ids: { round: string; dealer: string; holder: string }, chunk: number): Uint8Array {
  const h = hash();
  const idx = new Uint8Array(4);
  new DataView(idx.buffer).setUint32(0, chunk);
  for (const part of [te.encode(SEEDED_SHARE_LABEL), seed, te.encode(ids.round), te.encode(ids.dealer), te.encode(ids.holder), idx]) {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, part.length);
    h.update(len);
    h.update(part);
  }
  return h.digest();
}

/**
 * Writes chunk `chunk` of a seeded share into `out` (its length is the chunk's): uniform field
 * elements from the AES-256-CTR stream under `seededChunkKey`. The dealer and the holder call it
 * alike and get the same elements.
 */
export function expandSeededChunk(
  K: WasmKernels, out: FieldVec, hash: HashFactory, stream: (key: Uint8Array) => RandomFill,
  seed: Uint8Array, ids: { round: string; dealer: string; holder: string }, chunk: number,
): void {
  const key = seededChunkKey(hash, seed, ids, chunk);
  try {
    sampleField(K, out.ptr, out.length, stream(key));
  } finally {
    key.fill(0);
  }
}

/**
 * The initial forward differences of the polynomial, D_k = Δ^k f(0) for k = 1..t-1, as linear
 * combinations of its values at 0 and at the seeded xs: row k-1 holds the coefficients of
 * [f(0), f(z_1), .., f(z_{t-1})]. With them every share follows by additions only (the dealing
 * kernel, docs/field.md "Dealing by forward differences"): (t-1) t multiplications per element
 * whatever the number of holders.
 */
export function seededDifferences(seededXs: readonly number[]): bigint[][] {
  checkPoints(seededXs);
  const pts = [0n, ...seededXs.map(BigInt)];
  const t = pts.length;
  // values at 0..t-1 as combinations of the inputs (Lagrange basis through pts)
  const at = Array.from({ length: t }, (_, i) => lagrangeCoefficients(pts, BigInt(i)));
  const rows: bigint[][] = [];
  for (let k = 1; k < t; k++) {
    const row = new Array<bigint>(t).fill(0n);
    let binom = 1n; // C(k, i)
    for (let i = 0; i <= k; i++) {
      const sign = (k - i) % 2 === 0 ? binom : P - binom;
      for (let j = 0; j < t; j++) row[j] = (row[j]! + ((sign % P) * at[i]![j]!) % P) % P;
      binom = (binom * BigInt(k - i)) / BigInt(i + 1);
    }
    rows.push(row);
  }
  return rows;
}

/**
 * One chunk of every participant's share (`outs[x - 1]`, each of the chunk's length): the seeded
 * holders' (already expanded into their outputs) and all the others, from the secret and the
 * seeded shares through `seededDifferences` and the forward-difference kernel. A seeded output
 * is rewritten with the same values.
 * secret: `secret`, the seeded shares, the differences (wiped here) and the outputs.
 */
export function dealSeededChunk(K: WasmKernels, secret: FieldVec, seeded: readonly FieldVec[], diffs: readonly (readonly bigint[])[], outs: readonly FieldVec[]): void {
  const m = secret.length;
  const t = diffs.length + 1;
  const inputs = [secret, ...seeded];
  const bytes = Math.max(1, t - 1) * m * 8;
  const d = K.allocBytes(bytes);
  const table = K.allocBytes(outs.length * 4);
  try {
    for (let k = 0; k < t - 1; k++) K.linComb({ ptr: d + k * m * 8, length: m }, inputs, diffs[k]!);
    const ptrs = new Uint32Array(K.bytes(table, outs.length * 4).buffer, table, outs.length);
    outs.forEach((o, j) => (ptrs[j] = o.ptr));
    K.x.shamirDeal(secret.ptr, d, table, 0, m, t, outs.length);
  } finally {
    K.bytes(d, bytes).fill(0);
    K.freeBytes(d, bytes);
    K.freeBytes(table, outs.length * 4);
  }
}
