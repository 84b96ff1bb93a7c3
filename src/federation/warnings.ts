/**
 * Advice that is not an error: settings that parse but weaken privacy or robustness, and grants
 * about to expire. Printed by `mpc-node config check` and at node start.
 * @module
 */
import { parseGrantTime, policyFeasibility, verifyGrant } from '../policy/index.js';
import { type Federation } from './model.js';
import { isLoopbackHost } from './regions.js';
import { overflowBudget } from './round-limits.js';

/** Grants expiring within this many days are reported by {@link federationWarnings} (with `now`). */
export const GRANT_EXPIRY_WARNING_DAYS = 14;

/**
 * Advice that is not an error: settings that are valid but weaken privacy or robustness.
 * @param now - Milliseconds since the epoch; when given, grants that are expired, not yet valid
 *   or expiring within {@link GRANT_EXPIRY_WARNING_DAYS} days are reported too. (Parsing has no
 *   clock, so an expired grant is not a parse error: it simply allows nothing.)
 * @returns human-readable warnings (empty if none).
 */
export function federationWarnings(f: Federation, now?: number): string[] {
  const w: string[] = [];
  const n = f.regions.length;
  if (f.threshold === 1) w.push('threshold is 1 (allowInsecureThreshold): every single node can read every region\'s update');
  if (f.round.minContributors < 2) {
    w.push(`round.minContributors is ${f.round.minContributors}: an aggregate of one region reveals that region's update`);
  }
  if (f.threshold === n && n > 1) w.push(`threshold equals the number of regions (${n}): one node offline stops every round`);
  for (const r of f.regions) {
    if (r.endpoint.startsWith('ws://') && !isLoopbackHost(new URL(r.endpoint).hostname)) {
      w.push(`regions ${r.id}: endpoint uses ws:// to a remote host; peer frames are encrypted anyway, but wss:// also hides metadata`);
    }
    if (r.api.allowRemoteTrainers) w.push(`regions ${r.id}: api listens on ${r.api.host} (allowRemoteTrainers); the node serves it over HTTPS only (mpc-node start --tls-cert PATH --tls-key PATH); protect it with a firewall as well`);
  }
  const { headroomBits } = overflowBudget(f.round, n);
  if (headroomBits < 1) w.push(`overflow headroom is only ${headroomBits.toFixed(2)} bits`);
  w.push(...policyWarnings(f, now));
  return w;
}

function policyWarnings(f: Federation, now: number | undefined): string[] {
  const w: string[] = [];
  const p = f.policy;
  for (const r of f.regions) {
    const rp = p.regions[r.id];
    if (rp?.classification === 'personal' && rp.shareTo === null && new Set(f.regions.map((x) => x.jurisdiction)).size > 1) {
      w.push(`policy.regions.${r.id}: classified "personal" but shares go to every jurisdiction; list the allowed ones in "shareTo"`);
    }
  }
  if (p.retention.transcriptDays === null && Object.values(p.regions).some((rp) => rp.classification === 'personal')) {
    w.push('policy.retention.transcriptDays is not set: transcripts (metadata of rounds over personal data) are kept forever; set a number of days and run mpc-node prune');
  }
  if (p.authority !== null && f.regions.some((r) => r.publicKey === p.authority)) {
    w.push('policy.authority is the key of a region node: that node\'s operator can grant exceptions alone; use a separate key (mpc-node policy authority-keygen)');
  }
  const feas = policyFeasibility(f);
  for (const d of feas.cannotContribute) {
    w.push(`region ${d} may deal to only ${feas.dealTo[d]!.join(', ')} under its shareTo list (threshold ${f.threshold}): it can contribute only while one of its grants is valid`);
  }
  if (feas.maxContributors !== null && feas.maxContributors < f.regions.length && feas.cannotContribute.length === 0) {
    w.push(
      `not every region can contribute to the same round: at most ${feas.maxContributors} of ${f.regions.length} (e.g. ${feas.best?.contributors.join(', ')} with holders ${feas.best?.holders.join(', ')}); ` +
        'the others are left out of a round they cannot share with',
    );
  }
  for (const g of p.grants) {
    const rp = p.regions[g.flow.from];
    if (rp?.shareTo === null) w.push(`policy.grants ${g.id}: region ${g.flow.from} has no shareTo list, so the grant changes nothing`);
    if (now === undefined) continue;
    const check = verifyGrant(f, g, now);
    if (!check.ok) w.push(`policy.grants ${g.id}: ${check.reason}; it allows nothing now`);
    else if (parseGrantTime(g.notAfter)! - now < GRANT_EXPIRY_WARNING_DAYS * 86_400_000) w.push(`policy.grants ${g.id}: expires at ${g.notAfter}`);
  }
  return w;
}
