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
import { lagrangeCoefficients } from '../field/reference.js';
import type { FieldVec, WasmKernels } from '../field/wasm.js';
import { checkPoints } from './shamir.js';

/** Domain separation of a seeded share's per-chunk keys. */
export const SEEDED_SHARE_LABEL = 'mpc-node/v2/seeded-share';

const te = new TextEncoder();

/**
 * The coefficients of holder `x`'s share in the secret and the seeded shares:
 * f(x) = c[0] f(0) + sum_j c[j+1] f(seededXs[j]).
 * @throws {FieldError} SHARING_BAD_POINTS for a repeated, zero or out-of-range x.
 */
export function seededCoefficients(seededXs: readonly number[], x: number): bigint[] {
  checkPoints(seededXs);
  if (seededXs.includes(x)) throw new RangeError(`x = ${x} is a seeded holder: its share is its seed's expansion`);
  return lagrangeCoefficients([0n, ...seededXs.map(BigInt)], BigInt(x));
}

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
 * One chunk of the computed shares: `out[i] = c[i][0] secret + sum_j c[i][j+1] seeded[j]`
 * (the coefficients of `seededCoefficients`). All vectors have the chunk's length.
 * secret: `secret`, `seeded` and the outputs.
 */
export function computedShares(K: WasmKernels, secret: FieldVec, seeded: readonly FieldVec[], coeffs: readonly (readonly bigint[])[], outs: readonly FieldVec[]): void {
  const inputs = [secret, ...seeded];
  outs.forEach((o, i) => K.linComb(o, inputs, coeffs[i]!));
}
