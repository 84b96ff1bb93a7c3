/**
 * The version-2 chunk dealer (docs/protocol.md "Seeded shares"): the t-1 seeded holders' shares
 * are expanded from a fresh 32-byte seed each (src/sharing/seeded.ts), every other holder's
 * share is computed from the secret and the seeded shares. The last element of the input is the
 * dealer's blinding element (src/protocol/params.ts extraElems), drawn here before anything is
 * dealt, so every projection of a holder's share is blinded (docs/protocol.md "Dealer consistency").
 *
 * Lifetime, all secret: the seeds live from `seededDealer` to `close()`; `seedOf` hands a copy
 * out for the seed message (the caller wipes it once encrypted).
 * @module
 */
import type { HashFactory } from '../../core/crypto.js';
import { sampleField, type RandomFill } from '../../field/random.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';
import { dealSeededChunk, expandSeededChunk, SEED_BYTES, seededDifferences } from '../../sharing/seeded.js';
import type { ChunkDealer } from './dealing.js';
import { P } from '../../field/reference.js';

/** A version-2 dealing in progress (see `RoundMemory.startSeededDealing`). */
export interface SeededShareDealing {
  /** Every holder's digest by x, before anything is sent (deals the input once, a chunk per step). */
  digests(): Generator<void, Map<number, Uint8Array>>;
  /** A copy of seeded holder x's seed (secret: wipe it once sent). */
  seedOf(x: number): Uint8Array;
  /**
   * Starts the streams of the computed shares; the own share is added to the held sum and
   * projected on the form drawn from `challenge` (this dealer's challenge).
   */
  stream(challenge: Uint8Array): {
    next(x: number): { offset: number; data: Uint8Array } | null;
    dealAhead(): boolean;
    /** Deals what is left, wipes the regional sum; the own share's projection. */
    finish(): bigint;
  };
  /** Abandons the dealing (idempotent); wipes the seeds and the cached chunks. */
  close(): void;
}

/** Who the shares are for: ids for the expansion keys, x for the polynomial. */
export interface SeededPlan {
  round: string;
  dealer: string;
  /** x of every holder, self included. */
  holders: readonly number[];
  /** x of the seeded holders (t-1 of `holders`). */
  seeded: readonly number[];
  /** Region id of holder x. */
  idOf(x: number): string;
}

/** A seeded chunk dealer, with each seeded holder's seed for its `seed` message. */
export interface SeededDealer extends ChunkDealer {
  /** A copy of holder x's seed (secret: wipe it once sent). */
  seedOf(x: number): Uint8Array;
}

/**
 * Draws the blinding element into `input`'s last element and a seed per seeded holder, and
 * returns the dealer of their chunks (`chunk` elements each: chunk k's keys use index k).
 */
export function seededDealer(K: WasmKernels, input: FieldVec, chunk: number, plan: SeededPlan, random: RandomFill, stream: (key: Uint8Array) => RandomFill, hash: HashFactory, corruptX?: number): SeededDealer {
  sampleField(K, input.ptr + (input.length - 1) * 8, 1, random); // the blind
  const seeds = new Map<number, Uint8Array>();
  for (const x of plan.seeded) {
    const seed = new Uint8Array(SEED_BYTES);
    random(seed);
    seeds.set(x, seed);
  }
  const diffs = seededDifferences(plan.seeded);
  let closed = false;
  return {
    deal(off, m, outs) {
      if (closed) throw new Error('dealChunks resumed after the round vectors were wiped');
      const seededOuts = plan.seeded.map((x) => {
        const o = outs[x - 1]!;
        expandSeededChunk(K, o, hash, stream, seeds.get(x)!, { round: plan.round, dealer: plan.dealer, holder: plan.idOf(x) }, off / chunk);
        return o;
      });
      dealSeededChunk(K, { ptr: input.ptr + off * 8, length: m }, seededOuts, diffs, outs);
      if (corruptX !== undefined && off === 0) {
        // test fault (RoundMemory.testFaults): holder corruptX's share leaves the polynomial, in both passes alike
        const v = K.view(outs[corruptX - 1]!);
        v[0] = (v[0]! + 1n) % P;
      }
    },
    seedOf(x) {
      const s = seeds.get(x);
      if (!s || closed) throw new Error(`no seed for x = ${x}`);
      return new Uint8Array(s);
    },
    close() {
      closed = true;
      for (const s of seeds.values()) s.fill(0);
      seeds.clear();
    },
  };
}
