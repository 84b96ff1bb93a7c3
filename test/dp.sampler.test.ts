/**
 * The Skellam noise sampler (src/dp/sampler.ts, kernel assembly/noise.ts) against theory, from a
 * seeded AES-256-CTR stream so every run draws the same samples. Sk(l, l) = Poisson(l) -
 * Poisson(l) has mean 0, variance 2l, odd moments 0 and fourth cumulant 2l (Poisson cumulants are
 * all l), so E[X^4] = 2l + 3(2l)^2. The bounds are several standard errors wide (the samples are
 * fixed, so they cannot flake) and far tighter than a 2% error in the variance or a bias of the
 * sign. A chi-square against the exact pmf (a convolution of Poisson pmfs) covers the shape on
 * both kernel paths (inversion below mean 10, PTRS from 10) and at the boundary.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import { decodeVector } from '../src/field/fixed-point.js';
import { P } from '../src/field/reference.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { skellamNoise } from '../src/dp/sampler.js';

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const N = 1_000_000;

/** n noise samples of variance 2 * lambda, as numbers. */
function draw(lambda: number, n: number, key = 7): Float64Array {
  const v = K.alloc(n);
  skellamNoise(K, v, 2 * lambda, aesCtrRandom(seed(key)));
  const out = new Float64Array(n);
  decodeVector(K, v, out, 0);
  K.free(v);
  return out;
}

