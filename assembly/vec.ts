/**
 * Batch field operations over vectors in linear memory. Arguments are byte pointers and
 * element counts; vectors are little-endian u64 arrays aligned to 8 bytes (16 for best SIMD).
 * `out` may alias an input. No allocation happens here.
 * @module
 */
import { fadd, fsub, fneg, fmul, fadd2, fsub2, LAZY_TERMS, lo32x2, reduceLimbs2 } from './field';

export function vecAdd(out: usize, a: usize, b: usize, len: u32): void {
  const n2 = len & ~1;
  let i: u32 = 0;
  for (; i < n2; i += 2) {
    const off = <usize>i << 3;
    v128.store(out + off, fadd2(v128.load(a + off), v128.load(b + off)));
  }
  if (i < len) {
    const off = <usize>i << 3;
    store<u64>(out + off, fadd(load<u64>(a + off), load<u64>(b + off)));
  }
}

export function vecSub(out: usize, a: usize, b: usize, len: u32): void {
  const n2 = len & ~1;
  let i: u32 = 0;
  for (; i < n2; i += 2) {
    const off = <usize>i << 3;
    v128.store(out + off, fsub2(v128.load(a + off), v128.load(b + off)));
  }
  if (i < len) {
    const off = <usize>i << 3;
    store<u64>(out + off, fsub(load<u64>(a + off), load<u64>(b + off)));
  }
}

export function vecNeg(out: usize, a: usize, len: u32): void {
  for (let i: u32 = 0; i < len; i++) {
    const off = <usize>i << 3;
    store<u64>(out + off, fneg(load<u64>(a + off)));
  }
}

/** out[i] = c * a[i]. */
export function vecScale(out: usize, a: usize, c: u64, len: u32): void {
  for (let i: u32 = 0; i < len; i++) {
    const off = <usize>i << 3;
    store<u64>(out + off, fmul(load<u64>(a + off), c));
  }
}

/** acc[i] = acc[i] + c * a[i]. */
export function vecMulAdd(acc: usize, a: usize, c: u64, len: u32): void {
  for (let i: u32 = 0; i < len; i++) {
    const off = <usize>i << 3;
    store<u64>(acc + off, fadd(load<u64>(acc + off), fmul(load<u64>(a + off), c)));
  }
}

/**
 * sum_i a[i] * b[i]. Lazy reduction (see LAZY_TERMS in field.ts): products are accumulated as
 * unreduced 32-bit limbs, two elements per step with i32x4 extended multiplies, and reduced
 * once per LAZY_TERMS elements per lane.
 */
export function vecDot(a: usize, b: usize, len: u32): u64 {
  let total: u64 = 0;
  let i: u32 = 0;
  const n2 = len & ~1;
  while (i < n2) {
    const end = min<u32>(n2, i + (LAZY_TERMS << 1));
    let a0 = i64x2.splat(0), a1 = i64x2.splat(0), a2 = i64x2.splat(0), a3 = i64x2.splat(0);
    for (; i < end; i += 2) {
      const off = <usize>i << 3;
      // [x0l, x0h, x1l, x1h] -> [x0l, x1l, x0h, x1h]; y also as [y0h, y1h, y0l, y1l]
      const x = i32x4.shuffle(v128.load(a + off), v128.load(a + off), 0, 2, 1, 3);
      const yv = v128.load(b + off);
      const y = i32x4.shuffle(yv, yv, 0, 2, 1, 3);
      const ys = i32x4.shuffle(yv, yv, 1, 3, 0, 2);
      const p00 = i64x2.extmul_low_i32x4_u(x, y);
      const p11 = i64x2.extmul_high_i32x4_u(x, y);
      const p01 = i64x2.extmul_low_i32x4_u(x, ys); // x_lo * y_hi
      const p10 = i64x2.extmul_high_i32x4_u(x, ys); // x_hi * y_lo
      a0 = i64x2.add(a0, lo32x2(p00));
      a1 = i64x2.add(a1, i64x2.add(i64x2.shr_u(p00, 32), i64x2.add(lo32x2(p01), lo32x2(p10))));
      a2 = i64x2.add(a2, i64x2.add(lo32x2(p11), i64x2.add(i64x2.shr_u(p01, 32), i64x2.shr_u(p10, 32))));
      a3 = i64x2.add(a3, i64x2.shr_u(p11, 32));
    }
    const r = reduceLimbs2(a0, a1, a2, a3);
    total = fadd(total, fadd(i64x2.extract_lane(r, 0), i64x2.extract_lane(r, 1)));
  }
  if (i < len) {
    const off = <usize>i << 3;
    total = fadd(total, fmul(load<u64>(a + off), load<u64>(b + off)));
  }
  return total;
}

