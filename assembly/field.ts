/**
 * Goldilocks field arithmetic on u64: p = 2^64 - 2^32 + 1 (Prio3's Field64).
 *
 * Every function takes canonical inputs (< P) and returns canonical outputs. Nothing here
 * checks that: callers validate untrusted elements in TypeScript before they reach WASM
 * (an AS `assert` vanishes under --noAssert, a range check in TS does not).
 *
 * Constant-time: these are straight-line code on u64 with `select`, no secret-dependent
 * branches or memory indices; V8 may still compile `select` to a branch, so treat the WASM
 * kernels as "no intended timing leak", not as a verified constant-time implementation.
 * @module
 */

/** p = 2^64 - 2^32 + 1. */
export const P: u64 = 0xFFFF_FFFF_0000_0001;
/** 2^64 mod p = 2^32 - 1: what a carry out of bit 63 is worth. */
export const EPS: u64 = 0xFFFF_FFFF;
const LO32: u64 = 0xFFFF_FFFF;

// @ts-ignore: decorator
@inline export function fadd(a: u64, b: u64): u64 {
  let s = a + b;
  // carry out of 2^64: add back 2^64 mod p (cannot overflow again, a + b - p < p)
  s = select<u64>(s + EPS, s, s < a);
  return select<u64>(s - P, s, s >= P);
}

// @ts-ignore: decorator
@inline export function fsub(a: u64, b: u64): u64 {
  const d = a - b;
  // borrow: d = a - b + 2^64, we want a - b + p = d - (2^64 - p)
  return select<u64>(d - EPS, d, a < b);
}

// @ts-ignore: decorator
@inline export function fneg(a: u64): u64 {
  return select<u64>(P - a, 0, a != 0);
}

/**
 * Reduces hi * 2^64 + lo modulo p.
 * With hi = hh * 2^32 + hl: 2^64 = 2^32 - 1 and 2^96 = -1 (mod p), so
 * x = lo - hh + hl * (2^32 - 1) (mod p).
 */
// @ts-ignore: decorator
@inline export function reduce128(hi: u64, lo: u64): u64 {
  const hh = hi >> 32;
  const hl = hi & LO32;
  let t0 = lo - hh;
  t0 = select<u64>(t0 - EPS, t0, lo < hh); // borrow: t0 >= 2^64 - 2^32 > EPS, no underflow
  const t1 = (hl << 32) - hl; // hl * (2^32 - 1) < 2^64
  let r = t0 + t1;
  r = select<u64>(r + EPS, r, r < t1); // carry: r + EPS < 2^64 (bounded by the ranges above)
  return select<u64>(r - P, r, r >= P);
}

/** High 64 bits of the 128-bit product a * b (four 32x32 partial products; WASM has no umulh). */
// @ts-ignore: decorator
@inline export function mulhi(a: u64, b: u64): u64 {
  const a0 = a & LO32, a1 = a >> 32;
  const b0 = b & LO32, b1 = b >> 32;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & LO32) + (p10 & LO32); // < 3 * 2^32
  return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

// @ts-ignore: decorator
@inline export function fmul(a: u64, b: u64): u64 {
  return reduce128(mulhi(a, b), a * b);
}

// ---- SIMD (two lanes of u64) ----
// WASM SIMD has no unsigned 64-bit compare: flip the sign bit and compare signed.
// Plain consts: `@inline const X: v128` crashes asc 0.28.20 (see shared WASM-NOTES).
export const SIGN2: v128 = i64x2(0x8000_0000_0000_0000, 0x8000_0000_0000_0000);
const P2: v128 = i64x2(0xFFFF_FFFF_0000_0001, 0xFFFF_FFFF_0000_0001);
export const P2_FLIP: v128 = i64x2(0x7FFF_FFFF_0000_0001, 0x7FFF_FFFF_0000_0001);
const EPS2: v128 = i64x2(0xFFFF_FFFF, 0xFFFF_FFFF);

