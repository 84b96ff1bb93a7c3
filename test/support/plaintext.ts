/**
 * The plaintext side of the round tests: the weighted sum or mean a round must return, and the
 * largest element-wise error of a result against it.
 */
import type { LocalNodeInput } from '../../src/protocol/harness.js';

/** The weighted sum of every update of `inp` (length `L`) and the total weight. */
export function plainSum(inp: LocalNodeInput[], L: number): { sum: Float64Array; weight: number } {
  const sum = new Float64Array(L);
  let weight = 0;
  for (const n of inp) for (const u of n.updates) {
    weight += u.weight;
    u.update.forEach((v, i) => (sum[i]! += v * u.weight));
  }
  return { sum, weight };
}

/** The weighted mean of `us` with weights `ws`. */
export function weightedMean(us: Float32Array[], ws: number[]): Float64Array {
  const W = ws.reduce((a, b) => a + b, 0);
  const out = new Float64Array(us[0]!.length);
  us.forEach((u, k) => u.forEach((v, i) => (out[i]! += (v * ws[k]!) / W)));
  return out;
}

/** max_i |a[i] - b[i]|. */
export const maxErr = (a: Float32Array, b: Float64Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
