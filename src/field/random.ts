/**
 * Randomness for the kernels: a `RandomFill` writes cryptographically secure bytes into a
 * buffer (usually a view of WASM memory, so nothing is copied). Never Math.random.
 *
 * `webRandom` works everywhere (Web Crypto); src/field/random-node.ts adds faster Node sources
 * and a seeded AES-256-CTR stream for reproducible test vectors.
 * @module
 */
import type { WasmKernels } from './wasm.js';

/** Fills `buf` with random bytes. */
export type RandomFill = (buf: Uint8Array) => void;

const WEB_CRYPTO_MAX = 65536; // getRandomValues refuses more per call

/** Web Crypto `getRandomValues`, in 64 KiB calls. */
export const webRandom: RandomFill = (buf) => {
  for (let o = 0; o < buf.length; o += WEB_CRYPTO_MAX) {
    globalThis.crypto.getRandomValues(buf.subarray(o, Math.min(buf.length, o + WEB_CRYPTO_MAX)));
  }
};

const SPARE_WORDS = 64;

/**
 * Writes `count` uniform field elements at byte pointer `ptr` of WASM memory.
 * Rejection sampling: a 64-bit word >= p (probability < 2^-32) is replaced by a spare word,
 * so the output is exactly uniform over [0, p).
 */
export function sampleField(K: WasmKernels, ptr: number, count: number, rng: RandomFill): void {
  const spare = K.allocBytes(SPARE_WORDS * 8);
  try {
    rng(K.bytes(ptr, count * 8));
    rng(K.bytes(spare, SPARE_WORDS * 8));
    let done = 0;
    // rejectSample stops at the first word it cannot replace; rerun from there with fresh spares
    for (;;) {
      const r = K.x.rejectSample(ptr + done * 8, count - done, spare, SPARE_WORDS);
      if (r >= 0) break;
      // spares exhausted (probability ~2^-2000): find how far it got, refill, continue
      const view = K.view({ ptr, length: count });
      while (done < count && view[done]! < 0xffff_ffff_0000_0001n) done++;
      rng(K.bytes(spare, SPARE_WORDS * 8));
    }
  } finally {
    K.bytes(spare, SPARE_WORDS * 8).fill(0);
    K.freeBytes(spare, SPARE_WORDS * 8);
  }
}