/**
 * a + b as a - (p - b): p - b is in (0, p], and a - (p - b) borrows exactly when a + b < p,
 * in which case adding p back is subtracting EPS mod 2^64. Computed on sign-flipped values
 * (x ^ 2^63) so the unsigned compare is a signed one: a' = a ^ 2^63, nb' = (p - b) ^ 2^63
 * = (p ^ 2^63) - b, and a - (p - b) = a' - nb' (mod 2^64). Six operations instead of the ten
 * of carry detection plus a conditional subtraction of p; canonical in, canonical out.
 */
// @ts-ignore: decorator
@inline export function fadd2(a: v128, b: v128): v128 {
  const af = v128.xor(a, SIGN2);
  const nbf = i64x2.sub(P2_FLIP, b);
  const borrow = i64x2.lt_s(af, nbf);
  return i64x2.sub(i64x2.sub(af, nbf), v128.and(borrow, EPS2));
}

// @ts-ignore: decorator
@inline export function fsub2(a: v128, b: v128): v128 {
  const d = i64x2.sub(a, b);
  const borrow = i64x2.lt_s(v128.xor(a, SIGN2), v128.xor(b, SIGN2));
  return i64x2.sub(d, v128.and(borrow, EPS2));
}

// ---- lazy reduction for sums of products (linear combinations, dot products) ----
// A product a * b of u64s is split into 32-bit limbs of its four 32x32 partial products and
// accumulated, unreduced, in four u64 "limb accumulators" worth 2^0, 2^32, 2^64 and 2^96:
//   a0 += lo(p00);  a1 += hi(p00) + lo(p01) + lo(p10);  a2 += hi(p01) + hi(p10) + lo(p11);
//   a3 += hi(p11)   (pXY = aX * bY, X/Y = 0 for the low, 1 for the high 32 bits).
// Each term adds < 3 * 2^32 to an accumulator, so up to LAZY_TERMS = 2^16 terms stay below
// 2^51 and one reduction (reduceLimbs2) replaces k full modular multiplications and additions.
export const LAZY_TERMS: u32 = 1 << 16;
const LO32_2: v128 = i64x2(0xFFFF_FFFF, 0xFFFF_FFFF);

/**
 * (a0 + a1 * 2^32 + a2 * 2^64 + a3 * 2^96) mod p, two lanes, for accumulators < 2^52.
 * 2^64 = 2^32 - 1 and 2^96 = -1 (mod p); with s = a1 + a2 = sh * 2^32 + sl:
 * value = (sl << 32) + a0 + (sh << 32) - sh - a2 - a3 (mod p). x = sl << 32 < 2^64 and
 * y = a0 + (sh << 32) < 2^53: a carry out of x + y is worth EPS; z = sh + a2 + a3 < 2^53 is
 * subtracted with a borrow worth -EPS (then the result is already below p), else one
 * conditional subtraction of p makes it canonical.
 */
// @ts-ignore: decorator
@inline export function reduceLimbs2(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const s = i64x2.add(a1, a2);
  const sh = i64x2.shr_u(s, 32);
  const x = i64x2.shl(s, 32);
  const y = i64x2.add(a0, i64x2.shl(sh, 32));
  const z = i64x2.add(i64x2.add(sh, a2), a3);
  let r = i64x2.add(x, y);
  const rf = v128.xor(r, SIGN2);
  const carry = i64x2.lt_s(rf, v128.xor(x, SIGN2));
  r = i64x2.add(r, v128.and(carry, EPS2));
  const borrow = i64x2.lt_s(v128.xor(r, SIGN2), v128.xor(z, SIGN2));
  let d = i64x2.sub(i64x2.sub(r, z), v128.and(borrow, EPS2));
  const below = i64x2.lt_s(v128.xor(d, SIGN2), P2_FLIP);
  return i64x2.sub(d, v128.andnot(P2, below));
}

/** Low 32 bits of each u64 lane. */
// @ts-ignore: decorator
@inline export function lo32x2(x: v128): v128 {
  return v128.and(x, LO32_2);
}
