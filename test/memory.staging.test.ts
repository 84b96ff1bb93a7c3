/**
 * Trainer updates streamed into WASM memory (RoundMemory.beginUpdate / writeUpdate /
 * commitUpdate, src/protocol/memory/input.ts), and the round result read in pieces
 * (memory/result.ts); what each piece wipes: test/memory.lifetimes.test.ts. The first update of
 * a round is staged inside the regional sum's own memory and encoded in place; later ones are
 * staged apart and added. Whatever the path, the regional sum must equal the encodings added
 * up, and a refused update must leave it as it was.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom, nodeRandom } from '../src/field/random-node.js';
import { CHUNK_ELEMS, encodeStaged, encodeUpdate } from '../src/field/fixed-point.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { addUpdate, dealChunks, resultArray, RoundMemory, type UpdateStaging } from '../src/protocol/memory/index.js';
import { EXTRA_ELEMS } from '../src/protocol/params.js';
import { nobleSha256 as nobleHash } from '../src/core/crypto.js';

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

const O = { scaleBits: 16, clipL2: 1e6, clipMode: 'reject' as const };
const bytesOf = (u: Float32Array): Uint8Array => new Uint8Array(u.buffer, u.byteOffset, u.byteLength);

/** The regional sum as field elements, read through the public path: dealt with t = n = 1 (the share is the secret). */
function regionalSum(v: RoundMemory): bigint[] {
  const it = dealChunks(v, 1, 1, [1], 1, nodeRandom);
  while (!it.next().done);
  const out: bigint[] = [];
  const agg = v.aggChunks();
  for (let s = agg.next(); !s.done; s = agg.next()) out.push(...new BigUint64Array(s.value.data.slice().buffer));
  return out;
}

/** The same updates encoded one by one with encodeUpdate and added up as BigInts (the oracle). */
function expectedSum(updates: { u: Float32Array; w: number }[], P: number): bigint[] {
  const p = 0xffff_ffff_0000_0001n;
  const acc = new Array<bigint>(P + EXTRA_ELEMS).fill(0n);
  for (const { u, w } of updates) {
    const e = K.alloc(P + EXTRA_ELEMS);
    encodeUpdate(K, u, { ptr: e.ptr, length: P }, { ...O, weight: w });
    encodeUpdate(K, Float32Array.of(1), { ptr: e.ptr + P * 8, length: 1 }, { scaleBits: O.scaleBits, clipL2: 1, clipMode: 'reject', weight: w });
    K.view(e).forEach((x, i) => (acc[i] = (acc[i]! + x) % p));
    K.free(e);
  }
  return acc;
}

function update(P: number, seed: number): Float32Array {
  const u = new Float32Array(P);
  for (let i = 0; i < P; i++) u[i] = Math.sin(seed * 7.3 + i * 0.37) * (i % 3 === 0 ? -2 : 1.5);
  return u;
}

function stage(v: RoundMemory, u: Float32Array, pieces = 3): UpdateStaging {
  const s = v.beginUpdate();
  const b = bytesOf(u);
  const step = Math.max(1, Math.ceil(b.length / pieces));
  for (let o = 0; o < b.length; o += step) v.writeUpdate(s, b.subarray(o, o + step)); // odd-sized pieces, as from a socket
  return s;
}

