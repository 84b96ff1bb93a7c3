/**
 * The locality policy as pure functions over plain data: which regions may hold shares dealt by
 * which region, signed time-limited exceptions (grants), minimum contributors and trainers,
 * rounds in flight, transcript retention, and the digest two nodes compare before a round.
 * Model and file format: docs/policy.md.
 *
 * No I/O and no clock: `now` is always an argument (milliseconds since the Unix epoch, as
 * `Date.now()` returns). Functions take a {@link PolicySubject}, the plain-data slice of a parsed
 * federation that the policy needs; a `Federation` from `federation/model.ts` is one. This
 * module imports nothing of the project but src/core (canonical JSON), so the protocol, the node
 * and the browser verifier can all use it: policy/ knows plain data only.
 *
 * Every function that decides something also returns {@link PolicyDecision} records: what a
 * node writes into the round transcript, counts in metrics and logs as a violation.
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../core/canonical-json.js';
import { ed25519Verify } from '../core/crypto.js';


// ---------------------------------------------------------------------------------------------
// Types: the parsed `policy` section of the federation file (docs/policy.md).

/** Data classifications a region may declare (closed set; `unclassified` is the default). */
export const DATA_CLASSIFICATIONS = ['unclassified', 'public', 'internal', 'confidential', 'personal'] as const;
export type DataClassification = (typeof DATA_CLASSIFICATIONS)[number];

/** The only accepted `retention.shareMaterial` value; see docs/policy.md for what it means. */
export const SHARE_MATERIAL_ZEROIZE = 'zeroize';

/** One region's locality rules. */
export interface RegionPolicy {
  /** What kind of data this region's updates are derived from (recorded; drives warnings). */
  readonly classification: DataClassification;
  /**
   * Jurisdictions whose regions may hold shares dealt by this region (an allow list), or `null`
   * for "every federation member". Regions of the dealer's own jurisdiction are always allowed.
   */
  readonly shareTo: readonly string[] | null;
}

export interface RetentionPolicy {
  /** Transcripts older than this many days are deleted by `mpc-node prune`; null keeps them. */
  readonly transcriptDays: number | null;
  /** Share material is wiped at the end of every round; the only value is "zeroize". */
  readonly shareMaterial: typeof SHARE_MATERIAL_ZEROIZE;
}

/** Where a grant lets shares go: to every region of a jurisdiction, or to one region. */
export type GrantFlow = { readonly from: string; readonly toJurisdiction: string } | { readonly from: string; readonly toRegion: string };

/** A grant before signing: the exact fields the authority's signature covers. */
export interface UnsignedGrant {
  /** Name of the federation the grant is for (a grant cannot be replayed into another one). */
  readonly federation: string;
  /** Unique id, {@link GRANT_ID_RE}; recorded in transcripts when the grant is used. */
  readonly id: string;
  readonly flow: GrantFlow;
  /** First second of validity, `YYYY-MM-DDTHH:MM:SSZ` (UTC), inclusive. */
  readonly notBefore: string;
  /** Last second of validity, `YYYY-MM-DDTHH:MM:SSZ` (UTC), inclusive. */
  readonly notAfter: string;
}

/** A signed exception to a region's `shareTo` list, valid for a named period. */
export interface Grant extends UnsignedGrant {
  /** Ed25519 signature (128 lower-case hex) by `policy.authority` over {@link grantSigningBytes}. */
  readonly signature: string;
}

/** The `policy` section of a federation, normalized: every region has an entry. */
export interface Policy {
  /** By region id; every region of the federation is present after parsing. */
  readonly regions: Readonly<Record<string, RegionPolicy>>;
  /** Fewest trainer submissions, summed over the contributing regions, a round may reveal. */
  readonly minTrainers: number;
  /** Most rounds one node runs at the same time; opening another is refused. */
  readonly maxRoundsInFlight: number;
  readonly retention: RetentionPolicy;
  /** Ed25519 public key (64 lower-case hex) of the policy authority that signs grants, or null. */
  readonly authority: string | null;
  /** Signed exceptions (signatures checked at parse time; validity periods at use time). */
  readonly grants: readonly Grant[];
}

/** What the policy functions read from a federation (a parsed `Federation` is one). */
export interface PolicySubject {
  readonly federation: string;
  readonly threshold: number;
  readonly regions: readonly { readonly id: string; readonly jurisdiction: string }[];
  /** The round configuration; hashed whole by {@link policyDigest}. */
  readonly round: { readonly minContributors: number; readonly maxParams: number; readonly maxTrainersPerRound: number };
  readonly policy: Policy;
}

