/**
 * Protocol version 2 run in one process (runLocal): seeded shares and fan-in give the weighted
 * sum; each node sends (n-t) share vectors and t-1 aggregate shares; a dealer whose shares leave
 * its polynomial is caught before the decision; a holder that publishes a wrong aggregate share
 * is named and the result corrected (n = 5, t = 3), or the round aborts when it cannot be (n = 3).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { runLocal, type LocalNodeInput } from '../src/protocol/harness.js';
import type { RoundParams } from '../src/protocol/params.js';
import { fanInSources, fanInTargets, seededHolders } from '../src/protocol/fan-in.js';
import { maxErr, plainSum } from './support/plaintext.js';

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

const rng = (region: string) => aesCtrRandom(new Uint8Array(32).fill(region.charCodeAt(0) + 7));
const REGIONS5 = ['apac', 'eu', 'sa', 'us', 'za'];

function params(participants: string[], t: number, L: number, over: Partial<RoundParams> = {}): RoundParams {
  return {
    round: 'r2', federation: 'f'.repeat(64), policy: 'p'.repeat(64), participants, threshold: t, params: L,
    scaleBits: 16, clipL2: 1e4, clipMode: 'reject', minContributors: 1, minTrainers: 1, protocol: 2, ...over,
  };
}

function inputs(regions: string[], L: number, trainersPer = 2): LocalNodeInput[] {
  return regions.map((region, r) => ({
    region,
    updates: Array.from({ length: trainersPer }, (_, k) => ({ update: Float32Array.from({ length: L }, (_, i) => Math.cos(i * 0.7 + 10 * r + k) * 3), weight: 1 + r + k })),
  }));
}


describe('fan-in rules', () => {
  it('every dealer seeds t-1 holders and every node gets t-1 aggregate shares, balanced', () => {
    for (const [n, t] of [[3, 2], [5, 3]] as const) {
      const regions = REGIONS5.slice(0, n);
      const p = params(regions, t, 1);
      for (const d of regions) expect(seededHolders(p, d, regions)).toHaveLength(t - 1);
      for (const v of regions) expect(fanInSources(p, regions, v)).toHaveLength(t - 1);
      for (const h of regions) expect(fanInTargets(p, regions, h)).toHaveLength(t - 1);
      // each region is seeded by t-1 dealers and receives n-t full vectors
      for (const h of regions) expect(regions.filter((d) => seededHolders(p, d, regions).includes(h))).toHaveLength(t - 1);
    }
  });
  it('a non-holder gets t sources; culprits are skipped', () => {
    const p = params(REGIONS5, 3, 1);
    expect(fanInSources(p, ['eu', 'sa', 'us', 'za'], 'apac')).toHaveLength(3);
    expect(fanInSources(p, REGIONS5, 'apac', ['eu'])).not.toContain('eu');
  });
});

describe('runLocal, protocol version 2', () => {
  for (const [n, t] of [[3, 2], [5, 3]] as const) {
    it(`${n} regions, t = ${t}: the weighted sum everywhere, sealed, with n-t share vectors and t-1 aggregate shares sent per node`, () => {
      const regions = REGIONS5.slice(0, n);
      const L = 40_000; // more than two wire chunks
      const inp = inputs(regions, L);
      const out = runLocal(K, params(regions, t, L), inp, { rng });
      const want = plainSum(inp, L);
      for (const o of out) {
        expect(o.error?.message).toBeUndefined();
        expect(o.state.phase).toBe('done');
        expect(o.state.sealing?.state).toBe('sealed');
        expect(maxErr(o.result!.sum, want.sum)).toBeLessThan(2 * 2 * n * 2 ** -16 * 4);
        expect(o.result!.totalWeight).toBeCloseTo(want.weight, 6);
        const vectorBytes = (type: string) => o.sent.filter((m) => m.msg.type === type).reduce((b, m) => b + (m.msg as { data: Uint8Array }).data.length, 0);
        expect(vectorBytes('share')).toBe((n - t) * (L + 2) * 8);
        expect(vectorBytes('agg')).toBe((t - 1) * (L + 2) * 8);
        expect(o.sent.filter((m) => m.msg.type === 'seed')).toHaveLength(t - 1);
      }
    });
  }

  it('a dealer that dies after dealing is in D, not in R (5 regions, t = 3)', () => {
    const inp = inputs(REGIONS5, 100);
    const out = runLocal(K, params(REGIONS5, 3, 100), inp, { rng, faults: { deadAfterDeal: ['za'] } });
    const want = plainSum(inp, 100);
    for (const o of out.filter((o) => o.region !== 'za')) {
      expect(o.error?.message).toBeUndefined();
      expect(maxErr(o.result!.sum, want.sum)).toBeLessThan(1e-3);
      expect(o.state.decision!.dealers).toContain('za');
      expect(o.state.decision!.holders).not.toContain('za');
    }
  });

  it('a dealer whose share to one holder is off its polynomial: that holder is left out of R, the result is right (5 regions, t = 3)', () => {
    const inp = inputs(REGIONS5, 500);
    const out = runLocal(K, params(REGIONS5, 3, 500), inp, { rng, faults: { corruptShare: [{ region: 'eu', to: 'za' }] } });
    const want = plainSum(inp, 500);
    const coord = out.find((o) => o.region === 'apac')!;
    expect(coord.transcript.some((l) => l.includes('"dealer-check"') && l.includes('"off":["za"]'))).toBe(true);
    for (const o of out) {
      expect(o.error?.message).toBeUndefined();
      expect(o.state.decision!.holders).not.toContain('za');
      expect(maxErr(o.result!.sum, want.sum)).toBeLessThan(1e-3);
    }
  });

  it('at 3 regions, t = 2 an inconsistent dealer cannot be pinned on a holder: every region aborts naming the dealer, nothing revealed', () => {
    const inp = inputs(REGIONS5.slice(0, 3), 50);
    // eu seeds sa and sends apac a computed vector: the computed one leaves the polynomial
    const out = runLocal(K, params(REGIONS5.slice(0, 3), 2, 50), inp, { rng, faults: { corruptShare: [{ region: 'eu', to: 'apac' }] } });
    for (const o of out) {
      expect(o.result).toBeUndefined();
      expect(o.error?.code).toBe('PROTOCOL_INCONSISTENT_DEALER');
      expect(o.error?.culprits).toEqual(['eu']);
    }
  });

  it('a dealer whose commitment to a seeded holder is not what the seed expands to is named at once', () => {
    const inp = inputs(REGIONS5.slice(0, 3), 50);
    const out = runLocal(K, params(REGIONS5.slice(0, 3), 2, 50), inp, { rng, faults: { corruptShare: [{ region: 'eu', to: 'sa' }] } });
    for (const o of out) {
      expect(o.result).toBeUndefined();
      expect(o.error?.code).toBe('PROTOCOL_BAD_COMMITMENT');
      expect(o.error?.culprits).toEqual(['eu']);
    }
  });

  it('a holder that publishes a wrong aggregate share is named and the result corrected (5 regions, t = 3)', () => {
    const inp = inputs(REGIONS5, 300);
    const out = runLocal(K, params(REGIONS5, 3, 300), inp, { rng, faults: { corruptAggregate: [{ region: 'sa', index: 0 }] } });
    const want = plainSum(inp, 300);
    for (const o of out) {
      expect(o.error?.message).toBeUndefined();
      expect(maxErr(o.result!.sum, want.sum)).toBeLessThan(1e-3);
      expect(o.state.v2!.checked!.culprits).toEqual(['sa']);
      expect(o.state.v2!.checked!.sources).not.toContain('sa');
      expect(o.transcript.some((l) => l.includes('"kind":"check"') && l.includes('"culprits":["sa"]') && l.includes('"ok":true'))).toBe(true);
    }
    // the honest holders seal the corrected result
    expect(out.filter((o) => o.region !== 'sa').every((o) => o.state.sealing?.state === 'sealed')).toBe(true);
  });

  it('a wrong aggregate share at 3 regions, t = 2 is detected but cannot be corrected: every region aborts', () => {
    const regions = REGIONS5.slice(0, 3);
    const out = runLocal(K, params(regions, 2, 100), inputs(regions, 100), { rng, faults: { corruptAggregate: [{ region: 'eu', index: 0 }] } });
    for (const o of out) {
      expect(o.result).toBeUndefined();
      expect(o.error?.code).toBe('PROTOCOL_INCONSISTENT_AGGREGATE');
    }
  });

  describe('dropouts (5 regions, t = 3)', () => {
    const run = (faults: Parameters<typeof runLocal>[3]['faults']) => {
      const inp = inputs(REGIONS5, 200);
      return { out: runLocal(K, params(REGIONS5, 3, 200), inp, { rng, faults }), want: plainSum(inp, 200) };
    };

    it('a region dead before dealing is left out of D; the others complete', () => {
      const { out, want } = run({ deadBeforeDeal: ['us'] });
      for (const o of out) {
        expect(o.error?.message).toBeUndefined();
        expect(o.state.decision!.dealers).not.toContain('us');
        const sum = plainSum(inputs(REGIONS5, 200).filter((i) => i.region !== 'us'), 200).sum;
        expect(maxErr(o.result!.sum, sum)).toBeLessThan(1e-3);
      }
      void want;
    });

    it('a holder killed before its commitment to its aggregate share arrived: every region aborts, PROTOCOL_PEER_LOST', () => {
      const { out } = run({ kill: [{ region: 'sa', after: (m) => m.type === 'decision' }] });
      for (const o of out.filter((o) => o.region !== 'sa')) {
        expect(o.result).toBeUndefined();
        expect(o.error?.code).toBe('PROTOCOL_PEER_LOST');
      }
    });

    it('a holder killed after its commitment, before its projection: it is left out of the check and every live region completes', () => {
      // killed once its commitment went to the last of its peers (za), before its projection
      const { out, want } = run({ kill: [{ region: 'sa', after: (m, to) => m.type === 'agg-done' && m.holder === 'sa' && to === 'za' }] });
      for (const o of out.filter((o) => o.region !== 'sa')) {
        expect(o.error?.message).toBeUndefined();
        expect(maxErr(o.result!.sum, want.sum)).toBeLessThan(1e-3);
        expect(o.state.v2!.checked!.sources).not.toContain('sa');
        expect(o.state.sealing?.state).toBe('unsealed'); // sa's seal never comes
      }
    });

    it('a holder killed after its projection reached every peer: the nodes it is a source of abort (PROTOCOL_PEER_LOST), the others complete', () => {
      const { out, want } = run({ kill: [{ region: 'sa', after: (m, to) => m.type === 'agg-proj' && m.holder === 'sa' && to === 'za' }] });
      const p = params(REGIONS5, 3, 200);
      const targets = fanInTargets(p, REGIONS5, 'sa');
      for (const o of out.filter((o) => o.region !== 'sa')) {
        if (targets.includes(o.region)) {
          expect(o.error?.code, o.region).toBe('PROTOCOL_PEER_LOST');
          expect(o.result).toBeUndefined();
        } else {
          expect(o.error?.message, o.region).toBeUndefined();
          expect(maxErr(o.result!.sum, want.sum)).toBeLessThan(1e-3);
        }
      }
    });

    it('a holder killed while its projection goes out (some peers have it, some not): every live region ends, none waits for the deadline', () => {
      const { out, want } = run({ kill: [{ region: 'sa', after: (m, to) => m.type === 'agg-proj' && m.holder === 'sa' && to === 'eu' }] });
      for (const o of out.filter((o) => o.region !== 'sa')) {
        if (o.error) expect(o.error.code, o.region).toBe('PROTOCOL_PEER_LOST');
        else expect(maxErr(o.result!.sum, want.sum)).toBeLessThan(1e-3);
      }
      // the regions that never got sa's projection replaced it and completed
      for (const r of ['us', 'za']) expect(out.find((o) => o.region === r)!.result, r).toBeDefined();
    });
  });
});
