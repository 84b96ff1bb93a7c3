/**
 * The round memory driven in one go, for the in-process harness and the tests (the node streams
 * instead): one in-memory update staged, validated and added; a dealing read in lockstep.
 * @module
 */
import { FieldError } from '../../errors.js';
import type { RandomFill } from '../../field/random.js';
import type { RoundMemory, UpdateEncoding } from './index.js';
import { WIRE_CHUNK_ELEMS, type DealtChunk } from './share-streams.js';

/**
 * Stages, validates and adds one in-memory update (the harness and tests; the node streams
 * HTTP bodies through `beginUpdate` / `writeUpdate` / `commitUpdate` instead).
 * @throws {FieldError} as `commitUpdate`; the sum is as it was.
 */
export function addUpdate(v: RoundMemory, update: Float32Array, weight: number, o: UpdateEncoding): void {
  if (update.length !== v.params) throw new FieldError('FIELD_LENGTH_MISMATCH', `update has ${update.length} values, this round has ${v.params} parameters`);
  const s = v.beginUpdate();
  try {
    v.writeUpdate(s, new Uint8Array(update.buffer, update.byteOffset, update.byteLength));
    v.commitUpdate(s, weight, o);
  } finally {
    v.abortUpdate(s);
  }
}

/**
 * Deals the input in lockstep (the in-process harness and tests): per chunk, the share bytes
 * of every holder except `selfX` (views valid until the generator is resumed), as
 * `startDealing` deals them.
 * @returns digests of every holder's whole share vector, by x.
 */
export function* dealChunks(v: RoundMemory, t: number, n: number, holders: readonly number[], selfX: number, rng: RandomFill): Generator<DealtChunk, Map<number, Uint8Array>> {
  const d = v.startDealing(t, n, holders, selfX, rng);
  const remote = holders.filter((x) => x !== selfX);
  try {
    for (let offset = 0; offset < v.length; offset += WIRE_CHUNK_ELEMS) {
      const shares = new Map<number, Uint8Array>();
      for (const x of remote) shares.set(x, d.next(x)!.data);
      yield { offset, shares };
    }
    return d.finish();
  } finally {
    d.close(); // an abandoned dealing still wipes and frees its chunks
  }
}
