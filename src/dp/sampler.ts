/**
 * The noise sampler of distributed differential privacy: symmetric Skellam noise
 * Sk(lambda, lambda) = Poisson(lambda) - Poisson(lambda) (variance 2 lambda) written into, or
 * added to, a vector of field elements, from a CSPRNG stream (`RandomFill`: a region's own
 * randomness, or a seeded AES-256-CTR stream in tests). The kernel is `skellamNoise` of
 * assembly/noise.ts; this file owns its word buffer and the refill loop. The noise is as secret
 * as the vector it is added to: the word buffer is wiped before it is freed.
 * @module
 */
import { FieldError } from '../errors.js';
import type { FieldVec, RandomFill, WasmKernels } from '../field/index.js';
import { MAX_POISSON_MEAN } from './sampler-limits.js';

/** 64-bit words per refill (512 KiB); an element takes about 4.5 words on average. */
const WORDS = 1 << 16;

/**
 * Fills `out` with Skellam noise of variance `variance` (two Poisson(variance / 2) draws per
 * element), a negative value v as p - |v|; with `add`, adds it to what `out` holds instead.
 * @throws {FieldError} FIELD_OUT_OF_RANGE when variance / 2 is not in (0, MAX_POISSON_MEAN].
 * @example
 * skellamNoise(K, vec, 2 * 1e9, nodeRandom, { add: true }); // vec += noise of std ~44721
 */
export function skellamNoise(K: WasmKernels, out: FieldVec, variance: number, rng: RandomFill, o: { add?: boolean } = {}): void {
  const lambda = variance / 2;
  if (!(lambda > 0) || !(lambda <= MAX_POISSON_MEAN)) {
    throw new FieldError('FIELD_OUT_OF_RANGE', `Skellam noise: variance must be in (0, 2^49], got ${variance}`);
  }
  const words = K.allocBytes(WORDS * 8);
  try {
    let done = 0;
    while (done < out.length) {
      rng(K.bytes(words, WORDS * 8));
      const n = K.x.skellamNoise(out.ptr + done * 8, out.length - done, words, WORDS, lambda, o.add === true ? 1 : 0);
      // a full buffer of a working CSPRNG makes ~14000 elements; none means a broken stream (e.g. all zeros)
      if (n === 0) throw new FieldError('FIELD_OUT_OF_RANGE', 'Skellam noise: 65536 random words did not make one sample; the random source is broken');
      done += n;
    }
  } finally {
    K.freeBytes(words, WORDS * 8); // wipes the words
  }
}
