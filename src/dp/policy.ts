/**
 * The privacy policy of a federation (the federation file's `policy.privacy`, docs/privacy.md)
 * and the noise plan it implies for a round: the sensitivity of the privacy unit at the round's
 * size, the central variance that gives the target (epsilon per round, or a noise multiplier),
 * each contributing region's share of it, and the tail bound the overflow rule adds.
 * @module
 */
import { varianceForEpsilon, roundEpsilon, type Budget } from './accountant.js';
import { MAX_POISSON_MEAN } from './sampler-limits.js';
import { sensitivity, type PrivacyUnit, type Sensitivity } from './sensitivity.js';

/** The mechanisms a federation may name (one today). */
export const PRIVACY_MECHANISMS = ['skellam'] as const;
/** The privacy units a federation may name (one today: one trainer's clipped, weighted update). */
export const PRIVACY_UNITS = ['trainer-update'] as const;
/** Largest delta the file accepts. */
export const MAX_DELTA = 1e-3;

export interface PrivacyPolicy {
  readonly mechanism: (typeof PRIVACY_MECHANISMS)[number];
  readonly unit: (typeof PRIVACY_UNITS)[number];
  /** The delta of every (epsilon, delta) statement: per round and for the budget. */
  readonly delta: number;
  /** Target epsilon of one round at delta; exactly one of this and noiseMultiplier is set. */
  readonly epsilonPerRound: number | null;
  /** Standard deviation of the central noise over the L2 sensitivity. */
  readonly noiseMultiplier: number | null;
  /** At most `epsilon` at delta over the rounds whose id starts with `run`. */
  readonly budget: { readonly epsilon: number; readonly run: string };
}

/** What a round adds under the policy. */
export interface NoisePlan {
  readonly params: number;
  readonly sensitivity: Sensitivity;
  /** Central variance: what the sum over any minContributors regions carries at least. */
  readonly variance: number;
  /** Each contributing region's share: variance / minContributors. */
  readonly regionVariance: number;
  /** Epsilon of one round at the policy's delta. */
  readonly epsilonRound: number;
}

/**
 * The noise of a round of `params` coordinates. Each region adds Skellam noise of variance
 * regionVariance = variance / minContributors, so any minContributors of them (and so any round
 * that may reveal anything) add up to at least the central variance.
 * @throws {RangeError} when the target cannot be reached (varianceForEpsilon).
 */
export function noisePlan(p: PrivacyPolicy, unit: PrivacyUnit, params: number, minContributors: number): NoisePlan {
  const s = sensitivity(unit, params);
  const variance = p.noiseMultiplier !== null ? (p.noiseMultiplier * s.l2) ** 2 : varianceForEpsilon(p.epsilonPerRound!, p.delta, s);
  return { params, sensitivity: s, variance, regionVariance: variance / minContributors, epsilonRound: roundEpsilon(variance, s, p.delta) };
}

/** The ledger's budget of a policy. */
export function budgetOf(p: PrivacyPolicy): Budget {
  return { epsilon: p.budget.epsilon, delta: p.delta, run: p.budget.run };
}

/** Standard deviations of the noise the overflow rule reserves room for, plus {@link NOISE_TAIL_SLACK}. */
export const NOISE_TAIL_SDS = 20;
export const NOISE_TAIL_SLACK = 100;

/**
 * A bound |noise| <= t that one coordinate of a sum of Skellam noises of total variance v passes
 * with probability below 2 exp(-t^2 / (2 (v + t/3))) (Bernstein: a Skellam is a sum of
 * independent centred Poisson increments, bounded by 1 after splitting): t = 20 sd + 100 gives an
 * exponent of at least 150 for every v (2^-216 per coordinate, 2^-180 over 2^36 coordinates).
 */
export function noiseTail(variance: number): number {
  return NOISE_TAIL_SDS * Math.sqrt(variance) + NOISE_TAIL_SLACK;
}

/** Largest region variance the sampler takes (two Poisson draws of mean variance / 2). */
export const MAX_REGION_VARIANCE = 2 * MAX_POISSON_MEAN;
