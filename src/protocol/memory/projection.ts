/**
 * The random linear form of the consistency checks, r = s_k * b_i for element i of chunk k (of
 * CHUNK_ELEMS elements): one chunk-sized random vector b and one random scalar per chunk.
 *
 * Soundness (Schwartz-Zippel): for an error vector e != 0, sum_k s_k <b, e_k> is a non-zero
 * polynomial of degree 2 in the random values, so it vanishes with probability <= 2/p. Costs one
 * dot product per chunk and 8 x (CHUNK + chunks) random bytes, not 8 bytes per element.
 *
 * Lifetime: b is born at `draw` and ends at `wipe` (a secret projection: the node's own one,
 * secret until every aggregate share is in) or `free` (a public one, drawn from the
 * Fiat-Shamir challenge). The scalars pass through WASM scratch that `draw` wipes at once.
 * @module
 */
import { CHUNK_ELEMS } from '../../field/fixed-point.js';
import { sampleField, type RandomFill } from '../../field/random.js';
import { add as addMod, mul as mulMod } from '../../field/reference.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';

/** One draw of r for vectors of a given length. */
export class Projection {
  private b: FieldVec | null;

  private constructor(
    private readonly K: WasmKernels,
    b: FieldVec,
    /** s_k, one per chunk. */
    private readonly s: readonly bigint[],
  ) {
    this.b = b;
  }

  /** Draws b (min(CHUNK_ELEMS, length) elements), then the per-chunk scalars, from `rng`. */
  static draw(K: WasmKernels, length: number, rng: RandomFill): Projection {
    const b = K.alloc(Math.min(CHUNK_ELEMS, length));
    sampleField(K, b.ptr, b.length, rng);
    const chunks = Math.ceil(length / CHUNK_ELEMS);
    const sv = K.alloc(chunks);
    try {
      sampleField(K, sv.ptr, sv.length, rng);
      return new Projection(K, b, Array.from(K.view(sv)));
    } finally {
      K.free(sv); // wipes (the scalars of a secret projection: kept only as JavaScript bigints)
    }
  }

  /**
   * <v, r> for the elements `v` at element `offset`, of any length: split at the chunks'
   * boundaries, each piece weighted by its chunk's scalar.
   */
  dot(offset: number, v: FieldVec): bigint {
    const b = this.b;
    if (!b) throw new Error('projection used after it was released');
    let sum = 0n;
    for (let i = 0; i < v.length; ) {
      const o = offset + i;
      const inChunk = o % CHUNK_ELEMS;
      const m = Math.min(v.length - i, CHUNK_ELEMS - inChunk);
      const d = this.K.dot({ ptr: v.ptr + i * 8, length: m }, { ptr: b.ptr + inChunk * 8, length: m });
      sum = addMod(sum, mulMod(this.s[(o - inChunk) / CHUNK_ELEMS]!, d));
      i += m;
    }
    return sum;
  }

  /** Returns b's memory (the allocator wipes it, secret or public). Idempotent. */
  free(): void {
    if (this.b) this.K.free(this.b);
    this.b = null;
  }

  /** Wipes b and returns its memory (a secret projection): the same as `free`, named for the reader. Idempotent. */
  wipe(): void {
    this.free();
  }
}
