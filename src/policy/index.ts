/**
 * The locality policy as pure functions over plain data: which regions may hold shares dealt by
 * which region, signed time-limited exceptions (grants), minimum contributors and trainers,
 * rounds in flight, transcript retention, and the digest two nodes compare before a round.
 * Model and file format: docs/policy.md.
 *
 * This is the room's public entry: it only re-exports, and every importer outside src/policy/
 * imports from here. One concern per file:
 * - `model.ts`: types, defaults, constants, the default policy, the decision record;
 * - `grants.ts`: grant times, the signing payload, signing and verification (once per grant
 *   for the grants of a parsed federation: `verifiedGrant`);
 * - `flows.ts`: may region A deal to region B, given the grants ({@link allowedHolders});
 * - `round-rules.ts`: holders a round can use, rounds in flight, minimum trainers and contributors;
 * - `feasibility.ts`: the static threshold feasibility the federation parser checks;
 * - `digest.ts`: the policy digest and the retention cutoff.
 *
 * No I/O and no clock: `now` is always an argument (milliseconds since the Unix epoch, as
 * `Date.now()` returns). Functions take a {@link PolicySubject}, the plain-data slice of a parsed
 * federation that the policy needs; a `Federation` from `federation/model.ts` is one. The room
 * imports nothing of the project but src/core (canonical JSON, Ed25519), so the protocol, the
 * node and the browser verifier can all use it: policy/ knows plain data only.
 *
 * Every function that decides something also returns {@link PolicyDecision} records: what a
 * node writes into the round transcript, counts in metrics and logs as a violation.
 * @module
 */
export {
  DATA_CLASSIFICATIONS,
  defaultPolicy,
  GRANT_ID_RE,
  GRANT_SIGNING_TAG,
  GRANT_TIME_RE,
  isDefaultPolicy,
  POLICY_DEFAULTS,
  POLICY_DIGEST_TAG,
  SHARE_MATERIAL_ZEROIZE,
  type DataClassification,
  type Grant,
  type GrantFlow,
  type Policy,
  type PolicyDecision,
  type PolicyRule,
  type PolicySubject,
  type RegionPolicy,
  type RetentionPolicy,
  type UnsignedGrant,
} from './model.js';
export { formatGrantTime, grantSigningBytes, parseGrantTime, signGrant, verifiedGrant, verifyGrant, verifyGrantSignature, type GrantCheck, type GrantRefusal } from './grants.js';
export { allowedHolders, type AllowedHolders, type HolderRefusal } from './flows.js';
export { checkMinContributors, checkMinTrainers, checkRoundsInFlight, roundHolders, type RoundHolders } from './round-rules.js';
export { FEASIBILITY_SEARCH_LIMIT, policyFeasibility, type PolicyFeasibility } from './feasibility.js';
export { digestedRound, policyDigest, retentionCutoff } from './digest.js';
