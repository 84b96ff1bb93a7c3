/**
 * One dealing read by one cursor per holder (src/protocol/memory/dealing.ts): holders read at
 * any pace, in any interleaving, and get the same shares as in lockstep; a holder far behind the
 * lead gets its chunks dealt again, identically (its bytes hash to the digest the lead took);
 * every pair of shares reconstructs the input, and the own share lands in the held sum once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { nobleSha256 } from '../src/core/crypto.js';
import { lagrangeCoefficients } from '../src/field/reference.js';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import type { FieldVec, WasmKernels } from '../src/field/wasm.js';
import { WIRE_CHUNK_ELEMS } from '../src/protocol/memory/index.js';
import { ChunkIntake } from '../src/protocol/memory/intake.js';
import { ShareStreams } from '../src/protocol/memory/share-streams.js';

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

const p = 0xffff_ffff_0000_0001n;
const L = 5 * WIRE_CHUNK_ELEMS + 7; // six chunks: more than the dealing keeps for laggards

function input(): FieldVec {
  const v = K.alloc(L);
  const w = new BigUint64Array(K.bytes(v.ptr, L * 8).buffer, v.ptr, L);
  for (let i = 0; i < L; i++) w[i] = (BigInt(i) * 0x9e37_79b9_7f4a_7c15n + 12345n) % p;
  return v;
}

/** A fixed seed for the dealing, so two dealings can be compared. */
const seeded = (b: Uint8Array): void => void b.fill(42);

/** Reads each holder's whole stream in the order `schedule` gives (a list of x, one chunk each). */
function run(schedule: number[]): { shares: Map<number, Uint8Array>; digests: Map<number, Uint8Array>; own: Uint8Array } {
  const intake = new ChunkIntake(K, L);
  const s = new ShareStreams(K, L, nobleSha256, intake);
  const v = input();
  const d = s.startDealing(v, 2, 3, [1, 2, 3], 1, seeded, aesCtrRandom);
  const shares = new Map([2, 3].map((x) => [x, new Uint8Array(L * 8)] as const));
  for (const x of schedule) {
    const c = d.next(x);
    if (c) shares.get(x)!.set(c.data, c.offset * 8);
  }
  for (const x of [2, 3]) for (let c = d.next(x); c; c = d.next(x)) shares.get(x)!.set(c.data, c.offset * 8);
  const digests = d.finish();
  d.close();
  const own = K.bytes(s.heldSum.ptr, L * 8).slice();
  s.zeroize();
  intake.zeroize();
  K.zeroize(v);
  K.free(v);
  return { shares, digests, own };
}

const sha = (b: Uint8Array): Uint8Array => {
  const h = nobleSha256();
  h.update(b);
  return h.digest();
};

/** Lagrange at 0 from two share vectors (as bytes) at xs. */
function reconstruct(a: Uint8Array, xa: number, b: Uint8Array, xb: number): bigint[] {
  const [la, lb] = lagrangeCoefficients([BigInt(xa), BigInt(xb)], 0n);
  const va = new BigUint64Array(a.slice().buffer);
  const vb = new BigUint64Array(b.slice().buffer);
  return Array.from({ length: L }, (_, i) => (la! * va[i]! + lb! * vb[i]!) % p);
}

describe('a dealing with one cursor per holder', () => {
  it('any pace gives the lockstep shares; a holder far behind is dealt again identically; every pair reconstructs', () => {
    const lockstep = run([2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3]);
    // holder 3 stalls until holder 2 has read everything: its chunks left the cache long ago
    const lagging = run([2, 2, 2, 2, 2, 2]);
    const interleaved = run([3, 2, 2, 3, 3, 3, 2]);
    for (const r of [lagging, interleaved]) {
      for (const x of [2, 3]) expect(Buffer.from(r.shares.get(x)!).equals(lockstep.shares.get(x)!)).toBe(true);
      expect(Buffer.from(r.own).equals(lockstep.own)).toBe(true);
    }
    // the digests (taken by the lead) are of exactly the bytes each holder received
    for (const x of [2, 3]) expect(lagging.digests.get(x)).toEqual(sha(lagging.shares.get(x)!));
    expect(lagging.digests.get(1)).toEqual(sha(lagging.own)); // own share added once, in the held sum
    const want = Array.from({ length: L }, (_, i) => (BigInt(i) * 0x9e37_79b9_7f4a_7c15n + 12345n) % p);
    expect(reconstruct(lagging.shares.get(2)!, 2, lagging.shares.get(3)!, 3)).toEqual(want);
    expect(reconstruct(lagging.own, 1, lagging.shares.get(3)!, 3)).toEqual(want);
    // and the shares are not the input (t = 2: one share alone is masked)
    expect(Buffer.from(lagging.shares.get(2)!).equals(Buffer.from(lagging.own))).toBe(false);
  });

  it('dealAhead and finish deal what no holder read (every holder stream ended early): complete digests and own share', () => {
    const full = run([]);
    const intake = new ChunkIntake(K, L);
    const s = new ShareStreams(K, L, nobleSha256, intake);
    const v = input();
    const d = s.startDealing(v, 2, 3, [1, 2, 3], 1, seeded, aesCtrRandom);
    d.next(2); // one chunk out, then the link went away
    let ahead = 0;
    while (d.dealAhead()) ahead++; // the node deals the rest a chunk per macrotask
    expect(ahead).toBe(4); // chunks 1..5, the last returning false
    const digests = d.finish();
    d.close();
    expect([...digests.keys()].sort()).toEqual([1, 2, 3]);
    for (const x of [1, 2, 3]) expect(digests.get(x)).toEqual(full.digests.get(x));
    expect(Buffer.from(K.bytes(s.heldSum.ptr, L * 8)).equals(full.own)).toBe(true);
    s.zeroize();
    intake.zeroize();
    K.zeroize(v);
    K.free(v);
  });
});
