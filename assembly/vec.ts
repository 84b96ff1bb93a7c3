/**
 * Batch field operations over vectors in linear memory. Arguments are byte pointers and
 * element counts; vectors are little-endian u64 arrays aligned to 8 bytes (16 for best SIMD).
 * `out` may alias an input. No allocation happens here.
 * @module
 */
import { fadd, fsub, fneg, fmul, fadd2, fsub2 } from './field';

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

/** sum_i a[i] * b[i]. */
export function vecDot(a: usize, b: usize, len: u32): u64 {
  let s: u64 = 0;
  for (let i: u32 = 0; i < len; i++) {
    const off = <usize>i << 3;
    s = fadd(s, fmul(load<u64>(a + off), load<u64>(b + off)));
  }
  return s;
}

/**
 * out[i] = sum_j coeffs[j] * vecs[j][i] for j < k.
 * `vecs` points at k u32 byte pointers, `coeffs` at k u64 field elements.
 * One pass over memory per output element, so it is used for Lagrange combination.
 */
export function vecLinComb(out: usize, vecs: usize, coeffs: usize, k: u32, len: u32): void {
  for (let i: u32 = 0; i < len; i++) {
    const off = <usize>i << 3;
    let s: u64 = 0;
    for (let j: u32 = 0; j < k; j++) {
      const v = <usize>load<u32>(vecs + (<usize>j << 2));
      s = fadd(s, fmul(load<u64>(v + off), load<u64>(coeffs + (<usize>j << 3))));
    }
    store<u64>(out + off, s);
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
