/**
 * The reader of the federation file's `policy` section (docs/policy.md). Types and the rules'
 * semantics live in src/policy/; this is only the strict reader of the file format, plus the
 * feasibility check that refuses a policy under which a region could never contribute.
 * @module
 */
import {
  DATA_CLASSIFICATIONS,
  defaultPolicy,
  GRANT_ID_RE,
  parseGrantTime,
  policyFeasibility,
  POLICY_DEFAULTS,
  SHARE_MATERIAL_ZEROIZE,
  verifiedGrant,
  type DataClassification,
  type Grant,
  type GrantFlow,
  type Policy,
  type RegionPolicy,
} from '../policy/index.js';
import { Ctx, describe, ed25519PointKind, integer, join, object, required, string, suggest } from './check.js';
import { COMMENT_KEY_PREFIX, type RoundConfig } from './model.js';

const POLICY_KEYS = ['regions', 'minTrainers', 'maxRoundsInFlight', 'retention', 'authority', 'grants'] as const;
const REGION_POLICY_KEYS = ['classification', 'shareTo'] as const;
const RETENTION_KEYS = ['transcriptDays', 'shareMaterial'] as const;
const GRANT_KEYS = ['federation', 'id', 'flow', 'notBefore', 'notAfter', 'signature'] as const;
const FLOW_KEYS = ['from', 'toJurisdiction', 'toRegion'] as const;
/** Upper bound of policy.maxRoundsInFlight: each round in flight holds vectors of up to maxParams elements. */
export const MAX_ROUNDS_IN_FLIGHT = 1024;
/** Upper bound of retention.transcriptDays (100 years). */
export const MAX_RETENTION_DAYS = 36_500;

function parseRegionPolicy(ctx: Ctx, v: unknown, path: string, regionId: string, jurisdictions: readonly string[]): RegionPolicy {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    // One clear way: an allow list. Say so rather than "unknown key" for the obvious alternatives.
    for (const alt of ['denyShareTo', 'deny', 'allowShareTo', 'allow']) {
      if (Object.hasOwn(v, alt)) {
        ctx.fail(
          join(path, alt),
          `not supported: list the jurisdictions that may receive shares from ${regionId} in "shareTo" (an allow list; omit it to allow every federation member), ` +
            `e.g. "shareTo": [${jurisdictions.filter((j) => j !== 'US').slice(0, 2).map((j) => JSON.stringify(j)).join(', ')}]`,
        );
      }
    }
  }
  const o = object(ctx, v, path, REGION_POLICY_KEYS);
  let classification: DataClassification = POLICY_DEFAULTS.classification;
  if (o['classification'] !== undefined) {
    const c = o['classification'];
    if (typeof c !== 'string' || !(DATA_CLASSIFICATIONS as readonly string[]).includes(c)) {
      const near = typeof c === 'string' ? suggest(c, DATA_CLASSIFICATIONS) : undefined;
      ctx.fail(
        join(path, 'classification'),
        `expected one of ${DATA_CLASSIFICATIONS.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(c)}` + (near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`),
      );
    }
    classification = c as DataClassification;
  }
  let shareTo: string[] | null = null;
  if (o['shareTo'] !== undefined) {
    const p = join(path, 'shareTo');
    const list = o['shareTo'];
    if (!Array.isArray(list)) ctx.fail(p, `expected an array of jurisdiction labels, e.g. ["EU", "CH"], got ${describe(list)}`);
    shareTo = [];
    list.forEach((j, i) => {
      const jp = `${p}[${i}]`;
      if (typeof j !== 'string') ctx.fail(jp, `expected a jurisdiction label (a string), got ${describe(j)}`);
      if (!jurisdictions.includes(j)) {
        const near = suggest(j, jurisdictions);
        ctx.fail(
          jp,
          `${JSON.stringify(j)} is the jurisdiction of no region (this federation has ${jurisdictions.join(', ')})` +
            (near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`) +
            ' Jurisdictions are compared exactly, case included',
        );
      }
      if (shareTo!.includes(j)) ctx.fail(jp, `${JSON.stringify(j)} is listed twice`);
      shareTo!.push(j);
    });
  }
  return { classification, shareTo };
}