/** Defaults of the `policy` section (see docs/policy.md). */
export const POLICY_DEFAULTS = Object.freeze({
  classification: 'unclassified' as DataClassification,
  minTrainers: 1,
  maxRoundsInFlight: 4,
  transcriptDays: null as number | null,
});

/** Grant ids: 1-64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit. */
export const GRANT_ID_RE: RegExp = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The one accepted time format in grants: UTC to the second, e.g. `2026-12-31T23:59:59Z`. */
export const GRANT_TIME_RE: RegExp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** Domain-separation tag in front of the canonical grant (see {@link grantSigningBytes}). */
export const GRANT_SIGNING_TAG = 'mpc-node/policy-grant/v1\0';
/** Same tag as the node and transcript use for the policy digest (compatible when the policy is default). */
export const POLICY_DIGEST_TAG = 'mpc-node/policy/v1\0';
const DAY_MS = 86_400_000;

/** The default policy for a list of region ids: open flows, defaults everywhere, no grants. */
export function defaultPolicy(regionIds: readonly string[]): Policy {
  return {
    regions: Object.fromEntries(regionIds.map((id) => [id, { classification: POLICY_DEFAULTS.classification, shareTo: null }])),
    minTrainers: POLICY_DEFAULTS.minTrainers,
    maxRoundsInFlight: POLICY_DEFAULTS.maxRoundsInFlight,
    retention: { transcriptDays: POLICY_DEFAULTS.transcriptDays, shareMaterial: SHARE_MATERIAL_ZEROIZE },
    authority: null,
    grants: [],
  };
}

/**
 * Whether `p` is exactly the default policy for these regions. A default policy is left out of
 * the federation digest and the policy digest, so files written before the policy section
 * existed keep their digests.
 */
export function isDefaultPolicy(p: Policy, regionIds: readonly string[]): boolean {
  return canonicalJson(p) === canonicalJson(defaultPolicy(regionIds));
}

// ---------------------------------------------------------------------------------------------
// Decisions

/**
 * The rule that decided. Flow rules (dealer -> holder): `self`, `same-jurisdiction`, `open` (no
 * shareTo list), `share-to` (listed, or refused for not being listed), `grant`, `unknown-region`.
 * Round rules: `min-contributors`, `min-trainers`, `max-rounds-in-flight`, `threshold`.
 */
export type PolicyRule =
  | 'self'
  | 'same-jurisdiction'
  | 'open'
  | 'share-to'
  | 'grant'
  | 'unknown-region'
  | 'min-contributors'
  | 'min-trainers'
  | 'max-rounds-in-flight'
  | 'threshold';

/**
 * One policy decision, as a transcript records it (plain JSON: no undefined, no Dates).
 * `subject` is `"<dealer>-><holder>"` for flows, else the round id or region it concerns.
 */
export interface PolicyDecision {
  readonly rule: PolicyRule;
  readonly subject: string;
  readonly outcome: 'allowed' | 'refused';
  readonly reason: string;
  /** The grant that allowed the flow, else null. */
  readonly grant: string | null;
}

// ---------------------------------------------------------------------------------------------
// Grants

/** Why a grant was refused (also the `kind` label of the grant violation metric). */
export type GrantRefusal = 'no-authority' | 'malformed' | 'wrong-federation' | 'unknown-flow' | 'unsigned' | 'bad-signature' | 'not-yet-valid' | 'expired';

export type GrantCheck = { readonly ok: true } | { readonly ok: false; readonly code: GrantRefusal; readonly reason: string };

/**
 * Parses a grant time. Only the exact form `YYYY-MM-DDTHH:MM:SSZ` is accepted (one spelling per
 * instant, so a signature covers one text) and it must be a real date (no February 30th).
 * @returns milliseconds since the epoch, or undefined if `s` is not such a time.
 * @example
 * parseGrantTime('2026-12-31T23:59:59Z'); // 1798761599000
 */
export function parseGrantTime(s: unknown): number | undefined {
  if (typeof s !== 'string' || !GRANT_TIME_RE.test(s)) return undefined;
  const ms = Date.parse(s);
  if (!Number.isFinite(ms) || formatGrantTime(ms) !== s) return undefined;
  return ms;
}

/** Formats milliseconds since the epoch as a grant time (truncated to the second). */
export function formatGrantTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * The bytes the policy authority signs:
 * `utf8("mpc-node/policy-grant/v1\0" || canonicalJson({ federation, id, flow, notBefore, notAfter }))`.
 * Only these five fields are covered; anything else in a grant object is ignored here (and
 * refused by the federation file parser).
 */
