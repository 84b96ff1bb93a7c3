/**
 * WASM field kernels against the BigInt oracle (src/field/reference.ts), on random vectors and
 * on the edge values, plus the field laws, as fast-check properties.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as R from '../src/field/reference.js';
import { loadKernelsFresh } from '../src/field/node.js';
import type { FieldVec, WasmKernels } from '../src/field/wasm.js';
import { FieldError } from '../src/errors.js';

const P = R.P;
const EDGES = [0n, 1n, 2n, P - 1n, P - 2n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 1n, P - 2n ** 32n, 2n ** 63n, P >> 1n, (P >> 1n) + 1n];

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

const elem = fc.oneof(fc.bigInt({ min: 0n, max: P - 1n }), fc.constantFrom(...EDGES));
const vecPair = fc.integer({ min: 1, max: 67 }).chain((n) => fc.tuple(fc.array(elem, { minLength: n, maxLength: n }), fc.array(elem, { minLength: n, maxLength: n })));

function put(xs: readonly bigint[]): FieldVec {
  const v = K.alloc(xs.length);
  K.view(v).set(xs);
  return v;
}
const get = (v: FieldVec): bigint[] => Array.from(K.view(v));

describe('scalar kernels = reference', () => {
  it('add, sub, mul agree on every pair of edge values', () => {
    for (const a of EDGES) {
      for (const b of EDGES) {
        expect(BigInt.asUintN(64, K.x.fieldAdd(a, b))).toBe(R.add(a, b));
        expect(BigInt.asUintN(64, K.x.fieldSub(a, b))).toBe(R.sub(a, b));
        expect(BigInt.asUintN(64, K.x.fieldMul(a, b))).toBe(R.mul(a, b));
      }
    }
  });
  it('mul agrees on random elements', () => {
    fc.assert(fc.property(elem, elem, (a, b) => BigInt.asUintN(64, K.x.fieldMul(a, b)) === R.mul(a, b)), { numRuns: 2000 });
  });
});

describe('vector kernels = reference', () => {
  it('vecAdd / vecSub / vecNeg (SIMD lanes and odd tails)', () => {
    fc.assert(
      fc.property(vecPair, ([a, b]) => {
        const va = put(a), vb = put(b), out = K.alloc(a.length);
        K.add(out, va, vb);
        expect(get(out)).toEqual(R.vecAdd(a, b));
        K.sub(out, va, vb);
        expect(get(out)).toEqual(R.vecSub(a, b));
        K.neg(out, va);
        expect(get(out)).toEqual(R.vecNeg(a));
        [va, vb, out].forEach((v) => K.free(v));
      }),
      { numRuns: 200 },
    );
  });
  it('vecScale / vecMulAdd / vecDot / linComb', () => {
    fc.assert(
      fc.property(vecPair, elem, elem, ([a, b], c, d) => {
        const va = put(a), vb = put(b), out = K.alloc(a.length);
        K.scale(out, va, c);
        expect(get(out)).toEqual(R.vecScale(a, c));
        const acc = put(b);
        K.mulAdd(acc, va, c);
        expect(get(acc)).toEqual(R.vecMulAdd(b, a, c));
        expect(K.dot(va, vb)).toBe(R.vecDot(a, b));
        K.linComb(out, [va, vb], [c, d]);
        expect(get(out)).toEqual(R.vecAdd(R.vecScale(a, c), R.vecScale(b, d)));
        [va, vb, out, acc].forEach((v) => K.free(v));
      }),
      { numRuns: 200 },
    );
  });
  it('aliasing out = a is allowed', () => {
    const a = [P - 1n, 5n, 2n ** 32n];
    const va = put(a);
    K.add(va, va, va);
    expect(get(va)).toEqual(R.vecAdd(a, a));
  });
});

describe('field laws hold in WASM', () => {
  it('commutativity, associativity, distributivity, x - x = 0, x * x^-1 = 1', () => {
    fc.assert(
      fc.property(elem, elem, elem, (a, b, c) => {
        const mul = (x: bigint, y: bigint) => BigInt.asUintN(64, K.x.fieldMul(x, y));
        const add = (x: bigint, y: bigint) => BigInt.asUintN(64, K.x.fieldAdd(x, y));
        const sub = (x: bigint, y: bigint) => BigInt.asUintN(64, K.x.fieldSub(x, y));
        expect(add(a, b)).toBe(add(b, a));
        expect(mul(a, b)).toBe(mul(b, a));
        expect(add(add(a, b), c)).toBe(add(a, add(b, c)));
        expect(mul(mul(a, b), c)).toBe(mul(a, mul(b, c)));
        expect(mul(a, add(b, c))).toBe(add(mul(a, b), mul(a, c)));
        expect(sub(a, a)).toBe(0n);
        if (a !== 0n) expect(mul(a, R.inv(a))).toBe(1n);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('bad input', () => {
  it('rejects vectors of different lengths', () => {
    const a = K.alloc(3), b = K.alloc(4);
    expect(() => K.add(a, a, b)).toThrow(/different lengths: 3 and 4/);
  });
  it('rejects a scalar >= p', () => {
    const a = put([1n]);
    expect(() => K.scale(a, a, P)).toThrow(FieldError);
  });
  it('names the first element >= p in untrusted input', () => {
    const a = put([1n, 2n, P, P + 5n]);
    expect(K.firstNonCanonical(a)).toBe(2);
    expect(() => K.assertCanonical(a, 'share from us')).toThrow('share from us: element 2 is not a field element (>= p)');
    expect(K.firstNonCanonical(put([0n, P - 1n]))).toBe(-1);
  });
});

describe('memory', () => {
  it('views are rebuilt after memory growth', () => {
    const a = put([7n, 8n]);
    const before = K.memoryBytes;
    const big = K.alloc(1 << 20); // 8 MiB: grows memory
    expect(K.memoryBytes).toBeGreaterThan(before);
    expect(get(a)).toEqual([7n, 8n]);
    K.free(big);
  });
  it('reuses freed blocks of the same size (no growth on the second round)', () => {
    const v = K.alloc(100_000);
    K.free(v);
    const size = K.memoryBytes;
    const w = K.alloc(100_000);
    expect(w.ptr).toBe(v.ptr);
    expect(K.memoryBytes).toBe(size);
  });
});
