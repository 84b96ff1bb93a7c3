/**
 * What a region records of a round: the transcript entry kinds and their bodies (binaries as
 * lower-case hex), and the conversion of a signed peer message to its entry. The log format that
 * chains and signs these is src/transcript/log.ts. Spec: docs/transcript.md.
 *
 * Messages that another region signed (commits, receipt, decision, agg-done, seal) are stored in
 * `body` as received, with their original signature, so one transcript carries the others'
 * signatures and an auditor can check them against the federation's keys.
 * @module
 */
import { bytesToHex as hex } from '@noble/hashes/utils.js';
import type { PolicyRule } from '../policy/index.js';
import type { Entry } from '../transcript/log.js';
import type { PeerMessage } from './messages.js';
import type { RoundParams } from './params.js';

/** Entry bodies by kind (binaries as lower-case hex). */
export interface EntryBodies {
  /** The agreed parameters as this region proposed them, their digest and the policy digest. */
  params: { params: RoundParams; digest: string; policy: string };
  /** A participant whose parameters did not arrive (or match) before dealing: it is left out. */
  dropout: { region: string; phase: string; reason: string };
  /**
   * The recorder's own trainers, when its collection closed: `count` updates (its `commits.trainers`)
   * from the credentials of `ids` (sorted, distinct pseudonymous ids: 32 hex, an HMAC of the
   * credential name under a key only this node holds). Absent from transcripts before it existed.
   */
  trainers: { count: number; ids: string[] };
  commits: { dealer: string; contributes: boolean; trainers: number; digests: Record<string, string>; sig: string };
  /** `projection` (version 2): the holder's share projected on the dealer's challenge (16 hex). */
  receipt: { dealer: string; holder: string; digest: string; projection?: string; sig: string };
  /**
   * Version 2, at the coordinator: the holders' projections of `dealer`'s shares lie on no
   * polynomial of degree t-1; `off` are the holders whose points disagree (unique decoding), left
   * out of R (docs/protocol.md "Dealer consistency").
   */
  'dealer-check': { dealer: string; holders: string[]; off: string[] };
  decision: { coordinator: string; dealers: string[]; holders: string[]; sig: string };
  'agg-done': { holder: string; digest: string; sig: string };
  /** Version 2: a decided holder's aggregate share projected on the round's challenge (16 hex). */
  'agg-proj': { holder: string; projection: string; sig: string };
  /**
   * Outcome of the consistency check over the aggregate shares of `used`; with every holder's
   * agg-done in, the Fiat-Shamir `challenge` and `value` = <field result, r(challenge)> (decimal).
   * Version 2: `used` are the holders whose whole aggregate share this node combined (its
   * sources, and itself), and with `ok` true, `culprits` are holders whose projection was found
   * wrong and who were left out (the result was corrected).
   */
  check: { ok: boolean; used: string[]; culprits: string[]; challenge: string | null; value: string | null };
  result: { contributors: string[]; holders: string[]; params: number; totalWeight: number; sum: string; mean: string; digest: string };
  /** Final entry of a complete round: every holder's seal (signature over the result digest). */
  sealed: { seals: { holder: string; result: string; projection: string; sig: string }[] };
  /** Final entry when the seals did not all arrive before the deadline. */
  unsealed: { missing: string[]; reason: string };
  abort: { by: string; code: string; reason: string; culprits: string[] };
  /**
   * A locality-policy decision (docs/policy.md) as the recorder took it: `subject` is
   * "dealer->holder" for a share flow, else the round id; `at` is the time it was decided
   * (ISO 8601 UTC, milliseconds), which fixes the grants in force; `grant` names the grant used.
   */
  policy: { rule: PolicyRule; subject: string; outcome: 'allowed' | 'refused'; reason: string; grant: string | null; at: string };
}
export type EntryKind = keyof EntryBodies;
export const ENTRY_KINDS: readonly EntryKind[] = ['params', 'dropout', 'trainers', 'commits', 'receipt', 'dealer-check', 'decision', 'agg-done', 'agg-proj', 'check', 'result', 'sealed', 'unsealed', 'abort', 'policy'];

/** What the round state machine asks the node edge to record (unsigned, unchained). */
export type RecordBody = { [K in EntryKind]: { kind: K; body: EntryBodies[K] } }[EntryKind];

/** A chained, signed entry of a round transcript. */
export type RoundEntry<K extends EntryKind = EntryKind> = Entry<K, EntryBodies[K]>;

/** Converts a signed peer message to its transcript body (binaries as hex, `type`/`round` dropped). */
export function messageRecord(m: PeerMessage): RecordBody {
  switch (m.type) {
    case 'commits':
      return { kind: 'commits', body: { dealer: m.dealer, contributes: m.contributes, trainers: m.trainers, digests: Object.fromEntries(Object.keys(m.digests).sort().map((k) => [k, hex(m.digests[k]!)])), sig: hex(m.sig) } };
    case 'receipt':
      return { kind: 'receipt', body: { dealer: m.dealer, holder: m.holder, digest: hex(m.digest), ...(m.projection ? { projection: hex(m.projection) } : {}), sig: hex(m.sig) } };
    case 'agg-proj':
      return { kind: 'agg-proj', body: { holder: m.holder, projection: hex(m.projection), sig: hex(m.sig) } };
    case 'decision':
      return { kind: 'decision', body: { coordinator: m.coordinator, dealers: [...m.dealers], holders: [...m.holders], sig: hex(m.sig) } };
    case 'agg-done':
      return { kind: 'agg-done', body: { holder: m.holder, digest: hex(m.digest), sig: hex(m.sig) } };
    default:
      throw new TypeError(`messageRecord: ${m.type} is not a signed message kept in transcripts`);
  }
}
