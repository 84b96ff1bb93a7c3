// Fuzz suite, trainer API: raw HTTP requests that lie in every way bench/fuzz-http.ts knows are
// written to a real node process of a real three-region federation; every reply must be the
// documented JSON error (or a legitimate answer), the node must survive, and a legitimate round
// must still give the right mean afterwards. The soak runner (bench/fuzz.ts) runs more.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkReply, httpCaseArb, requestBytes, sendRaw, type HttpCase } from '../bench/fuzz-http.js';
import { aggregateDetailed } from '../src/client/index.js';
import { waitConnected } from '../src/node/local-federation.js';
import { useFederations } from './support/federation.js';

const RUNS = Number(process.env.MPC_FUZZ_HTTP_RUNS ?? 120);
const feds = useFederations('mpc-fuzz-http-');

describe('fuzz: trainer API', { timeout: 300_000 }, () => {
  it(`${RUNS} fuzzed requests: only documented replies, the node survives, and a round still works`, async () => {
    const fed = await feds.federation(['eu', 'us', 'apac'], { threshold: 2, round: { collectMs: 200, phaseTimeoutMs: 2000, roundTimeoutMs: 4000, maxParams: 4096 } });
    await feds.start(fed);
    await waitConnected(fed);
    const eu = fed.regions.find((r) => r.id === 'eu')!;
    const secrets = [eu.token, fed.dir];
    const cases = fc.sample(httpCaseArb, { numRuns: RUNS, seed: Number(process.env.MPC_FUZZ_SEED ?? 20261203) });
    const findings: string[] = [];
    // a few at a time, as trainers would; each reply is checked on its own
    for (let i = 0; i < cases.length; i += 6) {
      await Promise.all(
        cases.slice(i, i + 6).map(async (c: HttpCase) => {
          const reply = await sendRaw(eu.apiPort, requestBytes(c, eu.token), 1500);
          try {
            checkReply(c, reply, secrets);
          } catch (e) {
            findings.push((e as Error).message);
          }
        }),
      );
    }
    expect(findings).toEqual([]);
    const proc = feds.procs.find((p) => p.region === 'eu')!;
    expect(proc.child.exitCode).toBeNull();
    // the node still serves: every region contributes to one round and gets the right mean
    await waitConnected(fed);
    const us = fed.regions.map((_, i) => Float32Array.from({ length: 64 }, (_, k) => (i + 1) * 0.01 * Math.cos(k)));
    const res = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'after-fuzz', update: us[i]!, weight: 1, expect: 1 })));
    for (const r of res) {
      for (let k = 0; k < 64; k++) expect(r.vector[k]!).toBeCloseTo((0.01 + 0.02 + 0.03) / 3 * Math.cos(k), 4);
      expect(r.contributors).toEqual(['apac', 'eu', 'us']);
    }
  });
});
