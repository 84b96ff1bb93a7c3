/**
 * The rules of the federation file's `policy` section (docs/policy.md) beyond its shape
 * (schema.ts): ids and jurisdictions that exist, bounds from the round, the authority's key and
 * the grants' signatures, and the feasibility check that refuses a policy under which a region
 * could never contribute. Types and the rules' semantics live in src/policy/.
 * @module
 */
import { defaultPolicy, parseGrantTime, policyFeasibility, SHARE_MATERIAL_ZEROIZE, verifiedGrant, type Grant, type GrantFlow, type Policy, type RegionPolicy } from '../policy/index.js';
import { Ctx, ed25519PointKind, join, outOfRange, suggest } from './check.js';
import { type RoundConfig } from './model.js';
import { checkPrivacy } from './privacy-section.js';
import type { FederationFile, GrantFile } from './schema.js';

type RegionRef = { id: string; jurisdiction: string };

function checkShareTo(ctx: Ctx, list: readonly string[] | undefined, path: string, jurisdictions: readonly string[]): string[] | null {
  if (list === undefined) return null;
  const shareTo: string[] = [];
  list.forEach((j, i) => {
    const jp = `${path}[${i}]`;
    if (!jurisdictions.includes(j)) {
      const near = suggest(j, jurisdictions);
      ctx.fail(
        jp,
        `${JSON.stringify(j)} is the jurisdiction of no region (this federation has ${jurisdictions.join(', ')})` +
          (near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`) +
          ' Jurisdictions are compared exactly, case included',
      );
    }
    if (shareTo.includes(j)) ctx.fail(jp, `${JSON.stringify(j)} is listed twice`);
    shareTo.push(j);
  });
  return shareTo;
}

function checkFlow(ctx: Ctx, flow: GrantFile['flow'], path: string, ids: readonly string[], jurisdictions: readonly string[]): GrantFlow {
  const notARegion = (v: string): string => `${JSON.stringify(v)} is not a region id of this federation (${ids.join(', ')})`;
  if (!ids.includes(flow.from)) ctx.fail(join(path, 'from'), notARegion(flow.from));
  if (flow.toRegion !== undefined) {
    if (!ids.includes(flow.toRegion)) ctx.fail(join(path, 'toRegion'), notARegion(flow.toRegion));
    return { from: flow.from, toRegion: flow.toRegion };
  }
  const to = flow.toJurisdiction!; // the schema requires exactly one of the two
  if (!jurisdictions.includes(to)) ctx.fail(join(path, 'toJurisdiction'), `${JSON.stringify(to)} is the jurisdiction of no region (this federation has ${jurisdictions.join(', ')})`);
  return { from: flow.from, toJurisdiction: to };
}

function checkGrant(ctx: Ctx, g: GrantFile, path: string, federation: string, regions: readonly RegionRef[], authority: string): Grant {
  if (g.federation !== federation) {
    ctx.fail(join(path, 'federation'), `this grant is for federation ${JSON.stringify(g.federation)}, not ${JSON.stringify(federation)}: make a grant for this federation`);
  }
  const flow = checkFlow(ctx, g.flow, join(path, 'flow'), regions.map((r) => r.id), [...new Set(regions.map((r) => r.jurisdiction))]);
  if (parseGrantTime(g.notBefore)! > parseGrantTime(g.notAfter)!) ctx.fail(join(path, 'notAfter'), `${g.notAfter} is before notBefore (${g.notBefore})`);
  // verified here once: the frozen copy it returns is trusted by every later flow decision (policy/grants.ts)
  const check = verifiedGrant({ federation, regions }, authority, { federation, id: g.id, flow, notBefore: g.notBefore, notAfter: g.notAfter, signature: g.signature.toLowerCase() });
  if (!check.ok) ctx.fail(join(path, 'signature'), `${check.reason}; sign the grant again with the key of policy.authority`);
  return check.grant;
}

function checkAuthority(ctx: Ctx, v: string, path: string): string {
  const hex = v.toLowerCase();
  const point = ed25519PointKind(hex);
  if (point === 'not-a-point') ctx.fail(path, `is not a valid Ed25519 public key (not a point on the curve); copy it again from the output of 'mpc-node policy authority-keygen'`);
  if (point === 'small-order') ctx.fail(path, 'is a small-order Ed25519 point, under which anyone could forge grants; run mpc-node policy authority-keygen again');
  return hex;
}

/**
 * The `policy` section after the schema pass, checked against the regions (ids, jurisdictions),
 * the round (minTrainers) and the threshold (feasibility), with its grants verified.
 */
export function checkPolicy(ctx: Ctx, p: FederationFile['policy'], federation: string, regions: readonly RegionRef[], threshold: number, round: RoundConfig): Policy {
  const ids = regions.map((r) => r.id);
  const jurisdictions = [...new Set(regions.map((r) => r.jurisdiction))];
  const dflt = defaultPolicy(ids);
  if (p === undefined) return dflt;

  const regionPolicies: Record<string, RegionPolicy> = { ...dflt.regions };
  for (const [id, rp] of Object.entries(p.regions ?? {})) {
    const path = `policy.regions.${id}`;
    if (!ids.includes(id)) {
      const near = suggest(id, ids);
      ctx.fail(path, `${JSON.stringify(id)} is not a region id of this federation (${ids.join(', ')})` + (near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`));
    }
    regionPolicies[id] = { classification: rp.classification, shareTo: checkShareTo(ctx, rp.shareTo, `${path}.shareTo`, jurisdictions) };
  }

  const maxTrainers = round.maxTrainersPerRound * regions.length;
  if (p.minTrainers > maxTrainers) {
    ctx.fail('policy.minTrainers', outOfRange(p.minTrainers, 1, maxTrainers, ` (trainer submissions summed over the contributing regions; at most round.maxTrainersPerRound x regions = ${maxTrainers})`));
  }
  const authority = p.authority === null ? null : checkAuthority(ctx, p.authority, 'policy.authority');
  if (p.grants.length > 0 && authority === null) {
    ctx.fail('policy.grants', `grants need a policy authority: add "authority": "<public key from 'mpc-node policy authority-keygen'>" to "policy", or remove the grants`);
  }
  const grants: Grant[] = [];
  p.grants.forEach((g, i) => {
    const grant = checkGrant(ctx, g, `policy.grants[${i}]`, federation, regions, authority!);
    const j = grants.findIndex((x) => x.id === grant.id);
    if (j !== -1) ctx.fail(`policy.grants[${i}].id`, `duplicate grant id ${JSON.stringify(grant.id)}, same as policy.grants[${j}]; each grant needs its own id`);
    grants.push(grant);
  });

  const policy: Policy = {
    regions: regionPolicies,
    minTrainers: p.minTrainers,
    maxRoundsInFlight: p.maxRoundsInFlight,
    retention: { transcriptDays: p.retention.transcriptDays, shareMaterial: SHARE_MATERIAL_ZEROIZE },
    authority,
    grants,
    ...(p.privacy === undefined ? {} : { privacy: checkPrivacy(ctx, p.privacy, round, regions.length) }),
  };

  // The threshold and the flow rules interact: shares are only useful at holders every
  // contributor may deal to, and a round needs `threshold` of them (docs/policy.md).
  const subject = { federation, threshold, regions, round, policy };
  const feas = policyFeasibility(subject);
  for (const d of feas.cannotContribute) {
    if (grants.some((g) => g.flow.from === d)) continue; // may contribute while a grant is valid: a warning
    const to = feas.dealTo[d]!;
    ctx.fail(
      `policy.regions.${d}.shareTo`,
      `region ${d} may deal shares to only ${to.length} region(s) (${to.join(', ')}) but threshold is ${threshold}, so it could never contribute to a round. ` +
        `Fix: add jurisdictions to policy.regions.${d}.shareTo (other regions are in ${jurisdictions.filter((j) => !to.some((h) => regions.find((r) => r.id === h)?.jurisdiction === j)).join(', ')}), lower threshold, or add a signed grant for ${d}`,
    );
  }
  if (feas.maxContributors !== null && feas.maxContributors < round.minContributors && grants.length === 0) {
    ctx.fail(
      'round.minContributors',
      `${round.minContributors} contributing regions can never take part in one round under the policy: at most ${feas.maxContributors} ` +
        `(${feas.best?.contributors.join(', ') ?? 'none'}) may all deal to ${threshold} common holders. Fix: widen the shareTo lists in policy.regions, lower round.minContributors or threshold`,
    );
  }
  return policy;
}
