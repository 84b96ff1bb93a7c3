/**
 * The locality policy's data model: the parsed `policy` section of the federation file (region
 * rules, retention, grants as data), the {@link PolicySubject} slice of a federation every rule
 * reads, the defaults and the default policy, the constants (grant id and time formats, the
 * signing and digest tags), and the {@link PolicyDecision} record every rule returns.
 * Model and file format: docs/policy.md.
 *
 * The policy room (src/policy/) is pure: no I/O, no clock (`now` is always an argument,
 * milliseconds since the Unix epoch), and it imports nothing of the project but src/core, so
 * the protocol, the node and the browser verifier can all use it.
 * @module
 */
import { canonicalJson } from '../core/canonical-json.js';
import type { PrivacyPolicy } from '../dp/policy.js';

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
  /**
   * Distributed differential privacy (docs/privacy.md); absent (not null) when the file has no
   * `policy.privacy`, so the default policy and the digests of files without it are unchanged.
   */
  readonly privacy?: PrivacyPolicy;
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
