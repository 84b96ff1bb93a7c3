/**
 * The rules of the `round` section beyond its shape (schema.ts): minContributors against the
 * region count, timeouts that fit in each other, and the fixed-point overflow rule that bounds
 * the section (docs/field.md, "Fixed-point encoding and the overflow budget").
 * @module
 */
import { Ctx, outOfRange } from './check.js';
import { OVERFLOW_BUDGET_LOG2, type RoundConfig } from './model.js';
import type { FederationFile } from './schema.js';

/**
 * The `round` section after the schema pass (which filled in every default but minContributors),
 * checked against the region count and for timeouts that fit in each other.
 */
export function checkRound(ctx: Ctx, r: FederationFile['round'], regionCount: number): RoundConfig {
  const minContributors = r.minContributors ?? Math.min(2, regionCount);
  if (minContributors > regionCount) {
    ctx.fail('round.minContributors', outOfRange(minContributors, 1, regionCount, ` (contributing regions; this federation has ${regionCount} regions)`));
  }
  const round: RoundConfig = {
    scaleBits: r.scaleBits,
    clipL2: r.clipL2,
    clipMode: r.clipMode,
    minContributors,
    maxParams: r.maxParams,
    maxTrainersPerRound: r.maxTrainersPerRound,
    maxWeight: r.maxWeight,
    collectMs: r.collectMs,
    phaseTimeoutMs: r.phaseTimeoutMs,
    roundTimeoutMs: r.roundTimeoutMs,
    protocol: r.protocol,
  };
  if (round.phaseTimeoutMs > round.roundTimeoutMs) {
    ctx.fail(
      'round.phaseTimeoutMs',
      `${round.phaseTimeoutMs} is longer than round.roundTimeoutMs (${round.roundTimeoutMs}); a phase must fit in the round: lower phaseTimeoutMs or raise roundTimeoutMs`,
    );
  }
  if (round.collectMs >= round.roundTimeoutMs) {
    ctx.fail(
      'round.collectMs',
      `${round.collectMs} is not shorter than round.roundTimeoutMs (${round.roundTimeoutMs}); collecting would use up the round: lower collectMs or raise roundTimeoutMs`,
    );
  }
  return round;
}

/** What {@link overflowBudget} returns (not the field module's `OverflowBudget`, which is its input bounds). */
export interface OverflowHeadroom {
  /** log2 of clipL2 * 2^scaleBits * maxTrainersPerRound * regions * maxWeight (+ the noise tail). */
  readonly worstCaseLog2: number;
  /** OVERFLOW_BUDGET_LOG2 - worstCaseLog2: bits to spare (negative: the sum could wrap). */
  readonly headroomBits: number;
}

/**
 * Computes how close the worst-case aggregate of one element comes to the field's signed range.
 * Every element of a clipped update has |v| <= clipL2, is scaled by 2^scaleBits, multiplied by
 * at most maxWeight, and summed over at most maxTrainersPerRound trainers in each region.
 * Pure; floating point is exact enough here (relative error ~2^-50 on a bound with a 2^62 target).
 * `noiseTail` (field units) is the bound on |noise| of one element that the privacy section adds.
 * @returns the worst case and the headroom, both in bits.
 * @example
 * overflowBudget({ ...round }, 3).headroomBits; // 7.9 with the defaults
 */
export function overflowBudget(
  round: Pick<RoundConfig, 'clipL2' | 'scaleBits' | 'maxTrainersPerRound' | 'maxWeight'>,
  regionCount: number,
  noiseTail = 0,
): OverflowHeadroom {
  const signalLog2 =
    Math.log2(round.clipL2) + round.scaleBits + Math.log2(round.maxTrainersPerRound) + Math.log2(regionCount) + Math.log2(round.maxWeight);
  // with differential privacy the sum also carries the regions' noise, bounded by its tail (dp/policy.ts noiseTail)
  const worstCaseLog2 = noiseTail === 0 ? signalLog2 : Math.log2(2 ** signalLog2 + noiseTail);
  return { worstCaseLog2, headroomBits: OVERFLOW_BUDGET_LOG2 - worstCaseLog2 };
}

/**
 * Refuses a round configuration whose worst-case aggregate could wrap around p/2 (docs/field.md),
 * with a message that names the knobs and by how much to turn them. The federation file's rule;
 * stricter than, and so implying, the field module's `checkOverflowBudget` (see parseFederation).
 * Reported to `ctx` (the reading goes on) when the worst case reaches 2^62.
 */
export function refuseRoundOverflow(ctx: Ctx, round: RoundConfig, regionCount: number): void {
  const { worstCaseLog2, headroomBits } = overflowBudget(round, regionCount);
  if (headroomBits > 0) return;
  const excess = -headroomBits; // bits over budget; the bound is strict, so an exact fit still needs one more
  const bits = Math.floor(excess) + 1;
  const factor = 2 ** excess;
  const fmt = (x: number): string => (x >= 1e5 || x < 1e-3 ? x.toExponential(2) : String(Number(x.toPrecision(4))));
  const scaleFix =
    bits <= round.scaleBits
      ? `lower scaleBits by ${bits} (to ${round.scaleBits - bits})`
      : `lowering scaleBits cannot fix it alone (it is ${round.scaleBits})`;
  ctx.report(
    'round',
    `fixed-point overflow: worst-case |sum| = clipL2 (${fmt(round.clipL2)}) x 2^scaleBits (2^${round.scaleBits}) x maxTrainersPerRound (${round.maxTrainersPerRound}) ` +
      `x regions (${regionCount}) x maxWeight (${fmt(round.maxWeight)}) = 2^${worstCaseLog2.toFixed(2)}, which must stay below 2^${OVERFLOW_BUDGET_LOG2} ` +
      `or the aggregate can wrap around p/2. Fix: ${scaleFix}, or divide clipL2, maxWeight or maxTrainersPerRound (or their product) ` +
      `by more than ${fmt(factor)} (e.g. clipL2 < ${fmt(round.clipL2 / factor)}, maxWeight < ${fmt(round.maxWeight / factor)})`,
  );
}