function moments(x: Float64Array): { mean: number; variance: number; m3: number; m4: number } {
  let s = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (const v of x) {
    const d = v - mean;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  return { mean, variance: m2 / (x.length - 1), m3: m3 / x.length, m4: m4 / x.length };
}

/** log P(Poisson(l) = k). */
function logPois(k: number, l: number): number {
  let lf = 0;
  for (let i = 2; i <= k; i++) lf += Math.log(i);
  return -l + k * Math.log(l) - lf;
}

/** P(Sk(l, l) = k) for |k| <= K by convolution of Poisson pmfs (j up to l + 40 sqrt(l) + 60). */
function skellamPmf(l: number, kmax: number): Map<number, number> {
  const J = Math.ceil(l + 40 * Math.sqrt(l) + 60) + kmax;
  const pois = new Float64Array(J + 1);
  let lf = 0;
  for (let j = 0; j <= J; j++) {
    if (j >= 2) lf += Math.log(j);
    pois[j] = Math.exp(-l + j * Math.log(l) - lf);
  }
  const pmf = new Map<number, number>();
  for (let k = 0; k <= kmax; k++) {
    let s = 0;
    for (let j = 0; j + k <= J; j++) s += pois[j + k]! * pois[j]!;
    pmf.set(k, s);
    pmf.set(-k, s);
  }
  return pmf;
}

/** Chi-square of the samples against the pmf, bins of expected count >= 50 (tails pooled), and its degrees of freedom. */
function chiSquare(x: Float64Array, l: number): { chi2: number; dof: number } {
  const sd = Math.sqrt(2 * l);
  const kmax = Math.ceil(8 * sd + 10);
  const pmf = skellamPmf(l, kmax);
  const width = Math.max(1, Math.floor(sd / 8)); // ~100 bins over +-6 sd
  const edges: number[] = []; // bins [edges[i], edges[i+1])
  for (let k = -kmax; k <= kmax + 1; k += width) edges.push(k);
  const expected = new Float64Array(edges.length - 1);
  for (let i = 0; i + 1 < edges.length; i++) for (let k = edges[i]!; k < edges[i + 1]!; k++) expected[i]! += (pmf.get(k) ?? 0) * x.length;
  const observed = new Float64Array(edges.length - 1);
  for (const v of x) {
    const i = Math.min(edges.length - 2, Math.max(0, Math.floor((v + kmax) / width)));
    observed[i]! += 1;
  }
  // pool bins from both ends until each has >= 50 expected
  const e: number[] = [];
  const o: number[] = [];
  let ae = 0;
  let ao = 0;
  for (let i = 0; i < expected.length; i++) {
    ae += expected[i]!;
    ao += observed[i]!;
    if (ae >= 50) {
      e.push(ae);
      o.push(ao);
      ae = 0;
      ao = 0;
    }
  }
  e[e.length - 1]! += ae;
  o[o.length - 1]! += ao;
  let chi2 = 0;
  for (let i = 0; i < e.length; i++) chi2 += (o[i]! - e[i]!) ** 2 / e[i]!;
  return { chi2, dof: e.length - 1 };
}

describe('Skellam noise: moments against theory (1e6 samples each)', () => {
  for (const lambda of [0.5, 3, 9.999, 10, 57.3, 1e4, 1e9, 2 ** 40]) {
    it(`Poisson mean ${lambda}: mean 0, variance 2l, skewness 0, E[X^4] = 2l + 12 l^2`, () => {
      const x = draw(lambda, N);
      const m = moments(x);
      const v = 2 * lambda;
      const se = Math.sqrt(v / N);
      expect(Math.abs(m.mean)).toBeLessThan(5 * se); // a sign bias of 1% of sd is 10 se
      // sd of the sample variance ~ v sqrt((2 + 1/v) / N) = 0.14% of v: 0.6% catches a 2% error
      expect(Math.abs(m.variance / v - 1)).toBeLessThan(0.006);
      // skewness: se sqrt(6 / N)
      expect(Math.abs(m.m3 / v ** 1.5)).toBeLessThan(5 * Math.sqrt(6 / N));
      // kurtosis 3 + 1/v, se ~ sqrt(24 / N)
      expect(Math.abs(m.m4 / v ** 2 - (3 + 1 / v))).toBeLessThan(5 * Math.sqrt(24 / N) + 0.1 / v);
    });
  }

  it('a 2% wrong variance would fail these bounds (the bounds are sharp enough)', () => {
    const x = draw(1e4, N);
    const m = moments(x);
    expect(Math.abs(m.variance / (2 * 1e4 * 1.02) - 1)).toBeGreaterThan(0.006);
    expect(Math.abs(m.variance / (2 * 1e4 * 0.98) - 1)).toBeGreaterThan(0.006);
  });
});

describe('Skellam noise: the shape (chi-square against the exact pmf)', () => {
  for (const lambda of [0.5, 3, 9.999, 10, 57.3, 1e4]) {
    it(`Poisson mean ${lambda}`, () => {
      const { chi2, dof } = chiSquare(draw(lambda, N, 11), lambda);
      // chi2 ~ dof +- sqrt(2 dof): 5 sd above its mean fails (p < 1e-6)
      expect(dof).toBeGreaterThan(5);
      expect(chi2).toBeLessThan(dof + 5 * Math.sqrt(2 * dof));
    });
  }

  it('the test sees a wrong law: Skellam(10) samples against the pmf of Skellam(10.5)', () => {
    const { chi2, dof } = chiSquare(draw(10, N, 11), 10.5);
    expect(chi2).toBeGreaterThan(dof + 5 * Math.sqrt(2 * dof));
  });
});

describe('Skellam noise: field encoding and the stream', () => {
  it('writes negative values as p - |v|, adds with `add`, and repeats under the same seed', () => {
    const n = 300_000; // several refills of the word buffer
    const a = K.alloc(n);
    skellamNoise(K, a, 200, aesCtrRandom(seed(3)));
    const noise = Array.from(K.view(a));
    expect(noise.every((e) => e < 200n || e > P - 200n)).toBe(true);
    expect(noise.some((e) => e > P / 2n)).toBe(true);
    const b = K.alloc(n);
    K.view(b).fill(5n);
    skellamNoise(K, b, 200, aesCtrRandom(seed(3)), { add: true });
    expect(Array.from(K.view(b))).toEqual(noise.map((e) => (e + 5n) % P));
    const c = K.alloc(n);
    skellamNoise(K, c, 200, aesCtrRandom(seed(4)));
    expect(Array.from(K.view(c))).not.toEqual(noise);
    [a, b, c].forEach((v) => K.free(v));
  });

  it('refuses a variance outside (0, 2^49]', () => {
    const v = K.alloc(4);
    for (const bad of [0, -1, Number.NaN, 2 ** 50]) expect(() => skellamNoise(K, v, bad, aesCtrRandom(seed(1)))).toThrow(/variance/);
    K.free(v);
  });
});

describe('Skellam noise: a broken random source', () => {
  it('throws instead of looping when the stream yields only zeros', () => {
    const v = K.alloc(1000);
    expect(() => skellamNoise(K, v, 2e6, (b) => b.fill(0))).toThrow(/random source is broken/);
    K.free(v);
  });
});

describe('distributed noise: the regions\' shares add up to the central noise', () => {
  it('minContributors regions adding noisePlan().regionVariance each give the plan\'s central variance', async () => {
    const { noisePlan } = await import('../src/dp/policy.js');
    const policy = { mechanism: 'skellam', unit: 'trainer-update', delta: 1e-6, epsilonPerRound: 1, noiseMultiplier: null, budget: { epsilon: 8, run: '' } } as const;
    const plan = noisePlan(policy, { clipL2: 1, maxWeight: 1, scaleBits: 16 }, N, 2);
    const sum = K.alloc(N); // zero
    skellamNoise(K, sum, plan.regionVariance, aesCtrRandom(seed(21)), { add: true });
    skellamNoise(K, sum, plan.regionVariance, aesCtrRandom(seed(22)), { add: true });
    const x = new Float64Array(N);
    decodeVector(K, sum, x, 0);
    K.free(sum);
    const m = moments(x);
    expect(Math.abs(m.mean)).toBeLessThan(5 * Math.sqrt(plan.variance / N));
    expect(Math.abs(m.variance / plan.variance - 1)).toBeLessThan(0.006);
  });
});
