/**
 * The accountant (src/dp/): the Skellam RDP bound as published, its Gaussian limit, composition,
 * the (epsilon, delta) conversion against the exact privacy curve of the Gaussian mechanism, the
 * inverse (variance for a target epsilon), the ledger, and the privacy unit's sensitivity.
 *
 * Provenance of the reference values:
 * - Skellam RDP: Agarwal, Kairouz and Liu, "The Skellam Mechanism for Differentially Private
 *   Federated Learning", NeurIPS 2021 (arXiv:2110.04995), Corollary 3.6, in the form TensorFlow
 *   Federated's distributed-DP accounting (`_skellam_rdp(l1, l2, central_var, scale, order)`)
 *   evaluates at scale 1; the value at (alpha 2, mu 100, D2 2, D1 3) is worked by hand below.
 * - Gaussian RDP alpha D^2 / (2 sigma^2): Mironov, "Renyi Differential Privacy", CSF 2017, Prop. 7.
 * - The exact (epsilon, delta) curve of the Gaussian mechanism: Balle and Wang, "Improving the
 *   Gaussian Mechanism for Differential Privacy", ICML 2018, Theorem 8:
 *   delta(eps) = Phi(D/(2s) - eps s/D) - e^eps Phi(-D/(2s) - eps s/D). Any RDP accountant must
 *   give an epsilon at least this (it is exact) and, for one release, not far above it.
 * - zCDP: the Gaussian is rho = D^2/(2 s^2)-zCDP and eps <= rho + 2 sqrt(rho log(1/delta))
 *   (Bun and Steinke, TCC 2016, Proposition 1.3): the classic conversion over real alpha.
 */
import { describe, expect, it } from 'vitest';
import {
  assessRound,
  classicRdpToEpsilon,
  composedCurve,
  gaussianRdp,
  RDP_ORDERS,
  rdpToEpsilon,
  roundEpsilon,
  sensitivity,
  skellamCurve,
  skellamRdp,
  varianceForEpsilon,
  type RoundSpend,
} from '../src/dp/index.js';

