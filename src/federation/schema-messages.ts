/**
 * The schema pass's messages that name values from elsewhere in the file: the region count in
 * the threshold's and minContributors' hints, a region's id in the keygen command its publicKey
 * message gives, the federation's name, region ids and jurisdictions in a grant's. The schema (schema.ts) owns the rules; this
 * is the per-parse error map that words their failures, from the raw file read leniently.
 * @module
 */
import type * as z from 'zod/mini';
import { describe, outOfRange } from './check.js';
import { PLACEHOLDER_PREFIX, ROUND_DEFAULTS } from './model.js';

type Issue = z.core.$ZodRawIssue;

/** The allow list is the one way to restrict flows: these keys of a region's policy get a pointer to "shareTo". */
const DENY_ALTERNATIVES: readonly string[] = ['denyShareTo', 'deny', 'allowShareTo', 'allow'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const samePath = (iss: Issue, ...want: (string | null)[]): boolean =>
  iss.path !== undefined && iss.path.length === want.length && want.every((w, i) => w === null || iss.path![i] === w);

/** True for the issues whose message {@link contextMessage} words (a schema message would outrank it). */
export function hasContextMessage(iss: Issue): boolean {
  return iss.code === 'unrecognized_keys' && samePath(iss, 'policy', 'regions', null) && DENY_ALTERNATIVES.includes(iss.keys[0]!);
}

/** What the messages quote from the file, read without trusting it. */
function factsOf(json: unknown): { n: number; ids: string[]; regionIdAt: (i: number) => string; jurisdictions: string[]; federation: string; maxTrainers: number } {
  const file = isObject(json) ? json : {};
  const regions = Array.isArray(file['regions']) ? (file['regions'] as unknown[]) : [];
  const field = (r: unknown, k: string): string | undefined => (isObject(r) && typeof r[k] === 'string' ? (r[k] as string) : undefined);
  const ids = regions.map((r) => field(r, 'id')).filter((x) => x !== undefined);
  const jurisdictions = [...new Set(regions.map((r) => field(r, 'jurisdiction')).filter((x) => x !== undefined))];
  const round = isObject(file['round']) ? file['round'] : {};
  const perRound = Number.isSafeInteger(round['maxTrainersPerRound']) ? (round['maxTrainersPerRound'] as number) : ROUND_DEFAULTS.maxTrainersPerRound;
  return {
    n: regions.length,
    ids,
    regionIdAt: (i) => field(regions[i], 'id') ?? '<region id>',
    jurisdictions,
    federation: typeof file['federation'] === 'string' ? file['federation'] : '<federation>',
    maxTrainers: perRound * regions.length,
  };
}

/** An integer field whose upper bound comes from elsewhere in the file (the bound itself: code). */
function boundedBelow(iss: Issue, max: number, hint: string): string {
  if (iss.code === 'too_small' || Number.isInteger(iss.input)) return outOfRange(iss.input, 1, max, hint);
  return `expected an integer${hint}, got ${describe(iss.input)}`;
}

function publicKeyMessage(v: unknown, regionId: string): string {
  const from = `an Ed25519 public key from 'mpc-node keygen --region ${regionId}'`;
  if (v === undefined) return `missing; add "publicKey": the hex key printed by 'mpc-node keygen --region ${regionId}'`;
  if (typeof v !== 'string') return `expected 64 hex characters (${from}), got ${describe(v)}`;
  if (v.startsWith(PLACEHOLDER_PREFIX)) {
    return `still the placeholder from 'mpc-node init': run 'mpc-node keygen --region ${regionId}' on the ${regionId} node and paste the publicKey it prints here`;
  }
  if (v.length !== 64) return `expected 64 hex characters (${from}), got ${v.length}`;
  const bad = /[^0-9a-fA-F]/.exec(v);
  return `expected 64 hex characters (${from}), found ${JSON.stringify(bad?.[0] ?? '')} at position ${bad?.index ?? 0}`;
}

/**
 * The per-parse error map of the schema pass (zod's `safeParse(data, { error })`); it words only
 * the issues the schema leaves without a message and returns undefined for every other.
 * @param json - The raw file, as given to parseFederation.
 */
export function contextMessage(json: unknown): (iss: Issue) => string | undefined {
  const f = factsOf(json);
  return (iss) => {
    if (samePath(iss, 'threshold')) {
      if (iss.input === undefined) return `missing; add "threshold": <2..${f.n}>, how many nodes it takes to reconstruct`;
      return `expected an integer from 2 to ${f.n}, got ${describe(iss.input)}`;
    }
    if (samePath(iss, 'round', 'minContributors')) return boundedBelow(iss, f.n, ` (contributing regions; this federation has ${f.n} regions)`);
    if (samePath(iss, 'policy', 'minTrainers')) {
      return boundedBelow(iss, f.maxTrainers, ` (trainer submissions summed over the contributing regions; at most round.maxTrainersPerRound x regions = ${f.maxTrainers})`);
    }
    if (samePath(iss, 'regions', null, 'publicKey')) return publicKeyMessage(iss.input, f.regionIdAt(iss.path![1] as number));
    if (samePath(iss, 'policy', 'regions')) {
      return `expected an object keyed by region id, e.g. { "${f.ids[0] ?? 'eu'}": { "classification": "personal", "shareTo": ["${f.jurisdictions[0] ?? 'EU'}"] } }, got ${describe(iss.input)}`;
    }
    if (hasContextMessage(iss)) {
      const regionId = String(iss.path![2]);
      return (
        `not supported: list the jurisdictions that may receive shares from ${regionId} in "shareTo" (an allow list; omit it to allow every federation member), ` +
        `e.g. "shareTo": [${f.jurisdictions.filter((j) => j !== 'US').slice(0, 2).map((j) => JSON.stringify(j)).join(', ')}]`
      );
    }
    if (samePath(iss, 'policy', 'grants', null, 'flow', 'from') || samePath(iss, 'policy', 'grants', null, 'flow', 'toRegion')) {
      return `${describe(iss.input)} is not a region id of this federation (${f.ids.join(', ')})`;
    }
    if (samePath(iss, 'policy', 'grants', null, 'flow', 'toJurisdiction')) {
      return `${describe(iss.input)} is the jurisdiction of no region (this federation has ${f.jurisdictions.join(', ')})`;
    }
    if (samePath(iss, 'policy', 'grants', null, 'federation')) {
      if (iss.input === undefined) return `missing; add "federation": ${JSON.stringify(f.federation)} (grants made by 'mpc-node policy grant' have it)`;
      return `this grant is for federation ${describe(iss.input)}, not ${JSON.stringify(f.federation)}: make a grant for this federation`;
    }
    return undefined;
  };
}
