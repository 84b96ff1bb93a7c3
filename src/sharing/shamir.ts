/**
 * Vector Shamir sharing over Goldilocks: deal, combine (Lagrange at 0) and a consistency check
 * that detects, and where possible names, share vectors that are not on one polynomial.
 *
 * Pure: randomness is injected (`RandomFill`), no I/O. Spec: docs/field.md ("Dealing by forward
 * differences", "The consistency check") and docs/protocol.md.
 * @module
 */
import { FieldError } from '../errors.js';
import { MAX_PARTIES } from '../core/ids.js';
import * as ref from '../field/reference.js';
import { CHUNK_ELEMS } from '../field/fixed-point.js';
import { sampleField, type RandomFill } from '../field/random.js';
import type { FieldVec, WasmKernels } from '../field/wasm.js';


/**
 * @throws {FieldError} SHARING_BAD_THRESHOLD unless 1 <= t <= n <= MAX_PARTIES.
 */
export function checkThreshold(t: number, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTIES) {
    throw new FieldError('SHARING_BAD_THRESHOLD', `number of shares n must be an integer in [1, ${MAX_PARTIES}], got ${n}`);
  }
  if (!Number.isInteger(t) || t < 1 || t > n) {
    throw new FieldError('SHARING_BAD_THRESHOLD', `threshold t must be an integer in [1, n = ${n}], got ${t}: ` + (t > n ? 'lower t or add share holders' : 'use t >= 1'));
  }
}

/**
 * Shamir-shares every element of `secret` with a fresh random polynomial of degree t-1 and
 * writes f(x) for x = 1..n into `outs[x-1]`. Any t shares reconstruct; any t-1 reveal nothing.
 * Works in chunks, so scratch memory is O(t * CHUNK_ELEMS) whatever the vector length.
 * secret: `secret` and the random differences; scratch is zeroised before return.
 * @example deal(K, secret, 3, 5, outs, nodeRandom)
 */
export function deal(K: WasmKernels, secret: FieldVec, t: number, n: number, outs: readonly FieldVec[], rng: RandomFill): void {
  checkThreshold(t, n);
  if (outs.length !== n) throw new FieldError('SHARING_BAD_THRESHOLD', `expected ${n} output vectors, got ${outs.length}`);
  for (const o of outs) {
    if (o.length !== secret.length) throw new FieldError('FIELD_LENGTH_MISMATCH', `share vector of length ${o.length}, secret has ${secret.length}`);
  }
  const L = secret.length;
  const chunk = Math.min(CHUNK_ELEMS, Math.max(1, L));
  const diffBytes = Math.max(1, t - 1) * chunk * 8;
  const diffs = K.allocBytes(diffBytes);
  const table = K.allocBytes(n * 4);
  try {
    const ptrs = new Uint32Array(K.bytes(table, n * 4).buffer, table, n);
    outs.forEach((o, j) => (ptrs[j] = o.ptr));
    for (let off = 0; off < L; off += chunk) {
      const m = Math.min(chunk, L - off);
      if (t > 1) sampleField(K, diffs, (t - 1) * m, rng);
      K.x.shamirDeal(secret.ptr + off * 8, diffs, table, off, m, t, n);
    }
  } finally {
    K.bytes(diffs, diffBytes).fill(0);
    K.freeBytes(diffs, diffBytes);
    K.freeBytes(table, n * 4);
  }
}

/**
 * @throws {FieldError} SHARING_BAD_POINTS for duplicate, zero, non-integer or too large x.
 */
export function checkPoints(xs: readonly number[]): void {
  const seen = new Set<number>();
  for (const x of xs) {
    if (!Number.isInteger(x) || x < 1 || x > MAX_PARTIES) {
      throw new FieldError('SHARING_BAD_POINTS', `share x must be an integer in [1, ${MAX_PARTIES}], got ${x}` + (x === 0 ? ' (x = 0 is the secret itself)' : ''));
    }
    if (seen.has(x)) throw new FieldError('SHARING_BAD_POINTS', `duplicate share x = ${x}`);
    seen.add(x);
  }
}

/**
 * Lagrange interpolation at 0 from share vectors at distinct x: writes the secret into `out`.
 * Uses every share given: pass exactly t of them (extra shares belong in `checkConsistency`).
 * Variable-time over public inputs only: xs are share indices, never secrets.
 * @throws {FieldError} SHARING_BAD_POINTS, FIELD_LENGTH_MISMATCH.
 */
export function combine(K: WasmKernels, shares: readonly FieldVec[], xs: readonly number[], out: FieldVec): void {
  if (shares.length === 0 || shares.length !== xs.length) {
    throw new FieldError('SHARING_BAD_POINTS', `combine needs one x per share vector and at least one share (got ${shares.length} shares, ${xs.length} xs)`);
  }
  checkPoints(xs);
  const c = ref.lagrangeCoefficients(xs.map(BigInt), 0n);
  K.linComb(out, shares, c);
}

export interface ConsistencyResult {
  /** true when all share vectors lie on one polynomial of degree t-1 (error < m * L / p per check). */
  ok: boolean;
  /** The x of the share vectors that disagree, when they can be identified; null otherwise. */
  bad: number[] | null;
  /** The projections used (public: a random combination of each share vector). */
  projections: bigint[];
}

