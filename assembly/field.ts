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
const SIGN2: v128 = i64x2(0x8000_0000_0000_0000, 0x8000_0000_0000_0000);
const P2: v128 = i64x2(0xFFFF_FFFF_0000_0001, 0xFFFF_FFFF_0000_0001);
const P2_FLIP: v128 = i64x2(0x7FFF_FFFF_0000_0001, 0x7FFF_FFFF_0000_0001);
const EPS2: v128 = i64x2(0xFFFF_FFFF, 0xFFFF_FFFF);

// @ts-ignore: decorator
@inline export function fadd2(a: v128, b: v128): v128 {
  let s = i64x2.add(a, b);
  const carry = i64x2.lt_s(v128.xor(s, SIGN2), v128.xor(a, SIGN2));
  s = i64x2.add(s, v128.and(carry, EPS2));
  const below = i64x2.lt_s(v128.xor(s, SIGN2), P2_FLIP);
  return i64x2.sub(s, v128.andnot(P2, below));
}

// @ts-ignore: decorator
@inline export function fsub2(a: v128, b: v128): v128 {
  const d = i64x2.sub(a, b);
  const borrow = i64x2.lt_s(v128.xor(a, SIGN2), v128.xor(b, SIGN2));
  return i64x2.sub(d, v128.and(borrow, EPS2));
}
