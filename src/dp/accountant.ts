/**
 * The privacy accountant: RDP composed over rounds (at every order the costs add up), converted
 * to (epsilon, delta), and the ledger questions a node asks before a round: what a round would
 * cost, whether it fits the budget, and which noise gives a target epsilon. Pure: the spent
 * rounds come in as data (a node keeps them; a verifier reads them from transcripts).
 *
 * Conversion: eps = min over alpha of rdp(alpha) + log(1/delta)/(alpha-1) + log(1 - 1/alpha)
 * - log(alpha)/(alpha-1) (Canonne, Kamath and Steinke 2020, Proposition 12; Balle et al. 2020,
 * Theorem 21), never worse than the classic rdp(alpha) + log(1/delta)/(alpha-1) (Mironov 2017,
 * Proposition 3), which {@link classicRdpToEpsilon} computes for comparison.
 * @module
 */
import type { Sensitivity } from './sensitivity.js';
import { RDP_ORDERS, skellamCurve } from './skellam.js';

/** One round as the ledger counts it: its noise (central variance credited to honest regions) and sensitivity. */
export interface RoundSpend {
  readonly roundId: string;
  readonly variance: number;
  readonly sensitivity: Sensitivity;
}

/** The budget: at most `epsilon` at `delta` over every round whose id starts with `run`. */
export interface Budget {
  readonly epsilon: number;
  readonly delta: number;
  readonly run: string;
}

/** An (epsilon, delta) guarantee and the order that gave it. */
export interface Guarantee {
  readonly epsilon: number;
  readonly delta: number;
  readonly order: number;
}

function checkDelta(delta: number): void {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
}

/** (epsilon, delta) from an RDP curve over {@link RDP_ORDERS}, by the tighter conversion. */
export function rdpToEpsilon(curve: ArrayLike<number>, delta: number): Guarantee {
  checkDelta(delta);
  let best = Infinity;
  let order = RDP_ORDERS[0]!;
  RDP_ORDERS.forEach((a, i) => {
    const e = curve[i]! + Math.log(1 / delta) / (a - 1) + Math.log1p(-1 / a) - Math.log(a) / (a - 1);
    if (e < best) [best, order] = [e, a];
  });
  return { epsilon: Math.max(0, best), delta, order };
}

/** (epsilon, delta) by the classic conversion rdp(alpha) + log(1/delta)/(alpha-1). */
export function classicRdpToEpsilon(curve: ArrayLike<number>, delta: number): Guarantee {
  checkDelta(delta);
  let best = Infinity;
  let order = RDP_ORDERS[0]!;
  RDP_ORDERS.forEach((a, i) => {
    const e = curve[i]! + Math.log(1 / delta) / (a - 1);
    if (e < best) [best, order] = [e, a];
  });
  return { epsilon: best, delta, order };
}

/** The composed RDP curve of rounds (the sum at every order). */
export function composedCurve(rounds: readonly RoundSpend[]): Float64Array {
  const c = new Float64Array(RDP_ORDERS.length);
  for (const r of rounds) {
    const k = skellamCurve(r.variance, r.sensitivity);
    for (let i = 0; i < c.length; i++) c[i]! += k[i]!;
  }
  return c;
}

/** The epsilon of one Skellam round at `delta`. */
export function roundEpsilon(variance: number, s: Sensitivity, delta: number): number {
  return rdpToEpsilon(skellamCurve(variance, s), delta).epsilon;
}

/** What the ledger says about a next round under a budget. */
export interface RoundAssessment {
  /** Epsilon of the next round alone. */
  readonly epsilonRound: number;
  /** Epsilon of the run's rounds already spent (composed). */
  readonly epsilonSpent: number;
  /** Epsilon of the run with the next round (composed: less than the sum of the two above). */
  readonly epsilonAfter: number;
  /** Whether the next round belongs to the run and epsilonAfter <= budget.epsilon. */
  readonly fits: boolean;
  /** budget.epsilon - epsilonAfter (negative: over budget). */
  readonly epsilonLeft: number;
  /** Why it does not fit, for the refusal; null when it fits. */
  readonly reason: string | null;
}

/**
 * Whether `next` may run after `spent` under `budget`. Only rounds of the run (id starting with
 * `budget.run`) count; a next round outside the run does not fit (it would spend nothing the
 * budget sees). A spent round repeated by id counts once.
 */
export function assessRound(budget: Budget, spent: readonly RoundSpend[], next: RoundSpend): RoundAssessment {
  const seen = new Set<string>();
  const run = spent.filter((r) => r.roundId.startsWith(budget.run) && r.roundId !== next.roundId && !seen.has(r.roundId) && seen.add(r.roundId));
  const epsilonSpent = run.length === 0 ? 0 : rdpToEpsilon(composedCurve(run), budget.delta).epsilon;
  const epsilonRound = roundEpsilon(next.variance, next.sensitivity, budget.delta);
  const epsilonAfter = rdpToEpsilon(composedCurve([...run, next]), budget.delta).epsilon;
  const inRun = next.roundId.startsWith(budget.run);
  const fits = inRun && epsilonAfter <= budget.epsilon;
  const reason = !inRun
    ? `round ${JSON.stringify(next.roundId)} is not in the privacy run: its id must start with ${JSON.stringify(budget.run)} (policy.privacy.budget.run)`
    : fits
      ? null
      : `the round would bring the run's epsilon to ${epsilonAfter.toFixed(3)} (spent ${epsilonSpent.toFixed(3)} over ${run.length} rounds), over the budget of ${budget.epsilon} at delta ${budget.delta}`;
  return { epsilonRound, epsilonSpent, epsilonAfter, fits, epsilonLeft: budget.epsilon - epsilonAfter, reason };
}

/**
 * The smallest central variance (within a relative 1e-9) for which one round of sensitivity `s`
 * costs at most `epsilon` at `delta`, by bisection on log(variance) (epsilon falls as variance grows).
 * @throws {RangeError} when epsilon is not positive or no variance up to 2^120 reaches it.
 */
export function varianceForEpsilon(epsilon: number, delta: number, s: Sensitivity): number {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError(`epsilon must be a positive number, got ${epsilon}`);
  let lo = Math.log(s.l2 * s.l2 * 1e-12);
  let hi = Math.log(2 ** 120);
  if (roundEpsilon(Math.exp(hi), s, delta) > epsilon) throw new RangeError(`epsilon ${epsilon} at delta ${delta} cannot be reached with any noise the field carries`);
  while (hi - lo > 1e-9) {
    const mid = (lo + hi) / 2;
    if (roundEpsilon(Math.exp(mid), s, delta) <= epsilon) hi = mid;
    else lo = mid;
  }
  return Math.exp(hi);
}
