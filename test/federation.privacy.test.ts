/**
 * The federation file's `policy.privacy` (src/federation/privacy-section.ts over src/dp/): a valid
 * section is parsed and normalized, enters both digests (a file without it keeps its digests), and
 * unsafe or impossible combinations are refused, all together ("N problems:"), each naming the
 * knob to turn.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { noisePlan, roundEpsilon } from '../src/dp/index.js';
import { federationDigestHex, parseFederation } from '../src/federation/index.js';
import { policyDigest } from '../src/policy/index.js';

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const key = (seed: number): string => bytesToHex(ed25519.getPublicKey(new Uint8Array(32).fill(seed)));

function file(privacy?: S, round: S = { clipL2: 1, maxWeight: 1, maxParams: 1_000_000 }): S {
  return {
    federation: 'acme-fl',
    version: 1,
    threshold: 2,
    round,
    regions: ['eu', 'us', 'apac'].map((id, i) => ({ id, jurisdiction: id.toUpperCase(), endpoint: `ws://127.0.0.1:${7101 + i}`, publicKey: key(i + 1), api: { port: 7201 + i } })),
    ...(privacy === undefined ? {} : { policy: { privacy } }),
  };
}
const good = { delta: 1e-6, epsilonPerRound: 1, budget: { epsilon: 8, run: 'mnist-run-3:' } };

function problems(j: S): string[] {
  try {
    parseFederation(j);
  } catch (e) {
    const m = (e as Error).message;
    return /^\d+ problems:\n/.test(m) ? m.split('\n').slice(1).map((l) => l.trim()) : [m];
  }
  return [];
}

describe('policy.privacy: a valid section', () => {
  it('is parsed with its defaults, and its noise plan gives the target epsilon at maxParams', () => {
    const f = parseFederation(file(good));
    expect(f.policy.privacy).toEqual({ mechanism: 'skellam', unit: 'trainer-update', delta: 1e-6, epsilonPerRound: 1, noiseMultiplier: null, budget: { epsilon: 8, run: 'mnist-run-3:' } });
    const plan = noisePlan(f.policy.privacy!, f.round, f.round.maxParams, f.round.minContributors);
    expect(plan.epsilonRound).toBeLessThanOrEqual(1);
    expect(plan.epsilonRound).toBeGreaterThan(0.999);
    expect(plan.regionVariance * f.round.minContributors).toBeCloseTo(plan.variance, 3);
    // any minContributors regions carry the central variance: the epsilon of the sum is the target
    expect(roundEpsilon(plan.regionVariance * 2, plan.sensitivity, 1e-6)).toBeCloseTo(plan.epsilonRound, 9);
  });

  it('a noise multiplier instead of a target: sd = multiplier x L2 sensitivity', () => {
    const f = parseFederation(file({ delta: 1e-5, noiseMultiplier: 2, budget: { epsilon: 50 } }));
    const plan = noisePlan(f.policy.privacy!, f.round, 1000, f.round.minContributors);
    expect(Math.sqrt(plan.variance) / plan.sensitivity.l2).toBeCloseTo(2, 9);
    expect(f.policy.privacy!.budget.run).toBe('');
  });

  it('enters both digests; a file without it keeps the digests it had', () => {
    const plain = parseFederation(file());
    const withDp = parseFederation(file(good));
    const other = parseFederation(file({ ...good, epsilonPerRound: 2 }));
    expect(federationDigestHex(withDp)).not.toBe(federationDigestHex(plain));
    expect(federationDigestHex(withDp)).not.toBe(federationDigestHex(other));
    expect(policyDigest(withDp)).not.toBe(policyDigest(plain));
    expect(policyDigest(withDp)).not.toBe(policyDigest(other));
    // no privacy key at all: the same as a file with no policy section
    const j = file();
    j.policy = {};
    expect(federationDigestHex(parseFederation(j))).toBe(federationDigestHex(plain));
    expect('privacy' in plain.policy).toBe(false);
  });
});

describe('policy.privacy: refusals name the knob', () => {
  it('shape: exactly one target, delta range, the budget, the mechanism and the unit', () => {
    expect(problems(file({ ...good, noiseMultiplier: 1 }))).toEqual([expect.stringMatching(/^policy\.privacy: give exactly one of "epsilonPerRound" .* and "noiseMultiplier"/)]);
    expect(problems(file({ delta: 1e-6, budget: { epsilon: 1 } }))).toEqual([expect.stringMatching(/^policy\.privacy: give exactly one of/)]);
    expect(problems(file({ ...good, delta: 0.01 }))).toEqual([expect.stringMatching(/^policy\.privacy\.delta: expected a number > 0 and <= 0\.001/)]);
    expect(problems(file({ ...good, budget: { run: 'x' } }))).toEqual([expect.stringMatching(/^policy\.privacy\.budget\.epsilon: missing; add "epsilon"/)]);
    expect(problems(file({ ...good, budget: { epsilon: 8, run: 'run/1' } }))).toEqual([expect.stringMatching(/^policy\.privacy\.budget\.run: .*round-id prefix/)]);
    expect(problems(file({ ...good, mechanism: 'gaussian' }))).toEqual([expect.stringMatching(/^policy\.privacy\.mechanism: expected "skellam"/)]);
    expect(problems(file({ ...good, unit: 'record' }))).toEqual([expect.stringMatching(/^policy\.privacy\.unit: expected "trainer-update"/)]);
    expect(problems(file({ ...good, epsilon: 1 }))).toEqual([expect.stringMatching(/^policy\.privacy\.epsilon: unknown key "epsilon" \(did you mean "epsilonPerRound"\?\)/)]);
  });

  it('a round target above the whole budget', () => {
    expect(problems(file({ ...good, epsilonPerRound: 9 }))).toEqual([expect.stringMatching(/^policy\.privacy\.epsilonPerRound: 9 is more than the whole budget .* Lower epsilonPerRound or raise budget\.epsilon$/)]);
    expect(problems(file({ delta: 1e-6, noiseMultiplier: 0.3, budget: { epsilon: 2 } }))).toEqual([expect.stringMatching(/^policy\.privacy\.noiseMultiplier: one round costs epsilon .* raise noiseMultiplier or budget\.epsilon$/)]);
  });

  it('a target no noise reaches', () => {
    expect(problems(file({ ...good, epsilonPerRound: 1e-6 }))).toEqual([expect.stringMatching(/^policy\.privacy\.epsilonPerRound: .*cannot be reached.*raise epsilonPerRound or delta$/)]);
  });

  it('noise beyond the sampler (the default maxWeight 1e6 x clipL2 100 at scaleBits 16)', () => {
    expect(problems(file(good, {}))).toEqual([expect.stringMatching(/^policy\.privacy: each region's noise would have sd .* lower round\.scaleBits or round\.maxWeight x round\.clipL2 .* or raise epsilonPerRound$/)]);
  });

  it('the overflow rule counts the noise tails of every region', () => {
    // the signal alone fits 2^62 by 2^-36 of it; the noise of 3 regions (tail ~2^27) does not
    const T = 2 ** 37;
    const clipL2 = (2 ** 62 * (1 - 2 ** -36)) / (3 * T);
    const round = { clipL2, maxWeight: 1, scaleBits: 0, maxTrainersPerRound: T, maxParams: 1 };
    expect(problems(file(undefined, round))).toEqual([]);
    expect(problems(file({ delta: 1e-6, noiseMultiplier: 0.5, budget: { epsilon: 1e9 } }, round))).toEqual([
      expect.stringMatching(/^policy\.privacy: fixed-point overflow with the noise: .* noise tail of 3 regions \(20 sd \+ 100 = .*\) is 2\^62\.\d+, .* Fix: lower round\.scaleBits, round\.maxWeight or round\.clipL2, or lower noiseMultiplier$/),
    ]);
  });

  it('reports every problem of the file at once', () => {
    const j = file({ ...good, epsilonPerRound: 9 });
    j.regions[1].api.port = 7201; // the API port of regions[0] on the same machine
    const got = problems(j);
    expect(got.map((l) => l.split(':')[0])).toEqual(['regions[1].api.port', 'policy.privacy.epsilonPerRound']);
  });
});
