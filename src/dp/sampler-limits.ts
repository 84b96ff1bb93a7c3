/**
 * The sampler's one limit, apart from the sampler so that pure code (the policy checks, the
 * auditor) can name it without the WASM wrapper.
 * @module
 */

/** Largest Poisson mean the kernel takes: its samples are doubles, exact integers below 2^53. */
export const MAX_POISSON_MEAN = 2 ** 48;
