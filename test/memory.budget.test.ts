/**
 * The memory budget (src/protocol/memory/budget.ts): reservations against a limit, the refusal
 * with its stable code and figures, the default from the machine's memory, and `roundMemoryBytes`
 * as an upper bound of what a whole round really allocates (every node of a runLocal round in
 * one kernel instance, its allocations watched).
 */
import { describe, expect, it } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import { defaultMemoryBudget, MemoryBudget, roundMemoryBytes, stagingBytes, WASM_BUDGET_LIMIT } from '../src/protocol/memory/budget.js';
import { runLocal } from '../src/protocol/harness.js';
import type { RoundParams } from '../src/protocol/params.js';

const MiB = 1024 * 1024;

describe('MemoryBudget', () => {
  it('reserves within the limit, refuses past it with RESOURCE_MEMORY_BUDGET and the figures, and gives bytes back once', () => {
    const b = new MemoryBudget(10 * MiB);
    const a = b.reserve(6 * MiB, 'round a of 1 parameters');
    expect(b.reserved).toBe(6 * MiB);
    let err: unknown;
    try {
      b.reserve(5 * MiB, 'round b of 300000 parameters');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'RESOURCE_MEMORY_BUDGET' });
    expect((err as Error).message).toBe("round b of 300000 parameters needs 5.0 MiB of memory; 6.0 MiB of this node's 10.0 MiB budget are in use by other rounds: retry when one ends, or raise the budget (mpc-node start --memory-budget SIZE)");
    expect(b.reserved).toBe(6 * MiB); // a refusal reserves nothing
    a.release();
    a.release(); // idempotent
    expect(b.reserved).toBe(0);
    b.reserve(10 * MiB, 'round c').release();
    // a hold keeps the bytes reserved past release (a result still being answered), until let go
    const r = b.reserve(4 * MiB, 'round d');
    const letGo = r.hold();
    r.release();
    expect(b.reserved).toBe(4 * MiB);
    letGo();
    letGo();
    expect(b.reserved).toBe(0);
    expect(() => new MemoryBudget(0)).toThrow(RangeError);
  });

  it('defaults to min(3.5 GiB, half the machine memory)', () => {
    expect(defaultMemoryBudget(4 * 1024 * MiB)).toBe(2 * 1024 * MiB);
    expect(defaultMemoryBudget(64 * 1024 * MiB)).toBe(WASM_BUDGET_LIMIT);
  });

  it('roundMemoryBytes bounds what a whole round allocates at each node; a second staging needs 4 bytes per parameter', async () => {
    const K = await loadKernelsFresh();
    let peak = 0;
    const allocBytes = K.allocBytes.bind(K);
    K.allocBytes = (n: number) => {
      const p = allocBytes(n);
      peak = Math.max(peak, K.usedBytes);
      return p;
    };
    const regions = ['apac', 'eu', 'us'];
    const L = 80_000; // more than one chunk
    const params: RoundParams = {
      round: 'r1', federation: 'f'.repeat(64), policy: 'p'.repeat(64), participants: regions, threshold: 2, params: L,
      scaleBits: 16, clipL2: 1e4, clipMode: 'reject', minContributors: 1, minTrainers: 1,
    };
    const inputs = regions.map((region, r) => ({ region, updates: [{ update: Float32Array.from({ length: L }, (_, i) => Math.sin(i + r)), weight: 1 }] }));
    const out = runLocal(K, params, inputs, { rng: (region) => aesCtrRandom(new Uint8Array(32).fill(region.charCodeAt(0))) });
    for (const o of out) expect(o.error).toBeUndefined();
    // three nodes in one instance: their peaks add up to at most three rounds' worth
    expect(peak).toBeGreaterThan(3 * 8 * L * 1.5); // more than one model-sized vector per node at once: the bound is not vacuous
    expect(peak).toBeLessThanOrEqual(3 * roundMemoryBytes(L, 3));
    expect(K.usedBytes).toBe(0); // every round vector was freed
    expect(stagingBytes(L)).toBe(4 * L);
  }, 60_000);
});