describe('streamed trainer updates', () => {
  for (const P of [1, 7, CHUNK_ELEMS + 5]) {
    it(`the first update is encoded in place and equals encodeUpdate (params ${P})`, () => {
      const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleHash, aesCtrRandom);
      const u = update(P, 1);
      const s = stage(v, u, 5);
      expect(s.inPlace).toBe(true);
      v.commitUpdate(s, 3, O);
      expect(v.hasInput).toBe(true);
      expect(regionalSum(v)).toEqual(expectedSum([{ u, w: 3 }], P));
      v.zeroize();
    });
  }

  it('later updates are staged apart, wait for the in-place one, and add up', () => {
    const P = CHUNK_ELEMS + 9;
    const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleHash, aesCtrRandom);
    const u1 = update(P, 1);
    const u2 = update(P, 2);
    const u3 = update(P, 3);
    const s1 = stage(v, u1);
    const s2 = stage(v, u2);
    expect([s1.inPlace, s2.inPlace]).toEqual([true, false]);
    expect(v.sumBusy).toBe(true);
    expect(() => v.commitUpdate(s2, 2, O)).toThrow(/busy with the first update; wait/);
    v.commitUpdate(s1, 1, O);
    expect(v.sumBusy).toBe(false);
    v.commitUpdate(s2, 2, O);
    addUpdate(v, u3, 0.5, O);
    expect(regionalSum(v)).toEqual(expectedSum([{ u: u1, w: 1 }, { u: u2, w: 2 }, { u: u3, w: 0.5 }], P));
    v.zeroize();
  });

  it('rejects a NaN in the in-place update naming its index; the sum stays empty and the next update goes in place', () => {
    const P = 100;
    const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleHash, aesCtrRandom);
    const bad = update(P, 1);
    bad[42] = Number.NaN;
    const s = stage(v, bad);
    expect(() => v.commitUpdate(s, 1, O)).toThrow(/index 42 is not a finite number/);
    expect(v.hasInput).toBe(false);
    expect(v.sumBusy).toBe(false);
    expect(Array.from(K.bytes(s.ptr, s.bytes)).every((b) => b === 0)).toBe(true); // the staged values are wiped
    const u = update(P, 2);
    const s2 = stage(v, u);
    expect(s2.inPlace).toBe(true);
    v.commitUpdate(s2, 1, O);
    expect(regionalSum(v)).toEqual(expectedSum([{ u, w: 1 }], P));
    v.zeroize();
  });

  it('an added update beyond the clip bound leaves the regional sum exactly as it was', () => {
    const P = 2 * CHUNK_ELEMS + 3;
    const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleHash, aesCtrRandom);
    const u1 = update(P, 1);
    addUpdate(v, u1, 1, O);
    const big = update(P, 2).map((x) => x * 1e4);
    expect(() => addUpdate(v, big, 1, { ...O, clipL2: 10 })).toThrow(/exceeds the clip bound 10/);
    expect(regionalSum(v)).toEqual(expectedSum([{ u: u1, w: 1 }], P));
    v.zeroize();
  });

  it('refuses a short or an over-long body', () => {
    const P = 10;
    const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleHash, aesCtrRandom);
    const s = v.beginUpdate();
    v.writeUpdate(s, new Uint8Array(36));
    expect(() => v.writeUpdate(s, new Uint8Array(8))).toThrow(/longer than the round's 10 float32 values/);
    expect(() => v.commitUpdate(s, 1, O)).toThrow(/update has 9 values, this round has 10 parameters/);
    expect(v.hasInput).toBe(false);
    expect(() => v.writeUpdate(s, new Uint8Array(4))).toThrow(/already committed or aborted/);
    v.zeroize();
  });

  it('a dealing or publishing generator resumed after zeroize refuses to touch the freed vectors', () => {
    const P = 3 * 16384;
    const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleHash, aesCtrRandom);
    addUpdate(v, update(P, 1), 1, O);
    const deal = dealChunks(v, 2, 3, [1, 2, 3], 1, nodeRandom);
    expect(deal.next().done).toBe(false);
    const agg = v.aggChunks();
    expect(agg.next().done).toBe(false);
    v.zeroize();
    expect(() => deal.next()).toThrow(/resumed after the round vectors were wiped/);
    expect(() => agg.next()).toThrow(/resumed after the round vectors were wiped/);
  });

  it('zeroize wipes open stagings', () => {
    const P = 16;
    const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleHash, aesCtrRandom);
    const open = stage(v, update(P, 1));
    v.zeroize();
    expect(Array.from(K.bytes(open.ptr, open.bytes)).every((b) => b === 0)).toBe(true);
    expect(() => v.writeUpdate(open, new Uint8Array(4))).toThrow(/already committed or aborted/);
  });

  it('encodeStaged refuses overlaps it cannot handle', () => {
    const out = K.alloc(8);
    expect(() => encodeStaged(K, out.ptr + 8, 8, out, O)).toThrow(/in-place input must start at out \+ 4n/);
    expect(() => encodeStaged(K, out.ptr + 32, 8, out, O, true)).toThrow(/add with overlapping/);
    K.free(out);
  });
});

