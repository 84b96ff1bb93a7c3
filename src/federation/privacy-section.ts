/**
 * The rules of `policy.privacy` beyond its shape (schema.ts): the noise plan it implies must exist
 * at the round's largest size (round.maxParams), fit the sampler, fit the field with its tails
 * (the overflow rule of round-limits.ts, extended by the noise), and a round must fit the budget.
 * Each refusal names the knob to turn; they are reported together ("N problems:"). The mechanism and the accountant live in src/dp/.
 * @module
 */
import { MAX_REGION_VARIANCE, noisePlan, noiseTail, type NoisePlan, type PrivacyPolicy } from '../dp/policy.js';
import { Ctx } from './check.js';
import { type RoundConfig, OVERFLOW_BUDGET_LOG2 } from './model.js';
import { overflowBudget } from './round-limits.js';
import type { PrivacyFile } from './schema.js';

const fmt = (x: number): string => (x >= 1e5 || x < 1e-3 ? x.toExponential(3) : String(Number(x.toPrecision(4))));

/**
 * The `policy.privacy` section after the schema pass, checked against the round (its privacy unit
 * and size) and the region count (the noise of all regions in the overflow bound).
 */
export function checkPrivacy(ctx: Ctx, p: PrivacyFile, round: RoundConfig, regionCount: number): PrivacyPolicy {
  const privacy: PrivacyPolicy = {
    mechanism: p.mechanism,
    unit: p.unit,
    delta: p.delta,
    epsilonPerRound: p.epsilonPerRound ?? null,
    noiseMultiplier: p.noiseMultiplier ?? null,
    budget: { epsilon: p.budget.epsilon, run: p.budget.run },
  };
  const path = 'policy.privacy';
  if (privacy.epsilonPerRound !== null && privacy.epsilonPerRound > privacy.budget.epsilon) {
    ctx.report(
      `${path}.epsilonPerRound`,
      `${privacy.epsilonPerRound} is more than the whole budget (budget.epsilon ${privacy.budget.epsilon}): no round could run. Lower epsilonPerRound or raise budget.epsilon`,
    );
    return privacy;
  }
  let plan: NoisePlan;
  try {
    plan = noisePlan(privacy, round, round.maxParams, round.minContributors);
  } catch (e) {
    ctx.report(`${path}.epsilonPerRound`, `${(e as Error).message}: raise epsilonPerRound or delta`);
    return privacy;
  }
  if (plan.epsilonRound > privacy.budget.epsilon) {
    ctx.report(
      `${path}.noiseMultiplier`,
      `one round costs epsilon ${fmt(plan.epsilonRound)} at delta ${privacy.delta}, more than the whole budget (budget.epsilon ${privacy.budget.epsilon}): raise noiseMultiplier or budget.epsilon`,
    );
  }
  const sd = Math.sqrt(plan.regionVariance);
  if (plan.regionVariance > MAX_REGION_VARIANCE) {
    ctx.report(
      path,
      `each region's noise would have sd ${fmt(sd)} field units, above the sampler's limit of ${fmt(Math.sqrt(MAX_REGION_VARIANCE))} (2^24.5): ` +
        `lower round.scaleBits or round.maxWeight x round.clipL2 (the sensitivity, ${fmt(plan.sensitivity.l2)}), or ${privacy.noiseMultiplier === null ? 'raise epsilonPerRound' : 'lower noiseMultiplier'}`,
    );
  }
  // the sum carries the noise of every region that may contribute (all of them), not only minContributors
  const tail = noiseTail(plan.regionVariance * regionCount);
  const signal = overflowBudget(round, regionCount);
  const { worstCaseLog2, headroomBits } = overflowBudget(round, regionCount, tail);
  if (signal.headroomBits > 0 && headroomBits <= 0) {
    ctx.report(
      path,
      `fixed-point overflow with the noise: the worst-case signal (2^${signal.worstCaseLog2.toFixed(2)}) plus the noise tail of ${regionCount} regions ` +
        `(20 sd + 100 = ${fmt(tail)}) is 2^${worstCaseLog2.toFixed(2)}, which must stay below 2^${OVERFLOW_BUDGET_LOG2}. ` +
        `Fix: lower round.scaleBits, round.maxWeight or round.clipL2, or ${privacy.noiseMultiplier === null ? 'raise epsilonPerRound' : 'lower noiseMultiplier'}`,
    );
  }
  return privacy;
}