export function grantSigningBytes(g: UnsignedGrant): Uint8Array {
  return utf8ToBytes(GRANT_SIGNING_TAG + canonicalJson({ federation: g.federation, id: g.id, flow: signedFlow(g.flow), notBefore: g.notBefore, notAfter: g.notAfter }));
}

/** A flow with only its two signed fields (`from` and one of `toRegion`, `toJurisdiction`). */
function signedFlow(f: GrantFlow): GrantFlow {
  return 'toRegion' in f ? { from: f.from, toRegion: f.toRegion } : { from: f.from, toJurisdiction: f.toJurisdiction };
}

/** Structural problems of an unsigned grant (empty if none). Pure; used by signGrant and the parser. */
function grantShapeProblems(g: UnsignedGrant): string[] {
  const out: string[] = [];
  if (typeof g !== 'object' || g === null) return ['a grant is an object'];
  if (typeof g.federation !== 'string' || g.federation === '') out.push('federation must be the federation name');
  if (typeof g.id !== 'string' || !GRANT_ID_RE.test(g.id)) out.push('id must be 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit');
  const f = g.flow as Record<string, unknown> | undefined;
  if (typeof f !== 'object' || f === null || typeof f['from'] !== 'string') out.push('flow must be { "from": region, "toJurisdiction": label } or { "from": region, "toRegion": id }');
  else if (('toRegion' in f) === ('toJurisdiction' in f)) out.push('flow needs exactly one of toJurisdiction and toRegion');
  else if (typeof (f['toRegion'] ?? f['toJurisdiction']) !== 'string') out.push('flow.toRegion / flow.toJurisdiction must be a string');
  const nb = parseGrantTime(g.notBefore);
  const na = parseGrantTime(g.notAfter);
  if (nb === undefined) out.push(`notBefore must be a UTC time like "2026-01-01T00:00:00Z", got ${JSON.stringify(g.notBefore)}`);
  if (na === undefined) out.push(`notAfter must be a UTC time like "2026-12-31T23:59:59Z", got ${JSON.stringify(g.notAfter)}`);
  if (nb !== undefined && na !== undefined && nb > na) out.push(`notBefore (${g.notBefore}) is after notAfter (${g.notAfter})`);
  return out;
}

/**
 * Signs a grant with the policy authority's Ed25519 secret key (the 32-byte RFC 8032 seed).
 * Used by `mpc-node policy grant`; a node never holds the authority key.
 * @param authoritySecretKey - secret: the caller should wipe it after use.
 * @returns the grant with its `signature` (128 lower-case hex).
 * @throws {RangeError} if the key is not 32 bytes or the grant is malformed (message names the field).
 * @example
 * signGrant(sk, { federation: 'acme-fl', id: 'eu-us-2026', flow: { from: 'eu', toJurisdiction: 'US' },
 *   notBefore: '2026-01-01T00:00:00Z', notAfter: '2026-12-31T23:59:59Z' });
 */
export function signGrant(authoritySecretKey: Uint8Array, grant: UnsignedGrant): Grant {
  if (!(authoritySecretKey instanceof Uint8Array) || authoritySecretKey.length !== 32) {
    throw new RangeError('signGrant: the authority secret key must be 32 bytes (an Ed25519 seed)');
  }
  const problems = grantShapeProblems(grant);
  if (problems.length > 0) throw new RangeError(`signGrant: ${problems.join('; ')}`);
  const unsigned: UnsignedGrant = { federation: grant.federation, id: grant.id, flow: signedFlow(grant.flow), notBefore: grant.notBefore, notAfter: grant.notAfter };
  return { ...unsigned, signature: bytesToHex(ed25519.sign(grantSigningBytes(unsigned), authoritySecretKey)) };
}

/**
 * Checks a grant's form and authority signature, without looking at the time. The federation
 * file parser calls this at start-up (a badly signed grant is a config error); {@link verifyGrant}
 * adds the validity period.
 * @param authority - The authority's public key hex (policy.authority), or null.
 */
