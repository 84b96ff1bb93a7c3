/**
 * The federation file, pure and browser-safe: who takes part (regions, endpoints, Ed25519 public
 * keys), the Shamir threshold, the parameters every round runs with and the locality policy.
 * Format and rules: docs/configuration.md. Reading the file from disk is `loadFederation` in
 * src/config/federation.ts; everything else about a federation lives here.
 * @module
 */
export * from './model.js';
export { suggest } from './check.js';
export { isLoopbackHost } from './regions.js';
export { overflowBudget, type OverflowHeadroom } from './round-limits.js';
export { parseFederation } from './parse.js';
export { federationDigest, federationDigestHex, regionById, regionPublicKey } from './digest.js';
export { federationSummary, summaryDifferences, summaryProblem, SUMMARY_MAX_ENTRIES, SUMMARY_MAX_PATH, SUMMARY_MAX_VALUE, type FederationSummary } from './summary.js';
export { federationWarnings, GRANT_EXPIRY_WARNING_DAYS } from './warnings.js';