function parseFlow(ctx: Ctx, v: unknown, path: string, ids: readonly string[], jurisdictions: readonly string[]): GrantFlow {
  const o = object(ctx, v, path, FLOW_KEYS);
  const from = required(ctx, o, 'from', path, 'add "from": "<region id>", the dealing region');
  if (typeof from !== 'string' || !ids.includes(from)) {
    ctx.fail(join(path, 'from'), `${describe(from)} is not a region id of this federation (${ids.join(', ')})`);
  }
  const hasJ = o['toJurisdiction'] !== undefined;
  const hasR = o['toRegion'] !== undefined;
  if (hasJ === hasR) ctx.fail(path, 'give exactly one of "toJurisdiction" (every region of a jurisdiction) and "toRegion" (one region)');
  if (hasR) {
    const to = o['toRegion'];
    if (typeof to !== 'string' || !ids.includes(to)) ctx.fail(join(path, 'toRegion'), `${describe(to)} is not a region id of this federation (${ids.join(', ')})`);
    return { from, toRegion: to };
  }
  const to = o['toJurisdiction'];
  if (typeof to !== 'string' || !jurisdictions.includes(to)) {
    ctx.fail(join(path, 'toJurisdiction'), `${describe(to)} is the jurisdiction of no region (this federation has ${jurisdictions.join(', ')})`);
  }
  return { from, toJurisdiction: to };
}

function parseGrant(ctx: Ctx, v: unknown, path: string, federation: string, regions: readonly { id: string; jurisdiction: string }[], authority: string): Grant {
  const o = object(ctx, v, path, GRANT_KEYS);
  const ids = regions.map((r) => r.id);
  const jurisdictions = [...new Set(regions.map((r) => r.jurisdiction))];
  const fed = required(ctx, o, 'federation', path, `add "federation": ${JSON.stringify(federation)} (grants made by 'mpc-node policy grant' have it)`);
  if (fed !== federation) ctx.fail(join(path, 'federation'), `this grant is for federation ${describe(fed)}, not ${JSON.stringify(federation)}: make a grant for this federation`);
  const id = string(ctx, required(ctx, o, 'id', path, 'add "id": "<grant id>"'), join(path, 'id'), GRANT_ID_RE, 'a grant id is 1-64 letters, digits, ".", "_" or "-"');
  const flow = parseFlow(ctx, required(ctx, o, 'flow', path, 'add "flow": { "from": "<region>", "toJurisdiction": "<label>" }'), join(path, 'flow'), ids, jurisdictions);
  const time = (key: 'notBefore' | 'notAfter', example: string): string => {
    const t = required(ctx, o, key, path, `add "${key}": "${example}"`);
    if (parseGrantTime(t) === undefined) ctx.fail(join(path, key), `expected a UTC time written exactly as "${example}", got ${describe(t)}`);
    return t as string;
  };
  const notBefore = time('notBefore', '2026-01-01T00:00:00Z');
  const notAfter = time('notAfter', '2026-12-31T23:59:59Z');
  if (parseGrantTime(notBefore)! > parseGrantTime(notAfter)!) ctx.fail(join(path, 'notAfter'), `${notAfter} is before notBefore (${notBefore})`);
  const signature = required(ctx, o, 'signature', path, "the grant is unsigned: sign it with 'mpc-node policy grant --authority-key PATH ...' and paste its output");
  if (typeof signature !== 'string' || !/^[0-9a-fA-F]{128}$/.test(signature)) {
    ctx.fail(join(path, 'signature'), `expected 128 hex characters (an Ed25519 signature from 'mpc-node policy grant'), got ${describe(signature)}`);
  }
  // verified here once: the frozen copy it returns is trusted by every later flow decision (policy/grants.ts)
  const check = verifiedGrant({ federation, regions }, authority, { federation, id, flow, notBefore, notAfter, signature: signature.toLowerCase() });
  if (!check.ok) ctx.fail(join(path, 'signature'), `${check.reason}; sign the grant again with the key of policy.authority`);
  return check.grant;
}

function parseAuthority(ctx: Ctx, v: unknown, path: string): string {
  const from = "an Ed25519 public key from 'mpc-node policy authority-keygen'";
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v)) ctx.fail(path, `expected 64 hex characters (${from}), got ${describe(v)}`);
  const hex = v.toLowerCase();
  const point = ed25519PointKind(hex);
  if (point === 'not-a-point') ctx.fail(path, `is not a valid Ed25519 public key (not a point on the curve); copy it again from the output of 'mpc-node policy authority-keygen'`);
  if (point === 'small-order') ctx.fail(path, 'is a small-order Ed25519 point, under which anyone could forge grants; run mpc-node policy authority-keygen again');
  return hex;
}

