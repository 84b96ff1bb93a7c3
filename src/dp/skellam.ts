/**
 * The Skellam mechanism's Renyi DP, and the Gaussian's as its limit. Noise Sk(mu/2, mu/2) of
 * variance mu per coordinate, added to an integer vector of L1 / L2 sensitivity D1 / D2, is
 * (alpha, eps(alpha))-RDP for every integer alpha > 1 with
 *   eps(alpha) <= alpha D2^2 / (2 mu) + min( ((2 alpha - 1) D2^2 + 6 D1) / (4 mu^2), 3 D1 / (2 mu) )
 * (Agarwal, Kairouz and Liu, "The Skellam Mechanism for Differentially Private Federated
 * Learning", NeurIPS 2021, arXiv:2110.04995, Corollary 3.6). The first term is the Gaussian
 * mechanism's RDP at sigma^2 = mu; the rest is the price of being discrete, which vanishes
 * relative to it as mu grows. Sums of independent Skellam noises are Skellam with the variances
 * added, which is why each region can add a share of the noise.
 * @module
 */
import type { Sensitivity } from './sensitivity.js';

/** The integer orders the accountant evaluates (the bound holds for integer alpha only). */
export const RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 255 }, (_, i) => i + 2), // 2..256
  ...Array.from({ length: 124 }, (_, i) => 320 + 64 * i), // 320..8192
]);

/** The Skellam mechanism's RDP at integer order `alpha` for central variance `variance`. */
export function skellamRdp(alpha: number, variance: number, s: Sensitivity): number {
  const mu = variance;
  const d2sq = s.l2 * s.l2;
  return (alpha * d2sq) / (2 * mu) + Math.min(((2 * alpha - 1) * d2sq + 6 * s.l1) / (4 * mu * mu), (3 * s.l1) / (2 * mu));
}

/** The Gaussian mechanism's RDP, alpha D2^2 / (2 sigma^2) (Mironov 2017, Proposition 7). */
export function gaussianRdp(alpha: number, sigma: number, l2: number): number {
  return (alpha * l2 * l2) / (2 * sigma * sigma);
}

/** The RDP curve of one Skellam round over {@link RDP_ORDERS}. */
export function skellamCurve(variance: number, s: Sensitivity): Float64Array {
  return Float64Array.from(RDP_ORDERS, (a) => skellamRdp(a, variance, s));
}
