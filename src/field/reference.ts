/**
 * Pure BigInt implementation of the Goldilocks field and of every vector kernel.
 *
 * This is the test oracle for the WebAssembly kernels (src/field/wasm.ts) and the fallback for
 * small public computations (Lagrange coefficients, projections in the verifier). It is
 * variable-time: use it on public values, or in tests.
 * @module
 */
import { FieldError } from '../errors.js';

/** p = 2^64 - 2^32 + 1 (Goldilocks; Prio3's Field64, draft-irtf-cfrg-vdaf §6.1.2). */
export const P = 0xffff_ffff_0000_0001n;
/** floor(p / 2): field elements above it decode as negative numbers. */
export const HALF_P = P >> 1n;

export const add = (a: bigint, b: bigint): bigint => (a + b) % P;
export const sub = (a: bigint, b: bigint): bigint => (a - b + P) % P;
export const neg = (a: bigint): bigint => (P - a) % P;
export const mul = (a: bigint, b: bigint): bigint => (a * b) % P;
/** a mod p for any integer a (negative too). */
export const mod = (a: bigint): bigint => ((a % P) + P) % P;

export function pow(base: bigint, e: bigint): bigint {
  let r = 1n;
  let b = mod(base);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}

/**
 * Multiplicative inverse by Fermat (a^(p-2)).
 * @throws {FieldError} FIELD_OUT_OF_RANGE for 0, which has no inverse.
 */
export function inv(a: bigint): bigint {
  if (mod(a) === 0n) throw new FieldError('FIELD_OUT_OF_RANGE', 'zero has no multiplicative inverse');
  return pow(a, P - 2n);
}


// ---- vector kernels (oracle for the WASM ones) ----

export const vecAdd = (a: readonly bigint[], b: readonly bigint[]): bigint[] => a.map((x, i) => add(x, b[i]!));
export const vecSub = (a: readonly bigint[], b: readonly bigint[]): bigint[] => a.map((x, i) => sub(x, b[i]!));
export const vecNeg = (a: readonly bigint[]): bigint[] => a.map(neg);
export const vecScale = (a: readonly bigint[], c: bigint): bigint[] => a.map((x) => mul(x, c));
export const vecMulAdd = (acc: readonly bigint[], a: readonly bigint[], c: bigint): bigint[] =>
  acc.map((x, i) => add(x, mul(a[i]!, c)));
export const vecDot = (a: readonly bigint[], b: readonly bigint[]): bigint =>
  a.reduce((s, x, i) => add(s, mul(x, b[i]!)), 0n);

/** Evaluates the polynomial with coefficients `coeffs` (constant first) at x (Horner). */
export function polyEval(coeffs: readonly bigint[], x: bigint): bigint {
  let r = 0n;
  for (let i = coeffs.length - 1; i >= 0; i--) r = add(mul(r, x), coeffs[i]!);
  return r;
}

/**
 * Textbook Shamir: for each element a random polynomial of degree t-1 with f(0) = secret,
 * share x (1..n) = f(x). `coeffs[k-1][i]` is the coefficient of x^k for element i.
 * Returns n share vectors.
 */
export function shamirDealRef(secret: readonly bigint[], coeffs: readonly (readonly bigint[])[], n: number): bigint[][] {
  const out: bigint[][] = [];
  for (let x = 1; x <= n; x++) {
    out.push(secret.map((s, i) => polyEval([s, ...coeffs.map((c) => c[i]!)], BigInt(x))));
  }
  return out;
}

/**
 * Forward-difference dealing, the algorithm of assembly/shamir.ts, in BigInt: `diffs[k-1][i]`
 * is Δ^k f(0) for element i. Same output as the WASM kernel bit for bit.
 */
export function shamirDealDiffsRef(secret: readonly bigint[], diffs: readonly (readonly bigint[])[], n: number): bigint[][] {
  const d = diffs.map((v) => v.slice());
  let prev = secret.slice();
  const out: bigint[][] = [];
  for (let x = 1; x <= n; x++) {
    const cur = d.length === 0 ? prev.slice() : prev.map((v, i) => add(v, d[0]![i]!));
    for (let k = 0; k + 1 < d.length; k++) d[k] = d[k]!.map((v, i) => add(v, d[k + 1]![i]!));
    out.push(cur);
    prev = cur;
  }
  return out;
}

/**
 * Lagrange basis coefficients for evaluating at `at` the polynomial through points xs.
 * Variable-time over public inputs only: xs are share indices, never secrets.
 */
export function lagrangeCoefficients(xs: readonly bigint[], at: bigint): bigint[] {
  return xs.map((xj, j) => {
    let num = 1n;
    let den = 1n;
    xs.forEach((xm, m) => {
      if (m === j) return;
      num = mul(num, sub(mod(at), xm));
      den = mul(den, sub(xj, xm));
    });
    return mul(num, inv(den));
  });
}

/** Combines share vectors at distinct xs into the value at 0. */
export function lagrangeCombineRef(shares: readonly (readonly bigint[])[], xs: readonly bigint[]): bigint[] {
  const c = lagrangeCoefficients(xs, 0n);
  return shares[0]!.map((_, i) => shares.reduce((s, v, j) => add(s, mul(v[i]!, c[j]!)), 0n));
}

/** Fixed point: round(v * 2^f) (ties to even, as f64.nearest) mapped into the field. */
export function encodeRef(values: ArrayLike<number>, scaleBits: number, mult = 1): bigint[] {
  const scale = 2 ** scaleBits;
  return Array.from(values, (v) => {
    const y = Math.fround(v) * mult * scale;
    const r = roundHalfEven(y);
    return mod(BigInt(r));
  });
}

export function roundHalfEven(y: number): number {
  const f = Math.floor(y);
  const d = y - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Signed value of a field element: [0, p/2] non-negative, (p/2, p) negative. */
export const toSigned = (x: bigint): bigint => (x > HALF_P ? x - P : x);

export function decodeRef(xs: readonly bigint[], scaleBits: number): number[] {
  const inv = 2 ** -scaleBits;
  return xs.map((x) => Number(toSigned(x)) * inv);
}