export function parsePolicy(
  ctx: Ctx,
  v: unknown,
  federation: string,
  regions: readonly { id: string; jurisdiction: string }[],
  threshold: number,
  round: RoundConfig,
): Policy {
  const path = 'policy';
  const ids = regions.map((r) => r.id);
  const jurisdictions = [...new Set(regions.map((r) => r.jurisdiction))];
  const dflt = defaultPolicy(ids);
  if (v === undefined) return dflt;
  const o = object(ctx, v, path, POLICY_KEYS);

  const regionPolicies: Record<string, RegionPolicy> = { ...dflt.regions };
  if (o['regions'] !== undefined) {
    const rp = join(path, 'regions');
    const ro = o['regions'];
    if (typeof ro !== 'object' || ro === null || Array.isArray(ro)) {
      ctx.fail(rp, `expected an object keyed by region id, e.g. { "${ids[0]}": { "classification": "personal", "shareTo": ["${regions[0]!.jurisdiction}"] } }, got ${describe(ro)}`);
    }
    for (const [id, rv] of Object.entries(ro)) {
      if (id.startsWith(COMMENT_KEY_PREFIX)) continue;
      if (!ids.includes(id)) {
        const near = suggest(id, ids);
        ctx.fail(join(rp, id), `${JSON.stringify(id)} is not a region id of this federation (${ids.join(', ')})` + (near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`));
      }
      regionPolicies[id] = parseRegionPolicy(ctx, rv, join(rp, id), id, jurisdictions);
    }
  }

  const maxTrainers = round.maxTrainersPerRound * regions.length;
  const minTrainers =
    o['minTrainers'] === undefined
      ? POLICY_DEFAULTS.minTrainers
      : integer(ctx, o['minTrainers'], join(path, 'minTrainers'), 1, maxTrainers, ` (trainer submissions summed over the contributing regions; at most round.maxTrainersPerRound x regions = ${maxTrainers})`);
  const maxRoundsInFlight =
    o['maxRoundsInFlight'] === undefined
      ? POLICY_DEFAULTS.maxRoundsInFlight
      : integer(ctx, o['maxRoundsInFlight'], join(path, 'maxRoundsInFlight'), 1, MAX_ROUNDS_IN_FLIGHT, ' (rounds one node runs at the same time)');

  let transcriptDays: number | null = POLICY_DEFAULTS.transcriptDays;
  if (o['retention'] !== undefined) {
    const rp = join(path, 'retention');
    const r = object(ctx, o['retention'], rp, RETENTION_KEYS);
    if (r['transcriptDays'] !== undefined && r['transcriptDays'] !== null) {
      transcriptDays = integer(ctx, r['transcriptDays'], join(rp, 'transcriptDays'), 1, MAX_RETENTION_DAYS, ' (days a round transcript is kept; null or omitted keeps them)');
    }
    if (r['shareMaterial'] !== undefined && r['shareMaterial'] !== SHARE_MATERIAL_ZEROIZE) {
      ctx.fail(
        join(rp, 'shareMaterial'),
        `the only accepted value is "${SHARE_MATERIAL_ZEROIZE}" (got ${describe(r['shareMaterial'])}): shares are wiped from memory when each round ends and are never written to disk; ` +
          'there is no setting that keeps them (see docs/policy.md)',
      );
    }
  }

  const authority = o['authority'] === undefined || o['authority'] === null ? null : parseAuthority(ctx, o['authority'], join(path, 'authority'));
  const grants: Grant[] = [];
  if (o['grants'] !== undefined) {
    const gp = join(path, 'grants');
    const gl = o['grants'];
    if (!Array.isArray(gl)) ctx.fail(gp, `expected an array of signed grants (from 'mpc-node policy grant'), got ${describe(gl)}`);
    if (gl.length > 0 && authority === null) {
      ctx.fail(gp, `grants need a policy authority: add "authority": "<public key from 'mpc-node policy authority-keygen'>" to "policy", or remove the grants`);
    }
    gl.forEach((g, i) => {
      const grant = parseGrant(ctx, g, `${gp}[${i}]`, federation, regions, authority!);
      const j = grants.findIndex((x) => x.id === grant.id);
      if (j !== -1) ctx.fail(`${gp}[${i}].id`, `duplicate grant id ${JSON.stringify(grant.id)}, same as ${gp}[${j}]; each grant needs its own id`);
      grants.push(grant);
    });
  }

  const policy: Policy = { regions: regionPolicies, minTrainers, maxRoundsInFlight, retention: { transcriptDays, shareMaterial: SHARE_MATERIAL_ZEROIZE }, authority, grants };

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