/**
 * Random projection of a vector: sum_i r_i * v[i] with r drawn from `rng` in chunks, so the
 * same `rng` stream (e.g. seeded from a Fiat-Shamir challenge) gives the same r for every vector.
 */
export function project(K: WasmKernels, vs: readonly FieldVec[], rng: RandomFill): bigint[] {
  const L = vs[0]?.length ?? 0;
  for (const v of vs) if (v.length !== L) throw new FieldError('FIELD_LENGTH_MISMATCH', `share vectors of different lengths: ${L} and ${v.length}`);
  const chunk = Math.min(CHUNK_ELEMS, Math.max(1, L));
  const r = K.alloc(chunk);
  const acc = vs.map(() => 0n);
  try {
    for (let off = 0; off < L; off += chunk) {
      const m = Math.min(chunk, L - off);
      sampleField(K, r.ptr, m, rng);
      const rv = { ptr: r.ptr, length: m };
      vs.forEach((v, j) => {
        acc[j] = ref.add(acc[j]!, K.dot({ ptr: v.ptr + off * 8, length: m }, rv));
      });
    }
  } finally {
    K.free(r);
  }
  return acc;
}

/**
 * Checks that m >= t share vectors at distinct xs lie on one polynomial of degree t-1, using a
 * random projection (each vector -> one field element; a vector that differs anywhere changes
 * its projection except with probability 1/p). When they do not, decodes the projections as a
 * Reed-Solomon codeword: if at most floor((m - t) / 2) shares are wrong they are named in `bad`.
 * Cost: m dot products over the vectors, plus C(m, t) small interpolations on failure.
 * @throws {FieldError} SHARING_BAD_POINTS, SHARING_BAD_THRESHOLD.
 */
export function checkConsistency(K: WasmKernels, shares: readonly FieldVec[], xs: readonly number[], t: number, rng: RandomFill): ConsistencyResult {
  checkThreshold(t, Math.max(t, shares.length));
  if (shares.length !== xs.length) throw new FieldError('SHARING_BAD_POINTS', 'one x per share vector');
  if (shares.length < t) throw new FieldError('SHARING_BAD_POINTS', `consistency needs at least t = ${t} shares, got ${shares.length}`);
  checkPoints(xs);
  const projections = project(K, shares, rng);
  const { ok, bad } = checkPointsOnPolynomial(xs.map(BigInt), projections, t);
  return { ok, bad, projections };
}

/**
 * Pure scalar part of the check (also used by the round's sealing step): do the points (x_j, y_j) lie on one
 * polynomial of degree < t? If not, the xs of the wrong points when uniquely decodable.
 */
export function checkPointsOnPolynomial(xs: readonly bigint[], ys: readonly bigint[], t: number): { ok: boolean; bad: number[] | null } {
  const m = xs.length;
  if (agreeing(xs, ys, xs.slice(0, t), ys.slice(0, t)).length === m) return { ok: true, bad: null };
  const maxErrors = Math.floor((m - t) / 2);
  if (maxErrors === 0) return { ok: false, bad: null };
  // Brute-force unique decoding: a t-subset that agrees with >= m - maxErrors points is the
  // polynomial (two such would share >= t points and be equal). m <= MAX_PARTIES but in practice
  // m is the number of regions; cap the search so a large m cannot stall the node.
  let best: number[] | null = null;
  let tried = 0;
  for (const subset of combinations(m, t)) {
    if (++tried > 100_000) return { ok: false, bad: null };
    const sx = subset.map((i) => xs[i]!);
    const sy = subset.map((i) => ys[i]!);
    const agree = agreeing(xs, ys, sx, sy);
    if (agree.length >= m - maxErrors) {
      best = xs.map((_, i) => i).filter((i) => !agree.includes(i));
      break;
    }
  }
  return { ok: false, bad: best === null ? null : best.map((i) => Number(xs[i]!)) };
}

/**
 * The value at `at` of the polynomial of degree < xs.length through the points (xs[j], ys[j])
 * (Lagrange interpolation over the field, BigInt). `valueAt(xs, ys, 0n)` is the shared secret.
 * Used by the round's sealing step and the verifier's consistency check.
 */
export function valueAt(xs: readonly bigint[], ys: readonly bigint[], at: bigint): bigint {
  return ref.lagrangeCoefficients(xs, at).reduce((s, c, j) => ref.add(s, ref.mul(c, ys[j]!)), 0n);
}

function agreeing(xs: readonly bigint[], ys: readonly bigint[], bx: bigint[], by: bigint[]): number[] {
  const out: number[] = [];
  xs.forEach((x, i) => {
    if (valueAt(bx, by, x) === ys[i]) out.push(i);
  });
  return out;
}

function* combinations(m: number, k: number): Generator<number[]> {
  const idx = Array.from({ length: k }, (_, i) => i);
  while (true) {
    yield idx.slice();
    let i = k - 1;
    while (i >= 0 && idx[i] === m - k + i) i--;
    if (i < 0) return;
    idx[i]!++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1]! + 1;
  }
}
