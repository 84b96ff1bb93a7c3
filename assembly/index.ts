/**
 * The whole WASM ABI of mpc-node's field kernels: numbers and byte pointers only.
 * Memory is managed from JavaScript (src/field/wasm.ts): this module never allocates.
 * @module
 */
export { vecAdd, vecSub, vecNeg, vecScale, vecMulAdd, vecDot, vecLinComb, vecFirstNonCanonical } from './vec';
export { shamirDeal, rejectSample } from './shamir';
export { skellamNoise } from './noise';
export { encodeF32, sumSquaresF32, decodeF64, decodeF32, decodeF32Div } from './codec';
import { fmul, fadd, fsub } from './field';

/** First byte JavaScript may use for vectors (end of static data), 16-byte aligned. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~<usize>15;
}

/** Scalar ops, for tests and one-off use (u64 crosses to JS as BigInt: never in a loop). */
export function fieldMul(a: u64, b: u64): u64 { return fmul(a, b); }
export function fieldAdd(a: u64, b: u64): u64 { return fadd(a, b); }
export function fieldSub(a: u64, b: u64): u64 { return fsub(a, b); }
