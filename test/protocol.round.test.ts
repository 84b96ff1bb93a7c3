/**
 * The round protocol run in one process (runLocal): correct results, dropouts, mismatches,
 * a wrong aggregate share, and below-minimum rounds. No sockets: step() is pure.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { runLocal, type LocalNodeInput } from '../src/protocol/harness.js';
import type { RoundParams } from '../src/protocol/params.js';
import { maxErr, plainSum } from './support/plaintext.js';

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

const rng = (region: string) => aesCtrRandom(new Uint8Array(32).fill(region.charCodeAt(0)));
const REGIONS5 = ['apac', 'eu', 'sa', 'us', 'za'];

function params(participants: string[], t: number, L: number, over: Partial<RoundParams> = {}): RoundParams {
  return {
    round: 'r1', federation: 'f'.repeat(64), policy: 'p'.repeat(64), participants, threshold: t, params: L,
    scaleBits: 16, clipL2: 1e4, clipMode: 'reject', minContributors: 1, minTrainers: 1, ...over,
  };
}

function inputs(regions: string[], L: number, trainersPer = 2): LocalNodeInput[] {
  return regions.map((region, r) => ({
    region,
    updates: Array.from({ length: trainersPer }, (_, k) => ({
      update: Float32Array.from({ length: L }, (_, i) => Math.sin(i + 10 * r + k) * 3),
      weight: 1 + r + k,
    })),
  }));
}


describe('runLocal round', () => {
  for (const [n, t] of [[3, 2], [5, 3]] as const) {
    it(`${n} regions, t = ${t}: every region gets the weighted sum within the fixed-point error`, () => {
      const regions = REGIONS5.slice(0, n);
      const L = 70_000; // more than one chunk
      const inp = inputs(regions, L);
      const out = runLocal(K, params(regions, t, L), inp, { rng });
      const want = plainSum(inp, L);
      for (const o of out) {
        expect(o.error).toBeUndefined();
        expect(o.state.phase).toBe('done');
        expect(maxErr(o.result!.sum, want.sum)).toBeLessThan(2 * 2 * n * 2 ** -16 * 4);
        expect(o.result!.totalWeight).toBeCloseTo(want.weight, 6);
      }
    });
  }

  it('a region that dies after dealing still counts (5 regions, t = 3)', () => {
    const inp = inputs(REGIONS5, 100);
    const out = runLocal(K, params(REGIONS5, 3, 100), inp, { rng, faults: { deadAfterDeal: ['za'] } });
    const want = plainSum(inp, 100);
    const alive = out.filter((o) => o.region !== 'za');
    for (const o of alive) {
      expect(o.error?.message).toBeUndefined();
      expect(maxErr(o.result!.sum, want.sum)).toBeLessThan(1e-3);
    }
    expect(alive[0]!.state.decision!.dealers).toContain('za');
    expect(alive[0]!.state.decision!.holders).not.toContain('za');
  });

  it('a region dead before dealing is excluded when the minimum is still met', () => {
    const inp = inputs(REGIONS5, 50);
    const out = runLocal(K, params(REGIONS5, 3, 50, { minContributors: 3 }), inp, { rng, faults: { deadBeforeDeal: ['us'] } });
    const want = plainSum(inp.filter((i) => i.region !== 'us'), 50);
    for (const o of out) {
      expect(o.error?.message).toBeUndefined();
      expect(maxErr(o.result!.sum, want.sum)).toBeLessThan(1e-3);
      expect(o.state.decision!.dealers).toEqual(['apac', 'eu', 'sa', 'za']);
    }
  });

  it('aborts cleanly, revealing nothing, when dropouts leave fewer than the minimum contributors', () => {
    const inp = inputs(REGIONS5, 50);
    const out = runLocal(K, params(REGIONS5, 3, 50, { minContributors: 5 }), inp, { rng, faults: { deadBeforeDeal: ['us'] } });
    for (const o of out) {
      expect(o.result).toBeUndefined();
      expect(o.error!.message).toMatch(/only 4 region\(s\) contributed .* the policy requires 5: nothing is revealed/);
      expect(o.sent.some((m) => m.msg.type === 'agg')).toBe(false);
    }
  });

  it('aborts on a parameter mismatch before anything secret is sent, naming the field', () => {
    const regions = REGIONS5.slice(0, 3);
    const out = runLocal(K, params(regions, 2, 20), inputs(regions, 20), { rng, faults: { params: { eu: { scaleBits: 20 } } } });
    for (const o of out) {
      expect(o.result).toBeUndefined();
      expect(o.error!.message).toMatch(/scaleBits/);
      expect(o.sent.filter((m) => m.msg.type === 'share')).toEqual([]);
    }
  });

  it.each([
    [300, 123],
    // wire chunks (8192 elements) and projection chunks (65536) split differently: an error in
    // the second projection chunk, inside a later wire chunk
    [140_000, 65_536 + 8_192 - 3],
  ])('refuses to return a wrong result when a region publishes a wrong aggregate share, and names it (params %i, element %i)', (L, index) => {
    const inp = inputs(REGIONS5, L);
    const out = runLocal(K, params(REGIONS5, 3, L), inp, { rng, faults: { corruptAggregate: [{ region: 'sa', index }] } });
    // every honest region refuses (the corrupting one sees only its own, consistent, view)
    for (const o of out.filter((o) => o.region !== 'sa')) {
      expect(o.result).toBeUndefined();
      // the same code whether this region found it or was told (docs/protocol.md, "Dropouts and aborts")
      expect(o.error!.code).toBe('PROTOCOL_INCONSISTENT_AGGREGATE');
      expect(o.error!.culprits).toEqual(['sa']);
    }
  });

  it('a region without trainers holds shares but does not count as a contributor', () => {
    const regions = REGIONS5.slice(0, 3);
    const inp = inputs(regions, 10);
    inp[1]!.updates = [];
    const out = runLocal(K, params(regions, 2, 10), inp, { rng });
    for (const o of out) {
      expect(o.state.decision!.dealers).toEqual(['apac', 'sa']);
      expect(maxErr(o.result!.sum, plainSum(inp, 10).sum)).toBeLessThan(1e-3);
    }
  });
});
