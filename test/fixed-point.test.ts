/** Fixed-point encoding: round trip within 2^-f, clipping, bad values, overflow budget. */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as R from '../src/field/reference.js';
import { loadKernelsFresh } from '../src/field/node.js';
import { checkOverflowBudget, decodeVector, encodeUpdate } from '../src/field/fixed-point.js';
import type { WasmKernels } from '../src/field/wasm.js';

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});
const opts = { scaleBits: 16, clipL2: 1e6, clipMode: 'reject' as const };

describe('encode / decode', () => {
  it('matches the BigInt reference bit for bit (ties to even, negatives as p - |x|)', () => {
    const vals = new Float32Array([0, 1, -1, 0.5 / 65536, 1.5 / 65536, -2.5 / 65536, 3.25, -1234.5678, 1e-9, -0]);
    const out = K.alloc(vals.length);
    encodeUpdate(K, vals, out, opts);
    expect(Array.from(K.view(out))).toEqual(R.encodeRef(vals, 16));
  });
  it('round trip of one value is within 2^-f / 2, and of a sum of many within count * 2^-f / 2', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -1000, max: 1000, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.integer({ min: 0, max: 30 }), (xs, f) => {
        const vals = new Float32Array(xs);
        const enc = K.alloc(vals.length);
        encodeUpdate(K, vals, enc, { scaleBits: f, clipL2: 1e9, clipMode: 'reject' });
        const back = new Float64Array(vals.length);
        decodeVector(K, enc, back, f);
        vals.forEach((v, i) => expect(Math.abs(back[i]! - v)).toBeLessThanOrEqual(2 ** -f / 2));
        // sum of 5 copies
        const acc = K.allocZero(vals.length);
        for (let k = 0; k < 5; k++) K.add(acc, acc, enc);
        decodeVector(K, acc, back, f);
        vals.forEach((v, i) => expect(Math.abs(back[i]! - 5 * v)).toBeLessThanOrEqual((5 * 2 ** -f) / 2 + 1e-9 * Math.abs(v)));
        [enc, acc].forEach((v) => K.free(v));
      }),
      { numRuns: 100 },
    );
  });
  it('decodes to Float32Array, divided by a weight total', () => {
    const vals = new Float32Array([2, -4, 6]);
    const enc = K.alloc(3);
    encodeUpdate(K, vals, enc, { ...opts, weight: 3 });
    const out = new Float32Array(3);
    decodeVector(K, enc, out, 16, 6);
    expect(Array.from(out)).toEqual([1, -2, 3]);
  });
  it('clips an update with a larger L2 norm to the bound', () => {
    const vals = new Float32Array([3, 4]); // norm 5
    const enc = K.alloc(2);
    expect(encodeUpdate(K, vals, enc, { scaleBits: 20, clipL2: 1, clipMode: 'clip' })).toBeCloseTo(0.2);
    const out = new Float64Array(2);
    decodeVector(K, enc, out, 20);
    expect(out[0]).toBeCloseTo(0.6, 5);
    expect(out[1]).toBeCloseTo(0.8, 5);
  });
  it('encodes vectors longer than one chunk', () => {
    const vals = new Float32Array(150_001).map((_, i) => ((i % 200) - 100) / 8);
    const enc = K.alloc(vals.length);
    encodeUpdate(K, vals, enc, { scaleBits: 10, clipL2: 1e9, clipMode: 'reject' });
    const out = new Float32Array(vals.length);
    decodeVector(K, enc, out, 10);
    expect(out).toEqual(vals);
  });
});

describe('bad input', () => {
  it('rejects NaN and Infinity, naming the index', () => {
    const enc = K.alloc(4);
    expect(() => encodeUpdate(K, new Float32Array([1, 2, NaN, 4]), enc, opts)).toThrow('update value at index 2 is not a finite number (NaN or Infinity)');
    expect(() => encodeUpdate(K, new Float32Array([1, -Infinity, 3, 4]), enc, { ...opts, clipMode: 'clip' })).toThrow(/index 1 is not a finite/);
  });
  it('rejects an update beyond the clip bound when clipping is off', () => {
    const enc = K.alloc(2);
    expect(() => encodeUpdate(K, new Float32Array([3, 4]), enc, { scaleBits: 8, clipL2: 4.9, clipMode: 'reject' })).toThrow(/L2 norm 5\.00000 exceeds the clip bound 4\.9/);
  });
  it('rejects a length mismatch', () => {
    expect(() => encodeUpdate(K, new Float32Array(3), K.alloc(2), opts)).toThrow('update has 3 values, expected 2');
  });
  it('refuses an encoding whose worst case wraps past p/2, naming the knob', () => {
    expect(() => checkOverflowBudget({ scaleBits: 16, maxAbs: 1e6, summands: 1000 })).not.toThrow();
    expect(() => checkOverflowBudget({ scaleBits: 40, maxAbs: 1e6, summands: 1000 })).toThrow(/lower scaleBits by at least 7 \(to 33\), or divide the clip bound/);
    expect(() => checkOverflowBudget({ scaleBits: 53, maxAbs: 1, summands: 1 })).toThrow(/scaleBits must be an integer in \[0, 52\]/);
  });
});
