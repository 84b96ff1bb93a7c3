/**
 * Shamir dealing by forward differences, and rejection sampling of random field elements.
 *
 * For a polynomial f of degree t-1 with f(0) = secret, the forward differences
 * D_k(x) = Δ^k f(x) satisfy D_k(x+1) = D_k(x) + D_(k+1)(x), with D_(t-1) constant.
 * We draw D_1(0) .. D_(t-1)(0) uniformly: the map from the coefficients a_1..a_(t-1) to these
 * initial differences is triangular with k! on the diagonal, invertible for p > t, so the shares
 * are distributed exactly as textbook Shamir shares and ordinary Lagrange interpolation
 * reconstructs them. Evaluating at x = 1..n then costs n(t-1) additions and no multiplication.
 * @module
 */
import { fadd2, fadd, SIGN2, P2_FLIP } from './field';

/** Elements per cache block: t+n vectors of BLOCK u64 stay well inside L2. */
const BLOCK: u32 = 512;

/**
 * Deals `len` elements starting at element `offset` of each output: share x (1-based) goes to
 * the vector whose byte pointer is the (x-1)-th u32 of `outs`, at element `offset`.
 * `diffs` holds t-1 vectors of `len` uniform field elements (the initial differences,
 * D_k at diffs + (k-1) * len * 8); they are consumed (overwritten) and must be zeroised
 * by the caller afterwards. Requires 1 <= t <= n.
 * secret: reads `secret`, `diffs`; writes `outs` (every output is a share, not the secret).
 */
export function shamirDeal(secret: usize, diffs: usize, outs: usize, offset: u32, len: u32, t: u32, n: u32): void {
  const stride = <usize>len << 3;
  const outOff = <usize>offset << 3;
  for (let b: u32 = 0; b < len; b += BLOCK) {
    const m = min<u32>(BLOCK, len - b);
    const base = <usize>b << 3;
    let prev = secret + base;
    for (let x: u32 = 1; x <= n; x++) {
      const cur = <usize>load<u32>(outs + (<usize>(x - 1) << 2)) + outOff + base;
      if (t == 1) {
        memory.copy(cur, prev, <usize>m << 3);
      } else {
        // f(x) = f(x-1) + D_1(x-1); then D_k += D_(k+1) for k = 1..t-2 (ascending: uses old D_(k+1))
        addBlock(cur, prev, diffs + base, m);
        for (let k: u32 = 1; k + 1 < t; k++) {
          const dk = diffs + <usize>(k - 1) * stride + base;
          addBlock(dk, dk, dk + stride, m);
        }
      }
      prev = cur;
    }
  }
}

// @ts-ignore: decorator
@inline function addBlock(out: usize, a: usize, b: usize, m: u32): void {
  const m2 = m & ~1;
  let i: u32 = 0;
  for (; i < m2; i += 2) {
    const off = <usize>i << 3;
    v128.store(out + off, fadd2(v128.load(a + off), v128.load(b + off)));
  }
  if (i < m) {
    const off = <usize>i << 3;
    store<u64>(out + off, fadd(load<u64>(a + off), load<u64>(b + off)));
  }
}

/**
 * Rejection sampling: every word in [ptr, ptr + len) that is >= P is replaced by the next
 * spare word that is < P. Returns how many spare words were read, or -1 if the spares ran out
 * (the caller refills and tries again). A uniform 64-bit word is >= P with probability
 * (2^32 - 1) / 2^64 < 2^-32, so accepted words are exactly uniform over the field.
 */
export function rejectSample(ptr: usize, len: u32, spare: usize, spareLen: u32): i32 {
  const P: u64 = 0xFFFF_FFFF_0000_0001;
  let s: u32 = 0;
  // fast scan, two words at a time: a word >= P is rare (< 2^-32), only then fall to the scalar loop
  const n2 = len & ~1;
  let i: u32 = 0;
  for (; i < n2; i += 2) {
    const w = v128.xor(v128.load(ptr + (<usize>i << 3)), SIGN2);
    if (v128.any_true(v128.not(i64x2.lt_s(w, P2_FLIP)))) break;
  }
  for (; i < len; i++) {
    const off = ptr + (<usize>i << 3);
    if (load<u64>(off) >= P) {
      let w: u64 = P;
      while (w >= P) {
        if (s >= spareLen) return -1;
        w = load<u64>(spare + (<usize>s << 3));
        s++;
      }
      store<u64>(off, w);
    }
  }
  return <i32>s;
}
