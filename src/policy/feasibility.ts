/**
 * Threshold feasibility, static (no grants, no clock): which regions can never contribute under
 * the file's flow rules, and the most regions that can contribute to one round together. Used
 * by the federation parser to refuse a policy under which a region could never take part.
 * @module
 */
import { allowedHolders } from './flows.js';
import type { PolicySubject } from './model.js';

export interface PolicyFeasibility {
  /** For each region, the regions it may deal to by the file alone (itself included). */
  readonly dealTo: Readonly<Record<string, readonly string[]>>;
  /** Regions that may deal to fewer than `threshold` regions: they can never contribute without a grant. */
  readonly cannotContribute: readonly string[];
  /**
   * The most regions that can contribute to one round together (some holder set of size
   * threshold that all of them may deal to), or null if the search was too large to run.
   */
  readonly maxContributors: number | null;
  /** A holder set achieving maxContributors, and the contributors it admits. */
  readonly best: { readonly holders: readonly string[]; readonly contributors: readonly string[] } | null;
}

/** Holder sets examined at most by {@link policyFeasibility} (C(n, t) grows fast). */
export const FEASIBILITY_SEARCH_LIMIT = 50_000;

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/**
 * How the static flow rules (ignoring grants) interact with the threshold: a dealer's shares are
 * only useful at holders every other contributor may also deal to, and a round needs at least
 * `threshold` such holders.
 */
export function policyFeasibility(f: PolicySubject): PolicyFeasibility {
  const ids = f.regions.map((r) => r.id);
  const dealTo: Record<string, readonly string[]> = {};
  for (const d of ids) dealTo[d] = allowedHolders(f, d, ids, 0, []).allowed;
  const t = f.threshold;
  const cannotContribute = ids.filter((d) => dealTo[d]!.length < t);
  if (binomial(ids.length, t) > FEASIBILITY_SEARCH_LIMIT) return { dealTo, cannotContribute, maxContributors: null, best: null };
  let best: { holders: string[]; contributors: string[] } | null = null;
  const pick: string[] = [];
  const visit = (start: number): void => {
    if (pick.length === t) {
      const contributors = ids.filter((d) => pick.every((h) => dealTo[d]!.includes(h)));
      if (best === null || contributors.length > best.contributors.length) best = { holders: [...pick], contributors };
      return;
    }
    for (let i = start; i <= ids.length - (t - pick.length); i++) {
      pick.push(ids[i]!);
      visit(i + 1);
      pick.pop();
    }
  };
  visit(0);
  const b = best as { holders: string[]; contributors: string[] } | null;
  return { dealTo, cannotContribute, maxContributors: b?.contributors.length ?? 0, best: b };
}