describe('round result read in pieces', () => {
  /** A one-holder reconstruction (t = 1): the result is the regional sum itself. */
  function reconstructed(u: Float32Array, w: number) {
    const P = u.length;
    const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleHash, aesCtrRandom);
    addUpdate(v, u, w, O);
    const it = dealChunks(v, 1, 1, [1], 1, nodeRandom);
    while (!it.next().done);
    v.startReconstruction(new Map([['a', 1n]]), () => aesCtrRandom(new Uint8Array(32).fill(7)));
    v.acceptOwnAgg('a');
    const f = v.finish(() => 1, 1, O.scaleBits, ['a']);
    if (!f.ok) throw new Error('reconstruction failed');
    return { v, r: f.result };
  }

  it('reads the sum and the mean (float32(sum / W)) in pieces of any size', () => {
    const P = CHUNK_ELEMS + 11;
    const u = update(P, 4);
    const { v, r } = reconstructed(u, 3);
    expect(r.params).toBe(P);
    expect(r.totalWeight).toBe(3);
    const sum = resultArray(r, 'sum');
    const mean = resultArray(r, 'mean');
    for (const i of [0, 1, CHUNK_ELEMS, P - 1]) {
      expect(Math.abs(sum[i]! - 3 * u[i]!)).toBeLessThan(2 ** -15);
      expect(mean[i]).toBe(Math.fround(sum[i]! / 3));
    }
    const piece = new Float32Array(13);
    r.read(CHUNK_ELEMS - 5, piece, 'sum');
    expect(Array.from(piece)).toEqual(Array.from(sum.subarray(CHUNK_ELEMS - 5, CHUNK_ELEMS + 8)));
    expect(() => r.read(P - 2, new Float32Array(3), 'sum')).toThrow(RangeError);
    v.zeroize();
  });

  for (const w of [3, 0.7, 12345.5]) {
    it(`the mean kernel gives exactly float32(sum / W) for every element (W = ${w})`, () => {
      const u = update(3 * CHUNK_ELEMS + 1, 9).map((x, i) => x * (1 + (i % 97)) * 1e-2);
      const { v, r } = reconstructed(u, w);
      const sum = resultArray(r, 'sum');
      const mean = resultArray(r, 'mean');
      let bad = 0;
      for (let i = 0; i < sum.length; i++) if (mean[i] !== Math.fround(sum[i]! / r.totalWeight)) bad++;
      expect(bad).toBe(0);
      v.zeroize();
    });
  }

  it('a retained result outlives zeroize until the last release, then reads fail loudly', () => {
    const u = update(40, 5);
    const { v, r } = reconstructed(u, 1);
    const before = resultArray(r);
    const release1 = v.retainResult();
    const release2 = v.retainResult();
    v.zeroize();
    expect(resultArray(r)).toEqual(before);
    release1();
    release1(); // idempotent: does not count twice
    expect(resultArray(r)).toEqual(before);
    release2();
    expect(() => resultArray(r)).toThrow(/result was wiped/);
  });

  it('without a retain, zeroize wipes the result at once', () => {
    const { v, r } = reconstructed(update(8, 6), 1);
    v.zeroize();
    expect(() => resultArray(r)).toThrow(/result was wiped/);
  });
});
