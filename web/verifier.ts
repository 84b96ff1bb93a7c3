/** The page runs the very verifier `mpc-node verify` runs (src/verifier: isomorphic, no node:*). */
export { verifyRound, CHECK_NAMES } from '../src/verifier/index.js';
export type { VerifyInput, VerifyReport, Check, RoundPicture } from '../src/verifier/index.js';
