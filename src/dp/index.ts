/**
 * Distributed differential privacy, the building blocks: the Skellam noise sampler, the
 * mechanism's Renyi DP, the accountant and ledger, the privacy unit's sensitivity and the
 * privacy policy's noise plan (docs/privacy.md). Imports core and field only.
 * @module
 */
export { skellamNoise } from './sampler.js';
export { MAX_POISSON_MEAN } from './sampler-limits.js';
export { sensitivity, CLIP_SLACK, type PrivacyUnit, type Sensitivity } from './sensitivity.js';
export { RDP_ORDERS, skellamRdp, gaussianRdp, skellamCurve } from './skellam.js';
export { rdpToEpsilon, classicRdpToEpsilon, composedCurve, roundEpsilon, assessRound, varianceForEpsilon, type RoundSpend, type Budget, type Guarantee, type RoundAssessment } from './accountant.js';
export { noisePlan, budgetOf, noiseTail, NOISE_TAIL_SDS, NOISE_TAIL_SLACK, MAX_REGION_VARIANCE, MAX_DELTA, PRIVACY_MECHANISMS, PRIVACY_UNITS, type PrivacyPolicy, type NoisePlan } from './policy.js';