export function verifyGrantSignature(subject: Pick<PolicySubject, 'federation' | 'regions'>, authority: string | null, grant: Grant): GrantCheck {
  if (authority === null) return { ok: false, code: 'no-authority', reason: 'this federation has no policy.authority, so it accepts no grants' };
  const g = grant as Partial<Grant>;
  if (typeof g !== 'object' || g === null) return { ok: false, code: 'malformed', reason: 'a grant is a JSON object' };
  const problems = grantShapeProblems(grant);
  if (problems.length > 0) return { ok: false, code: 'malformed', reason: problems.join('; ') };
  if (grant.federation !== subject.federation) {
    return { ok: false, code: 'wrong-federation', reason: `grant ${grant.id} is for federation ${JSON.stringify(grant.federation)}, this is ${JSON.stringify(subject.federation)}` };
  }
  const ids = subject.regions.map((r) => r.id);
  if (!ids.includes(grant.flow.from)) return { ok: false, code: 'unknown-flow', reason: `grant ${grant.id}: flow.from ${JSON.stringify(grant.flow.from)} is not a region of this federation` };
  if ('toRegion' in grant.flow && !ids.includes(grant.flow.toRegion)) {
    return { ok: false, code: 'unknown-flow', reason: `grant ${grant.id}: flow.toRegion ${JSON.stringify(grant.flow.toRegion)} is not a region of this federation` };
  }
  if ('toJurisdiction' in grant.flow && !subject.regions.some((r) => r.jurisdiction === (grant.flow as { toJurisdiction: string }).toJurisdiction)) {
    return { ok: false, code: 'unknown-flow', reason: `grant ${grant.id}: flow.toJurisdiction ${JSON.stringify(grant.flow.toJurisdiction)} is the jurisdiction of no region` };
  }
  if (typeof g.signature !== 'string' || g.signature === '') return { ok: false, code: 'unsigned', reason: `grant ${grant.id} is not signed: sign it with 'mpc-node policy grant'` };
  if (!/^[0-9a-fA-F]{128}$/.test(g.signature)) return { ok: false, code: 'bad-signature', reason: `grant ${grant.id}: signature must be 128 hex characters` };
  let ok = false;
  try {
    ok = ed25519Verify(hexToBytes(authority), grantSigningBytes(grant), hexToBytes(g.signature.toLowerCase()));
  } catch {
    ok = false;
  }
  if (!ok) return { ok: false, code: 'bad-signature', reason: `grant ${grant.id}: the signature does not verify under policy.authority (altered after signing, or signed by another key)` };
  return { ok: true };
}

/**
 * Checks that a grant is signed by the federation's policy authority, names regions of this
 * federation, and is valid at `now` (notBefore <= now <= notAfter, to the second).
 * @param now - Milliseconds since the epoch.
 * @returns `{ ok: true }` or `{ ok: false, code, reason }` (reason names the grant and the fix).
 * @example
 * verifyGrant(fed, grant, Date.now()); // { ok: false, code: 'expired', reason: 'grant g1 expired at 2025-12-31T23:59:59Z' }
 */
export function verifyGrant(f: PolicySubject, grant: Grant, now: number): GrantCheck {
  const sig = verifyGrantSignature(f, f.policy.authority, grant);
  if (!sig.ok) return sig;
  const nb = parseGrantTime(grant.notBefore)!;
  const na = parseGrantTime(grant.notAfter)!;
  if (now < nb) return { ok: false, code: 'not-yet-valid', reason: `grant ${grant.id} is not valid before ${grant.notBefore}` };
  if (now > na + 999) return { ok: false, code: 'expired', reason: `grant ${grant.id} expired at ${grant.notAfter}` };
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Flows

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

// ---------------------------------------------------------------------------------------------
// Threshold feasibility (static: without grants, no clock), used by the federation parser.

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

// ---------------------------------------------------------------------------------------------
// Digest and retention

/**
 * The policy digest two nodes compare before a round (it goes into RoundParams.policy):
 * `hex SHA-256( "mpc-node/policy/v1\0" || canonicalJson(round ∪ { policy }) )`, where the
 * `policy` member is left out when the policy is the default one, so the digest of a federation
 * without a policy section equals the one nodes computed before policies existed
 * (`SHA-256(tag || canonicalJson(round))`).
 * @example
 * policyDigest(fed); // '3f1c…' (64 hex)
 */
export function policyDigest(f: PolicySubject): string {
  const ids = f.regions.map((r) => r.id);
  const body = isDefaultPolicy(f.policy, ids) ? f.round : { ...f.round, policy: f.policy };
  return bytesToHex(sha256(utf8ToBytes(POLICY_DIGEST_TAG + canonicalJson(body))));
}

/**
 * The retention cutoff: transcripts of rounds that ended before it may be deleted.
 * @param now - Milliseconds since the epoch.
 * @returns milliseconds since the epoch, or null when transcripts are kept (no transcriptDays).
 * @example
 * retentionCutoff(fed, Date.now()); // Date.now() - 90 days with "transcriptDays": 90
 */
export function retentionCutoff(f: PolicySubject, now: number): number | null {
  const days = f.policy.retention.transcriptDays;
  return days === null ? null : now - days * DAY_MS;
}
