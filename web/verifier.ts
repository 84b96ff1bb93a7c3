/**
 * The page's one dependency on the verifier. Until src/verifier/index.ts (the isomorphic verifier
 * shared with `mpc-node verify`) lands, this refuses honestly instead of faking a report.
 */
import type { VerifyInput, VerifyReport } from './verifier-api.js';
export type * from './verifier-api.js';

export async function verifyRound(_input: VerifyInput): Promise<VerifyReport> {
  throw new Error('this build of the auditor has no verifier yet (src/verifier/index.ts is missing)');
}
