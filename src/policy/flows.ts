/**
 * Share flows: may region A deal shares to region B at time `now`, given the dealer's `shareTo`
 * list, the jurisdictions and the grants ({@link allowedHolders}). Returns one
 * {@link PolicyDecision} per candidate holder, for the transcript.
 * @module
 */
import { verifyGrant } from './grants.js';
import { POLICY_DEFAULTS, type Grant, type PolicyDecision, type PolicyRule, type PolicySubject, type RegionPolicy } from './model.js';

export interface HolderRefusal {
  readonly holder: string;
  readonly rule: PolicyRule;
  readonly reason: string;
}

export interface AllowedHolders {
  /** Candidates that may hold shares dealt by the dealer, in the candidates' order. */
  readonly allowed: string[];
  readonly refused: HolderRefusal[];
  /** Ids of the grants that allowed a flow (each once). */
  readonly grantsUsed: string[];
  /** One decision per candidate, for the transcript. */
  readonly decisions: PolicyDecision[];
}

function jurisdictionOf(f: PolicySubject, id: string): string | undefined {
  return f.regions.find((r) => r.id === id)?.jurisdiction;
}

function regionPolicy(f: PolicySubject, id: string): RegionPolicy {
  return f.policy.regions[id] ?? { classification: POLICY_DEFAULTS.classification, shareTo: null };
}

/**
 * Which of `candidates` may hold shares dealt by `dealer`, at time `now`. A holder is allowed if
 * it is the dealer itself, is in the dealer's jurisdiction, the dealer has no `shareTo` list,
 * its jurisdiction is in the list, or a grant in `grants` that {@link verifyGrant} accepts names
 * the flow (`from` = dealer, `toRegion` = holder or `toJurisdiction` = the holder's jurisdiction).
 *
 * Cost: a grant of a parsed federation (one returned by `verifiedGrant`, as the federation file
 * parser does for each) had its signature verified once, at parse time, so here only its
 * federation, regions, flow and validity period are checked. Any other grant (a Policy built by
 * hand, a copy) is verified in full, Ed25519 signature included, on every call; the decision is
 * the same either way.
 * @param grants - Usually `f.policy.grants`; invalid ones are skipped and their reason is given.
 * @param now - Milliseconds since the epoch.
 * @throws {RangeError} if `dealer` is not a region of `f` (a programming error: it is the node itself).
 * @example
 * allowedHolders(fed, 'eu', ['eu', 'us', 'apac'], Date.now(), fed.policy.grants).allowed; // ['eu', 'apac']
 */
export function allowedHolders(f: PolicySubject, dealer: string, candidates: readonly string[], now: number, grants: readonly Grant[]): AllowedHolders {
  const dealerJ = jurisdictionOf(f, dealer);
  if (dealerJ === undefined) throw new RangeError(`allowedHolders: dealer ${JSON.stringify(dealer)} is not a region of federation ${f.federation}`);
  const shareTo = regionPolicy(f, dealer).shareTo;
  const allowed: string[] = [];
  const refused: HolderRefusal[] = [];
  const grantsUsed: string[] = [];
  const decisions: PolicyDecision[] = [];
  const seen = new Set<string>();
  const allow = (holder: string, rule: PolicyRule, reason: string, grant: string | null = null): void => {
    allowed.push(holder);
    decisions.push({ rule, subject: `${dealer}->${holder}`, outcome: 'allowed', reason, grant });
  };
  const refuse = (holder: string, rule: PolicyRule, reason: string): void => {
    refused.push({ holder, rule, reason });
    decisions.push({ rule, subject: `${dealer}->${holder}`, outcome: 'refused', reason, grant: null });
  };
  for (const holder of candidates) {
    if (seen.has(holder)) continue;
    seen.add(holder);
    const hj = jurisdictionOf(f, holder);
    if (hj === undefined) {
      refuse(holder, 'unknown-region', `${JSON.stringify(holder)} is not a region of federation ${f.federation}`);
      continue;
    }
    if (holder === dealer) {
      allow(holder, 'self', `${dealer} keeps its own share`);
      continue;
    }
    if (hj === dealerJ) {
      allow(holder, 'same-jurisdiction', `${holder} is in ${dealer}'s jurisdiction ${dealerJ}`);
      continue;
    }
    if (shareTo === null) {
      allow(holder, 'open', `policy.regions.${dealer} has no shareTo list: every federation member may hold its shares`);
      continue;
    }
    if (shareTo.includes(hj)) {
      allow(holder, 'share-to', `${hj} is in policy.regions.${dealer}.shareTo`);
      continue;
    }
    const failures: string[] = [];
    let used: string | undefined;
    for (const g of grants) {
      const gf = (g as Partial<Grant>).flow as Partial<{ from: string; toRegion: string; toJurisdiction: string }> | undefined;
      if (gf?.from !== dealer || !(gf.toRegion === holder || gf.toJurisdiction === hj)) continue;
      const check = verifyGrant(f, g, now);
      if (check.ok) {
        used = g.id;
        break;
      }
      failures.push(check.reason);
    }
    if (used !== undefined) {
      if (!grantsUsed.includes(used)) grantsUsed.push(used);
      allow(holder, 'grant', `grant ${used} allows ${dealer} -> ${holder} (${hj})`, used);
      continue;
    }
    refuse(
      holder,
      'share-to',
      `${dealer} (${dealerJ}) may not deal shares to ${holder} (${hj}): ${hj} is not in policy.regions.${dealer}.shareTo [${shareTo.join(', ')}]` +
        (failures.length === 0 ? ' and no grant covers this flow' : `; ${failures.join('; ')}`),
    );
  }
  return { allowed, refused, grantsUsed, decisions };
}
