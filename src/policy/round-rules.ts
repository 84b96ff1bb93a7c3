/**
 * Round-level rules: the holders a set of contributors can use together ({@link roundHolders},
 * against the threshold), rounds in flight (policy.maxRoundsInFlight), and the minimum trainers
 * and contributing regions a round needs before anything is revealed.
 * @module
 */
import { allowedHolders } from './flows.js';
import type { Grant, PolicyDecision, PolicySubject } from './model.js';

export interface RoundHolders {
  /** Candidates every contributor may deal to (the holders a round with these contributors can use). */
  readonly holders: string[];
  /** holders.length >= threshold. */
  readonly feasible: boolean;
  readonly grantsUsed: string[];
  /** Every flow decision, plus one `threshold` decision when infeasible. */
  readonly decisions: PolicyDecision[];
}

/**
 * The holders a round can use when `contributors` all deal: the candidates every contributor
 * may deal to. With fewer than `threshold` of them, these contributors cannot take part together.
 * @param round - Round id, the subject of the `threshold` decision.
 * @example
 * roundHolders(fed, 'r1', ['eu', 'us'], ['eu', 'us', 'apac'], now, fed.policy.grants).feasible;
 */
export function roundHolders(f: PolicySubject, round: string, contributors: readonly string[], candidates: readonly string[], now: number, grants: readonly Grant[]): RoundHolders {
  let holders = [...new Set(candidates)];
  const grantsUsed = new Set<string>();
  const decisions: PolicyDecision[] = [];
  for (const d of contributors) {
    const a = allowedHolders(f, d, candidates, now, grants);
    holders = holders.filter((h) => a.allowed.includes(h));
    a.grantsUsed.forEach((g) => grantsUsed.add(g));
    decisions.push(...a.decisions);
  }
  const feasible = holders.length >= f.threshold;
  if (!feasible) {
    decisions.push({
      rule: 'threshold',
      subject: round,
      outcome: 'refused',
      reason: `contributors [${contributors.join(', ')}] may all deal to only ${holders.length} holder(s) [${holders.join(', ')}], threshold is ${f.threshold}`,
      grant: null,
    });
  }
  return { holders, feasible, grantsUsed: [...grantsUsed], decisions };
}

// ---------------------------------------------------------------------------------------------
// Round-level rules

/**
 * May a node open another round while `inFlight` rounds are running? (policy.maxRoundsInFlight)
 * @example
 * checkRoundsInFlight(fed, 'r9', 4).outcome; // 'refused' with the default limit of 4
 */
export function checkRoundsInFlight(f: PolicySubject, round: string, inFlight: number): PolicyDecision {
  const max = f.policy.maxRoundsInFlight;
  return inFlight < max
    ? { rule: 'max-rounds-in-flight', subject: round, outcome: 'allowed', reason: `${inFlight} of ${max} rounds in flight`, grant: null }
    : { rule: 'max-rounds-in-flight', subject: round, outcome: 'refused', reason: `${inFlight} rounds already in flight, policy.maxRoundsInFlight is ${max}: retry when one ends`, grant: null };
}

/** May a round with `trainers` submissions (summed over contributors) be revealed? (policy.minTrainers) */
export function checkMinTrainers(f: PolicySubject, round: string, trainers: number): PolicyDecision {
  const min = f.policy.minTrainers;
  return trainers >= min
    ? { rule: 'min-trainers', subject: round, outcome: 'allowed', reason: `${trainers} trainer(s), policy.minTrainers is ${min}`, grant: null }
    : { rule: 'min-trainers', subject: round, outcome: 'refused', reason: `only ${trainers} trainer(s) contributed, policy.minTrainers is ${min}: nothing is revealed`, grant: null };
}

/** May a round with these contributing regions be revealed? (round.minContributors) */
export function checkMinContributors(f: PolicySubject, round: string, contributors: readonly string[]): PolicyDecision {
  const min = f.round.minContributors;
  const n = new Set(contributors).size;
  return n >= min
    ? { rule: 'min-contributors', subject: round, outcome: 'allowed', reason: `${n} contributing region(s), round.minContributors is ${min}`, grant: null }
    : { rule: 'min-contributors', subject: round, outcome: 'refused', reason: `only ${n} region(s) contributed, round.minContributors is ${min}: nothing is revealed`, grant: null };
}