/** erfc with relative error < 1.2e-7 (Numerical Recipes' Chebyshev fit), enough for 1e-3 comparisons. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}
const Phi = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);

/** The exact epsilon of one Gaussian release at delta (Balle and Wang 2018), by bisection. */
function exactGaussianEpsilon(sigmaOverDelta: number, delta: number): number {
  const s = sigmaOverDelta;
  const d = (eps: number): number => Phi(1 / (2 * s) - eps * s) - Math.exp(eps) * Phi(-1 / (2 * s) - eps * s);
  let lo = 0;
  let hi = 100;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (d(mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

const gaussianCurve = (sigma: number, l2: number): Float64Array => Float64Array.from(RDP_ORDERS, (a) => gaussianRdp(a, sigma, l2));

describe('Skellam RDP (Agarwal, Kairouz and Liu 2021, Corollary 3.6)', () => {
  it('matches the bound worked by hand: alpha 2, mu 100, D2 2, D1 3', () => {
    // 2 * 4 / 200 + min((3 * 4 + 6 * 3) / (4 * 100^2), 3 * 3 / (2 * 100)) = 0.04 + min(7.5e-4, 0.045)
    expect(skellamRdp(2, 100, { l2: 2, l1: 3 })).toBeCloseTo(0.04075, 12);
    // small variance: the second branch of the min
    // 2 * 4 / 2 + min((12 + 18) / (4 * 1), 9 / 2) = 4 + min(7.5, 4.5)
    expect(skellamRdp(2, 1, { l2: 2, l1: 3 })).toBeCloseTo(8.5, 12);
  });

  it('tends to the Gaussian alpha D2^2 / (2 sigma^2) at sigma^2 = mu as the variance grows', () => {
    for (const d of [1e6, 1e8]) {
      const s = sensitivity({ clipL2: 1, maxWeight: 1, scaleBits: 16 }, d);
      for (const z of [0.5, 1, 4]) {
        const mu = (z * s.l2) ** 2;
        for (const a of [2, 8, 64, 1024]) {
          const ratio = skellamRdp(a, mu, s) / gaussianRdp(a, Math.sqrt(mu), s.l2);
          expect(ratio).toBeGreaterThanOrEqual(1);
          expect(ratio - 1).toBeLessThan(1e-3);
        }
      }
    }
  });

  it('costs more than the Gaussian when the noise is small in field units (the discrete price)', () => {
    const s = { l2: 4, l1: 16 };
    expect(skellamRdp(8, 16, s) / gaussianRdp(8, 4, s.l2)).toBeGreaterThan(1.05);
  });
});

describe('conversion to (epsilon, delta)', () => {
  for (const [z, delta] of [
    [0.8, 1e-5],
    [1, 1e-5],
    [2, 1e-6],
    [5, 1e-5],
  ] as const) {
    it(`one Gaussian release, sigma = ${z} D, delta ${delta}: at least the exact epsilon, within 25% of it, not above the zCDP bound`, () => {
      const curve = gaussianCurve(z, 1);
      const eps = rdpToEpsilon(curve, delta).epsilon;
      const exact = exactGaussianEpsilon(z, delta);
      expect(eps).toBeGreaterThanOrEqual(exact);
      expect(eps / exact).toBeLessThan(1.25);
      const rho = 1 / (2 * z * z);
      expect(eps).toBeLessThanOrEqual(rho + 2 * Math.sqrt(rho * Math.log(1 / delta)) + 1e-9);
      expect(eps).toBeLessThanOrEqual(classicRdpToEpsilon(curve, delta).epsilon);
    });
  }

  it('composition adds RDP: T rounds at sigma equal one round at sigma / sqrt(T)', () => {
    const s = { l2: 1000, l1: 1000 * 1000 };
    const one: RoundSpend = { roundId: 'r', variance: 1e12, sensitivity: s };
    const c = composedCurve(Array.from({ length: 50 }, () => one));
    const k = skellamCurve(1e12, s);
    c.forEach((v, i) => expect(v).toBeCloseTo(50 * k[i]!, 9));
    // Gaussian check of the same fact through epsilon
    const e50 = rdpToEpsilon(Float64Array.from(gaussianCurve(10, 1), (v) => 50 * v), 1e-5).epsilon;
    expect(e50).toBeCloseTo(rdpToEpsilon(gaussianCurve(10 / Math.sqrt(50), 1), 1e-5).epsilon, 9);
  });

  it('refuses a delta outside (0, 1)', () => {
    expect(() => rdpToEpsilon(gaussianCurve(1, 1), 0)).toThrow(/delta/);
    expect(() => rdpToEpsilon(gaussianCurve(1, 1), 1)).toThrow(/delta/);
  });
});

describe('the variance for a target epsilon', () => {
  const s = sensitivity({ clipL2: 1, maxWeight: 1, scaleBits: 16 }, 1e6);
  for (const eps of [0.5, 1, 2, 4, 8]) {
    it(`epsilon ${eps} at delta 1e-5: the round costs it, and 1% less noise costs more`, () => {
      const v = varianceForEpsilon(eps, 1e-5, s);
      expect(roundEpsilon(v, s, 1e-5)).toBeLessThanOrEqual(eps);
      expect(roundEpsilon(v, s, 1e-5)).toBeGreaterThan(eps * 0.999);
      expect(roundEpsilon(v * 0.99, s, 1e-5)).toBeGreaterThan(eps);
    });
  }
  it('refuses a target no noise reaches', () => {
    expect(() => varianceForEpsilon(0, 1e-5, s)).toThrow(/positive/);
    expect(() => varianceForEpsilon(1e-9, 1e-5, s)).toThrow(/cannot be reached/);
  });
});

describe('the ledger', () => {
  const s = sensitivity({ clipL2: 1, maxWeight: 1, scaleBits: 16 }, 1000);
  const v = varianceForEpsilon(1, 1e-5, s);
  const round = (id: string): RoundSpend => ({ roundId: id, variance: v, sensitivity: s });
  const budget = { epsilon: 4, delta: 1e-5, run: 'run-7/' };

  it('composes the run: rounds of epsilon 1 fit a budget of 4 more often than 4 times, then the next is refused', () => {
    const spent: RoundSpend[] = [];
    for (;;) {
      const a = assessRound(budget, spent, round(`run-7/${spent.length}`));
      if (!a.fits) {
        expect(a.reason).toMatch(/over the budget of 4/);
        expect(a.epsilonLeft).toBeLessThan(0);
        break;
      }
      expect(a.epsilonAfter).toBeGreaterThanOrEqual(a.epsilonSpent);
      if (spent.length > 0) expect(a.epsilonAfter).toBeLessThan(a.epsilonSpent + a.epsilonRound);
      else expect(a.epsilonAfter).toBeCloseTo(a.epsilonRound, 12);
      spent.push(round(`run-7/${spent.length}`));
    }
    expect(spent.length).toBeGreaterThan(4); // RDP composition beats adding epsilons
    expect(spent.length).toBeLessThan(16); // and a budget of 4 is not 16 rounds of 1 (sqrt-T growth)
  });

  it('counts only the run, and once per round id; a round outside the run does not fit', () => {
    const spent = [round('run-6/0'), round('run-6/1'), round('run-7/0'), round('run-7/0')];
    const a = assessRound(budget, spent, round('run-7/1'));
    expect(a.epsilonSpent).toBeCloseTo(roundEpsilon(v, s, 1e-5), 9);
    const out = assessRound(budget, [], round('other-0'));
    expect(out.fits).toBe(false);
    expect(out.reason).toMatch(/not in the privacy run/);
  });
});

describe('the privacy unit in field units', () => {
  it('L2 = clipL2 x maxWeight x 2^scaleBits (+1e-6) + sqrt(d)/2, L1 = min(sqrt(d) L2, L2^2)', () => {
    const s = sensitivity({ clipL2: 1, maxWeight: 1, scaleBits: 16 }, 1e6);
    expect(s.l2).toBeCloseTo(65536 * (1 + 1e-6) + 500, 6);
    expect(s.l1).toBeCloseTo(1000 * s.l2, 3);
    const tiny = sensitivity({ clipL2: 1, maxWeight: 1, scaleBits: 0 }, 1e6);
    expect(tiny.l1).toBeCloseTo(tiny.l2 ** 2, 6);
    expect(sensitivity({ clipL2: 2, maxWeight: 3, scaleBits: 10 }, 4).l2).toBeCloseTo(6 * 1024 * (1 + 1e-6) + 1, 6);
  });
});