/**
 * out[i] = sum_j coeffs[j] * vecs[j][i] for j < k.
 * `vecs` points at k u32 byte pointers, `coeffs` at k u64 field elements.
 * One pass over memory per output element, so it is used for Lagrange combination.
 * Two elements per step: each coefficient is split into 32-bit halves (splatted), each pair of
 * vector elements into [lo, lo, hi, hi] lanes, and the four partial products per element come
 * from i32x4 extended multiplies; they are accumulated unreduced (see LAZY_TERMS in field.ts)
 * and reduced once per element, instead of k modular multiplications and additions.
 */
export function vecLinComb(out: usize, vecs: usize, coeffs: usize, k: u32, len: u32): void {
  // more than LAZY_TERMS vectors: combine them in groups, adding each group's result to out
  for (let j0: u32 = 0; j0 < k; j0 += LAZY_TERMS) {
    const j1 = min<u32>(k, j0 + LAZY_TERMS);
    const accumulate = j0 > 0;
    const n2 = len & ~1;
    let i: u32 = 0;
    for (; i < n2; i += 2) {
      const off = <usize>i << 3;
      let a0 = i64x2.splat(0), a1 = i64x2.splat(0), a2 = i64x2.splat(0), a3 = i64x2.splat(0);
      for (let j = j0; j < j1; j++) {
        const v = <usize>load<u32>(vecs + (<usize>j << 2));
        const c = coeffs + (<usize>j << 3);
        const cl = v128.load32_splat(c);
        const ch = v128.load32_splat(c + 4);
        const xv = v128.load(v + off);
        const x = i32x4.shuffle(xv, xv, 0, 2, 1, 3); // [x0l, x1l, x0h, x1h]
        const p00 = i64x2.extmul_low_i32x4_u(x, cl);
        const p10 = i64x2.extmul_high_i32x4_u(x, cl); // x_hi * c_lo
        const p01 = i64x2.extmul_low_i32x4_u(x, ch); // x_lo * c_hi
        const p11 = i64x2.extmul_high_i32x4_u(x, ch);
        a0 = i64x2.add(a0, lo32x2(p00));
        a1 = i64x2.add(a1, i64x2.add(i64x2.shr_u(p00, 32), i64x2.add(lo32x2(p01), lo32x2(p10))));
        a2 = i64x2.add(a2, i64x2.add(lo32x2(p11), i64x2.add(i64x2.shr_u(p01, 32), i64x2.shr_u(p10, 32))));
        a3 = i64x2.add(a3, i64x2.shr_u(p11, 32));
      }
      let r = reduceLimbs2(a0, a1, a2, a3);
      if (accumulate) r = fadd2(r, v128.load(out + off));
      v128.store(out + off, r);
    }
    if (i < len) {
      const off = <usize>i << 3;
      let s: u64 = accumulate ? load<u64>(out + off) : 0;
      for (let j = j0; j < j1; j++) {
        const v = <usize>load<u32>(vecs + (<usize>j << 2));
        s = fadd(s, fmul(load<u64>(v + off), load<u64>(coeffs + (<usize>j << 3))));
      }
      store<u64>(out + off, s);
    }
  }
}

/**
 * Index of the first element >= P, or -1 when every element is canonical.
 * Used on untrusted input after decoding, before any kernel sees it.
 */
export function vecFirstNonCanonical(a: usize, len: u32): i32 {
  const P: u64 = 0xFFFF_FFFF_0000_0001;
  for (let i: u32 = 0; i < len; i++) {
    if (load<u64>(a + (<usize>i << 3)) >= P) return <i32>i;
  }
  return -1;
}
