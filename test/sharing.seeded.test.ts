/**
 * Seeded shares (src/sharing/seeded.ts): the seeded holders' shares are their seeds' expansions,
 * every share lies on one polynomial of degree t-1 through the secret, the expansion keys are
 * domain-separated, and any t shares reconstruct the secret.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import { P } from '../src/field/reference.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { nobleSha256 } from '../src/core/crypto.js';
import { dealSeededChunk, expandSeededChunk, seededChunkKey, seededDifferences } from '../src/sharing/seeded.js';
import { valueAt } from '../src/sharing/shamir.js';

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

const ids = { round: 'r', dealer: 'eu', holder: 'us' };

describe('seeded shares', () => {
  for (const [n, t, seeded] of [[3, 2, [3]], [5, 3, [2, 3]], [5, 3, [5, 1]], [7, 4, [2, 4, 6]], [4, 1, []]] as const) {
    it(`n = ${n}, t = ${t}, seeded x = ${seeded.join(',') || 'none'}: seeded outputs are the expansions, all on one polynomial through the secret`, () => {
      const m = 300;
      const secret = K.alloc(m);
      aesCtrRandom(new Uint8Array(32).fill(9))(K.bytes(secret.ptr, m * 8));
      K.view(secret).forEach((v, i, a) => (a[i] = v % P));
      const outs = Array.from({ length: n }, () => K.alloc(m));
      const expected = seeded.map((x) => {
        const o = outs[x - 1]!;
        expandSeededChunk(K, o, nobleSha256, aesCtrRandom, new Uint8Array(32).fill(x), { ...ids, holder: `h${x}` }, 0);
        return [...K.view(o)];
      });
      dealSeededChunk(K, secret, seeded.map((x) => outs[x - 1]!), seededDifferences(seeded), outs);
      seeded.forEach((x, j) => expect([...K.view(outs[x - 1]!)]).toEqual(expected[j]));
      const s = [...K.view(secret)];
      const shares = outs.map((o) => [...K.view(o)]);
      for (const i of [0, 1, 77, m - 1]) {
        // any t shares give the secret; every other share is on the same polynomial
        const xs = Array.from({ length: t }, (_, k) => BigInt(n - k));
        const ys = xs.map((x) => shares[Number(x) - 1]![i]!);
        expect(valueAt(xs, ys, 0n)).toBe(s[i]);
        for (let x = 1; x <= n; x++) expect(valueAt(xs, ys, BigInt(x))).toBe(shares[x - 1]![i]);
      }
    });
  }

  it('chunk keys differ by seed, round, dealer, holder and chunk', () => {
    const seed = new Uint8Array(32).fill(1);
    const k = (o: Partial<typeof ids>, c = 0, sd = seed) => Buffer.from(seededChunkKey(nobleSha256, sd, { ...ids, ...o }, c)).toString('hex');
    const all = [k({}), k({ round: 'r2' }), k({ dealer: 'us', holder: 'eu' }), k({ holder: 'apac' }), k({}, 1), k({}, 0, new Uint8Array(32).fill(2))];
    expect(new Set(all).size).toBe(all.length);
    // length prefixes: moving a character between fields changes the key
    expect(k({ round: 'ab', dealer: 'c' })).not.toBe(k({ round: 'a', dealer: 'bc' }));
  });
});
