/**
 * The verifier's report vocabulary: what a caller passes in ({@link VerifyInput}), what it gets
 * back ({@link VerifyReport}: one {@link Check} per name of {@link CHECK_NAMES}, the errors, the
 * round picture), the fixed order of the checks, the failure callback every check reports
 * through, and the detail line a check shows when it passes without a note of its own.
 * @module
 */

export interface VerifyInput {
  transcripts: Uint8Array[];
  /** Parsed federation JSON. */
  federation: unknown;
  /** Raw float32 LE as returned by POST /v1/aggregate (reduce=sum or mean). */
  result?: Uint8Array;
  /** Display names of the transcripts (file names); default `transcript[i]`. */
  names?: string[];
}
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}
export interface RoundPicture {
  round: string;
  /** The round's protocol version (version 2: seeds, fan-in of t aggregate shares). */
  protocol: 1 | 2;
  regions: { id: string; jurisdiction: string; dealt: boolean; held: boolean; dropped: boolean }[];
  flows: { from: string; to: string; kind: 'shares' | 'aggregate-share'; bytes: number }[];
  result: { digest: string; contributors: string[]; holders: string[] } | null;
}
export interface VerifyReport {
  ok: boolean;
  checks: Check[];
  errors: string[];
  picture: RoundPicture | null;
}

export const CHECK_NAMES = [
  'encoding', 'chain', 'signatures', 'parameters', 'protocol', 'receipts', 'dealer-consistency', 'decision', 'threshold', 'policy', 'consistency', 'fan-in', 'result', 'sealed', 'cross-check',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/** Records one failure of a check: `where` is the location (`<file> seq <n>`, or a file name). */
export type FailAt = (where: string, m: string) => void;

/** The detail of a passed check that left no note: what it established, in one line. */
export function defaultDetail(name: CheckName, files: readonly { entries: readonly unknown[] }[]): string {
  const n = files.reduce((s, f) => s + f.entries.length, 0);
  switch (name) {
    case 'encoding': return `${files.length} transcript(s), ${n} entries, canonical JSON lines`;
    case 'chain': return 'every entry links to the previous entry\'s hash and its hash matches its content';
    case 'signatures': return 'every entry and every embedded message verifies against the federation\'s keys';
    case 'parameters': return 'the agreed parameters match the federation file (digest, policy, threshold, encoding)';
    case 'protocol': return 'entries follow the protocol order, no duplicates';
    case 'receipts': return 'every receipt matches the dealer\'s commitment';
    case 'dealer-consistency': return 'no decision recorded: no decided dealer to check';
    case 'fan-in': return 'no consistency check recorded: no fan-in to check';
    case 'decision': return 'the decision is signed by the coordinator and every (dealer, holder) pair is backed by a receipt';
    case 'threshold': return 'holders >= t, contributors >= minContributors';
    case 'policy': return 'every share flow (commitment dealer -> holder) and every recorded policy decision agrees with the locality policy in force';
    case 'consistency': return 'the aggregate shares passed the consistency check';
    case 'result': return 'the result digest matches the recorded sum and mean digests';
    case 'sealed': return 'every holder sealed the result';
    case 'cross-check': return 'the transcripts agree on every shared entry';
  }
}
