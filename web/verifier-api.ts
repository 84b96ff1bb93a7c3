/**
 * TEMPORARY: the isomorphic verifier's API (src/verifier/index.ts), copied here so the page can be
 * built before that module lands. Replaced by a re-export of the real types.
 */
export interface VerifyInput {
  transcripts: Uint8Array[];
  federation: unknown;
  result?: Uint8Array;
}
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}
export interface RoundPicture {
  round: string;
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
