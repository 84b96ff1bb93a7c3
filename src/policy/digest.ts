/**
 * The policy digest two nodes compare before a round (RoundParams.policy), and the transcript
 * retention cutoff (policy.retention.transcriptDays).
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../core/canonical-json.js';
import { isDefaultPolicy, POLICY_DIGEST_TAG, type PolicySubject } from './model.js';

const DAY_MS = 86_400_000;

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
  const round = digestedRound(f.round);
  const body = isDefaultPolicy(f.policy, ids) ? round : { ...round, policy: f.policy };
  return bytesToHex(sha256(utf8ToBytes(POLICY_DIGEST_TAG + canonicalJson(body))));
}

/**
 * The round section as both digests (this one and the federation digest) take it: `protocol` is
 * left out when it is 1, the default, so files from before `round.protocol` keep their digests.
 */
export function digestedRound<R extends object>(round: R): object {
  if (!('protocol' in round) || round.protocol !== 1) return round;
  const { protocol: _v1, ...rest } = round;
  return rest;
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
