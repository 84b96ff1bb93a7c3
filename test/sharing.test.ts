/**
 * Vector Shamir sharing: dealing matches textbook Shamir, any t of n reconstruct, t-1 reveal
 * nothing (statistically), and the consistency check names a wrong share vector.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as R from '../src/field/reference.js';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom, nodeRandom } from '../src/field/random-node.js';
import { checkConsistency, combine, deal, checkPointsOnPolynomial } from '../src/sharing/shamir.js';
import type { FieldVec, WasmKernels } from '../src/field/wasm.js';

const P = R.P;
let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

function put(xs: readonly bigint[]): FieldVec {
  const v = K.alloc(xs.length);
  K.view(v).set(xs);
  return v;
}
const get = (v: FieldVec): bigint[] => Array.from(K.view(v));
const seeded = (s: number) => aesCtrRandom(new Uint8Array(32).fill(s));

function dealVec(secret: bigint[], t: number, n: number, rng = nodeRandom): FieldVec[] {
  const s = put(secret);
  const outs = Array.from({ length: n }, () => K.alloc(secret.length));
  deal(K, s, t, n, outs, rng);
  K.free(s);
  return outs;
}

function subsets<T>(xs: T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (xs.length < k) return [];
  const [h, ...rest] = xs;
  return [...subsets(rest, k - 1).map((s) => [h!, ...s]), ...subsets(rest, k)];
}

describe('deal', () => {
  for (const [t, n] of [[1, 1], [1, 3], [2, 3], [3, 5], [6, 10]] as const) {
    it(`(${t}, ${n}): every element's n shares lie on one polynomial of degree ${t - 1} through the secret`, () => {
      const secret = [0n, 1n, P - 1n, 2n ** 32n, 12345n, P - 2n ** 32n, 7n];
      const shares = dealVec(secret, t, n);
      const xs = Array.from({ length: n }, (_, i) => BigInt(i + 1));
      secret.forEach((s, i) => {
        const ys = shares.map((v) => K.get(v, i));
        // interpolate from the first t, check the rest and the value at 0
        const c0 = R.lagrangeCoefficients(xs.slice(0, t), 0n);
        expect(c0.reduce((a, c, j) => R.add(a, R.mul(c, ys[j]!)), 0n)).toBe(s);
        expect(checkPointsOnPolynomial(xs, ys, t).ok).toBe(true);
        if (t > 1 && n > t) expect(checkPointsOnPolynomial(xs, ys, t - 1).ok).toBe(false);
      });
    });
  }

  it('any t of n share vectors reconstruct the secret, and every subset agrees (3 of 5)', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: P - 1n }), { minLength: 1, maxLength: 40 }), (secret) => {
        const shares = dealVec(secret, 3, 5);
        const out = K.alloc(secret.length);
        for (const sub of subsets([1, 2, 3, 4, 5], 3)) {
          combine(K, sub.map((x) => shares[x - 1]!), sub, out);
          expect(get(out)).toEqual(secret);
        }
        [...shares, out].forEach((v) => K.free(v));
      }),
      { numRuns: 30 },
    );
  });

  it('chunked dealing of a vector longer than one chunk reconstructs exactly', () => {
    const L = 200_003;
    const s = K.alloc(L);
    nodeRandom(K.bytes(s.ptr, L * 8));
    const view = K.view(s);
    for (let i = 0; i < L; i++) view[i] = view[i]! % P;
    const secret = get(s);
    const shares = dealVec(secret, 4, 6);
    const out = K.alloc(L);
    combine(K, [shares[5]!, shares[1]!, shares[3]!, shares[0]!], [6, 2, 4, 1], out);
    expect(get(out)).toEqual(secret);
  });

  it('is reproducible under a seeded stream and different under another seed', () => {
    const a = dealVec([1n, 2n, 3n], 3, 5, seeded(1)).map(get);
    const b = dealVec([1n, 2n, 3n], 3, 5, seeded(1)).map(get);
    const c = dealVec([1n, 2n, 3n], 3, 5, seeded(2)).map(get);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('forward differences equal textbook Shamir for the matching coefficients', () => {
    // Δ^1 f(0) = a1 + a2, Δ^2 f(0) = 2 a2 for f = s + a1 x + a2 x^2
    const s = [5n, P - 1n], a1 = [11n, 2n ** 40n], a2 = [13n, P - 7n];
    const diffs = [R.vecAdd(a1, a2), R.vecScale(a2, 2n)];
    expect(R.shamirDealDiffsRef(s, diffs, 5)).toEqual(R.shamirDealRef(s, [a1, a2], 5));
  });
});

describe('t-1 shares reveal nothing', () => {
  // Two-sample chi-square on the joint top-4-bit buckets of the shares at x = 2 and x = 4
  // (t = 3): for secret 0 and secret p-1 the distributions must be the same.
  function histogram(secret: bigint, L: number, t: number): number[] {
    const shares = dealVec(new Array<bigint>(L).fill(secret), t, 5);
    const a = K.view(shares[1]!), b = K.view(shares[3]!);
    const h = new Array<number>(256).fill(0);
    for (let i = 0; i < L; i++) h[Number(a[i]! >> 60n) * 16 + Number(b[i]! >> 60n)]!++;
    shares.forEach((v) => K.free(v));
    return h;
  }
  function chiSquare(h1: number[], h2: number[]): number {
    let x = 0;
    h1.forEach((o1, i) => {
      const o2 = h2[i]!;
      if (o1 + o2 > 0) x += (o1 - o2) ** 2 / (o1 + o2);
    });
    return x;
  }
  // 255 degrees of freedom: mean 255, sd ~22.6; 400 is ~6.4 sd (false alarm < 1e-9).
  it('joint distribution of 2 shares (t = 3) does not depend on the secret', () => {
    expect(chiSquare(histogram(0n, 100_000, 3), histogram(P - 1n, 100_000, 3))).toBeLessThan(400);
  });
  it('the same statistic does see the difference when t - 1 shares are too many (t = 2)', () => {
    // with t = 2, the shares at x = 2 and 4 determine the secret: the test has power
    expect(chiSquare(histogram(0n, 100_000, 2), histogram(P >> 1n, 100_000, 2))).toBeGreaterThan(400);
  });
});

describe('consistency check', () => {
  it('accepts honest shares and catches a single changed element in one share vector, naming it', () => {
    const L = 1000;
    const secret = Array.from({ length: L }, (_, i) => BigInt(i * 7919));
    const shares = dealVec(secret, 3, 5);
    const xs = [1, 2, 3, 4, 5];
    expect(checkConsistency(K, shares, xs, 3, nodeRandom)).toMatchObject({ ok: true, bad: null });
    const v = K.view(shares[3]!);
    v[417] = R.add(v[417]!, 1n);
    expect(checkConsistency(K, shares, xs, 3, nodeRandom)).toMatchObject({ ok: false, bad: [4] });
  });
  it('detects but cannot name the culprit when only t + 1 shares are given', () => {
    const shares = dealVec([1n, 2n, 3n], 3, 4);
    K.view(shares[0]!)[2] = 99n;
    expect(checkConsistency(K, shares, [1, 2, 3, 4], 3, nodeRandom)).toMatchObject({ ok: false, bad: null });
  });
});

describe('bad input', () => {
  it('rejects t < 1, t > n and n beyond the maximum', () => {
    const s = put([1n]);
    expect(() => deal(K, s, 0, 3, [s, s, s], nodeRandom)).toThrow(/threshold t must be an integer in \[1, n = 3\], got 0/);
    expect(() => deal(K, s, 4, 3, [s, s, s], nodeRandom)).toThrow(/got 4: lower t or add share holders/);
    expect(() => deal(K, s, 2, 256, [], nodeRandom)).toThrow(/n must be an integer in \[1, 255\], got 256/);
  });
  it('rejects duplicate and zero x in reconstruction', () => {
    const s = dealVec([1n], 2, 3);
    const out = K.alloc(1);
    expect(() => combine(K, [s[0]!, s[1]!], [1, 1], out)).toThrow('duplicate share x = 1');
    expect(() => combine(K, [s[0]!, s[1]!], [0, 1], out)).toThrow(/x = 0 is the secret itself/);
  });
  it('rejects share vectors of different lengths', () => {
    const a = put([1n, 2n]), b = put([1n]);
    const out = K.alloc(2);
    expect(() => combine(K, [a, b], [1, 2], out)).toThrow(/different lengths/);
  });
});
