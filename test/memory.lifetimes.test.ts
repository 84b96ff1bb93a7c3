/**
 * The round's secret memory piece by piece (src/protocol/memory/): each piece wipes what it
 * owns, read back from WASM memory after the wipe, and an aborted trainer upload leaves
 * nothing. "Nothing left" is checked by searching the whole linear memory for bytes of the
 * secret (a fresh kernel instance per test, so nothing of another test is in it); every such
 * search is first made to succeed while the secret is alive, so none can pass vacuously.
 */
import { describe, expect, it } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom, nodeRandom } from '../src/field/random-node.js';
import { sampleField } from '../src/field/random.js';
import { CHUNK_ELEMS } from '../src/field/fixed-point.js';
import type { FieldVec, WasmKernels } from '../src/field/wasm.js';
import { EXTRA_ELEMS } from '../src/protocol/params.js';
import { nobleSha256 } from '../src/core/crypto.js';
import { addUpdate, dealChunks, resultArray, RoundMemory, WIRE_CHUNK_ELEMS } from '../src/protocol/memory/index.js';
import { RegionalInput } from '../src/protocol/memory/input.js';
import { ChunkIntake, openStream } from '../src/protocol/memory/intake.js';
import { ShareStreams } from '../src/protocol/memory/share-streams.js';
import { Projection } from '../src/protocol/memory/projection.js';
import { ResultVector } from '../src/protocol/memory/result.js';
import { expandSeededChunk } from '../src/sharing/seeded.js';

const O = { scaleBits: 16, clipL2: 1e6, clipMode: 'reject' as const };
const p = 0xffff_ffff_0000_0001n;

/** True when `needle` occurs anywhere in the kernel instance's linear memory. */
function inMemory(K: WasmKernels, needle: Uint8Array): boolean {
  return Buffer.from(K.x.memory.buffer).indexOf(Buffer.from(needle)) >= 0;
}

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0);
const bytesOf = (v: ArrayBufferView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** Distinctive float32 values (no two tests share them). */
function update(P: number, seed: number): Float32Array {
  const u = new Float32Array(P);
  for (let i = 0; i < P; i++) u[i] = Math.sin(seed * 7.3 + i * 0.37) * (1 + seed / 10);
  return u;
}

/** Distinctive canonical field elements, as little-endian bytes. */
function elements(m: number, seed: number): Uint8Array {
  const a = new BigUint64Array(m);
  for (let i = 0; i < m; i++) a[i] = (BigInt(i + 1) * 0x9e37_79b9_7f4a_7c15n + BigInt(seed) * 0x1234_5678_9abcn) % p;
  return bytesOf(a);
}

describe('regional input (memory/input.ts)', () => {
  it('trainer uploads aborted mid-way leave nothing of them in WASM memory (the in-place one and one staged apart)', async () => {
    const K = await loadKernelsFresh();
    const P = CHUNK_ELEMS + 7;
    const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleSha256, aesCtrRandom);
    const u1 = bytesOf(update(P, 1));
    const u2 = bytesOf(update(P, 2));
    const s1 = v.beginUpdate();
    const s2 = v.beginUpdate();
    expect([s1.inPlace, s2.inPlace]).toEqual([true, false]);
    v.writeUpdate(s1, u1.subarray(0, 4 * 1001)); // a socket's worth, then the client goes away
    v.writeUpdate(s2, u2.subarray(0, 4 * (P - 3)));
    const head1 = u1.slice(0, 64);
    const tail2 = u2.slice(4 * (P - 19), 4 * (P - 3));
    expect(inMemory(K, head1)).toBe(true);
    expect(inMemory(K, tail2)).toBe(true);
    v.abortUpdate(s1);
    v.abortUpdate(s2);
    expect(inMemory(K, head1)).toBe(false);
    expect(inMemory(K, tail2)).toBe(false);
    expect(allZero(K.bytes(s1.ptr, s1.bytes))).toBe(true);
    expect(v.hasInput).toBe(false);
    expect(v.sumBusy).toBe(false);
    expect(() => v.writeUpdate(s1, new Uint8Array(4))).toThrow(/already committed or aborted/);
    // nothing of the aborted uploads is in the sum: the next update is the whole of it
    const s3 = v.beginUpdate();
    expect(s3.inPlace).toBe(true);
    v.abortUpdate(s3);
    v.zeroize();
  });

  it('an upload refused at commit (short body, NaN) is wiped from its staging', async () => {
    const K = await loadKernelsFresh();
    const P = 300;
    const input = new RegionalInput(K, P + EXTRA_ELEMS);
    const first = update(P, 3);
    addTo(input, first);
    const short = bytesOf(update(P, 4));
    const s = input.begin();
    expect(s.inPlace).toBe(false);
    input.write(s, short.subarray(0, 4 * (P - 1)));
    const head = short.slice(0, 64);
    expect(inMemory(K, head)).toBe(true);
    expect(() => input.commit(s, 1, O)).toThrow(/update has 299 values, this round has 300 parameters/);
    expect(inMemory(K, head)).toBe(false);
    const nan = update(P, 5);
    nan[200] = Number.NaN;
    const s2 = input.begin();
    input.write(s2, bytesOf(nan));
    expect(inMemory(K, bytesOf(nan).slice(0, 64))).toBe(true);
    expect(() => input.commit(s2, 1, O)).toThrow(/index 200 is not a finite number/);
    expect(inMemory(K, bytesOf(nan).slice(0, 64))).toBe(false);
    input.zeroize();
  });

  it('zeroize wipes the regional sum and every open staging (read back as zeros)', async () => {
    const K = await loadKernelsFresh();
    const P = 50;
    const input = new RegionalInput(K, P + EXTRA_ELEMS);
    addTo(input, update(P, 6));
    const sum = input.forDealing();
    const encoded = K.bytes(sum.ptr, sum.length * 8).slice();
    expect(allZero(encoded)).toBe(false);
    const open = input.begin();
    const raw = bytesOf(update(P, 7));
    input.write(open, raw);
    input.zeroize();
    expect(allZero(K.bytes(sum.ptr, sum.length * 8))).toBe(true);
    expect(allZero(K.bytes(open.ptr, open.bytes))).toBe(true);
    expect(inMemory(K, encoded.subarray(0, 64))).toBe(false);
    expect(inMemory(K, raw.subarray(0, 64))).toBe(false);
    expect(input.hasInput).toBe(false);
    expect(() => input.forDealing()).toThrow(/without input/);
    expect(() => input.write(open, new Uint8Array(4))).toThrow(/already committed or aborted/);
    input.zeroize(); // idempotent
  });

  it('dealt() wipes the regional sum and hands its memory back', async () => {
    const K = await loadKernelsFresh();
    const P = 40;
    const input = new RegionalInput(K, P + EXTRA_ELEMS);
    addTo(input, update(P, 8));
    const sum = input.forDealing();
    expect(allZero(K.bytes(sum.ptr, sum.length * 8))).toBe(false);
    input.dealt();
    expect(allZero(K.bytes(sum.ptr, sum.length * 8))).toBe(true);
    expect(input.hasInput).toBe(false);
    expect(K.alloc(P + EXTRA_ELEMS).ptr).toBe(sum.ptr); // reused, not grown
  });
});

/** Adds one whole update through a staging (the node's path). */
function addTo(input: RegionalInput, u: Float32Array): void {
  const s = input.begin();
  input.write(s, bytesOf(u));
  input.commit(s, 1, O);
}

describe('incoming chunks (memory/intake.ts)', () => {
  it('refuses a gap, an odd, empty or over-long chunk, an overrun and an element >= p, and the stream stays where it was', async () => {
    const K = await loadKernelsFresh();
    const L = CHUNK_ELEMS + 10;
    const intake = new ChunkIntake(K, L);
    const s = openStream(nobleSha256);
    expect(() => intake.take(s, 8, elements(4, 1), 'share from b')).toThrow(/share from b: chunk at element 8, expected 0/);
    expect(() => intake.take(s, 0, new Uint8Array(12), 'share from b')).toThrow(/chunk of 12 bytes/);
    expect(() => intake.take(s, 0, new Uint8Array(0), 'share from b')).toThrow(/chunk of 0 bytes/);
    expect(() => intake.take(s, 0, new Uint8Array(8 * (CHUNK_ELEMS + 1)), 'share from b')).toThrow(/must be 8\.\.524288/);
    s.next = CHUNK_ELEMS;
    expect(() => intake.take(s, CHUNK_ELEMS, elements(11, 2), 'share from b')).toThrow(/65547 elements, round has 65546/);
    const bad = elements(3, 3).slice();
    new DataView(bad.buffer).setBigUint64(8, p, true);
    expect(() => intake.take(s, CHUNK_ELEMS, bad, 'share from b')).toThrow(/element 1 is not a field element/);
    expect(s.next).toBe(CHUNK_ELEMS);
    intake.zeroize();
  });

  it('zeroize wipes the receive scratch', async () => {
    const K = await loadKernelsFresh();
    const intake = new ChunkIntake(K, 1000);
    const data = elements(500, 4);
    const v = intake.take(openStream(nobleSha256), 0, data, 'share from b');
    expect(K.bytes(v.ptr, data.length)).toEqual(data);
    intake.zeroize();
    expect(allZero(K.bytes(v.ptr, data.length))).toBe(true);
    expect(inMemory(K, data.subarray(0, 64))).toBe(false);
    expect(() => intake.take(openStream(nobleSha256), 0, data, 'share from b')).toThrow(/after the round vectors were wiped/);
  });
});

describe('share streams (memory/share-streams.ts)', () => {
  /** A regional sum to deal: canonical elements in WASM memory. */
  function secret(K: WasmKernels, L: number, seed: number): FieldVec {
    const v = K.alloc(L);
    K.bytes(v.ptr, L * 8).set(elements(L, seed));
    return v;
  }

  for (const how of ['finished', 'abandoned'] as const) {
    it(`a dealing wipes its cached chunks when it is ${how}`, async () => {
      const K = await loadKernelsFresh();
      const L = 2 * WIRE_CHUNK_ELEMS + 3;
      const intake = new ChunkIntake(K, L);
      const shares = new ShareStreams(K, L, nobleSha256, intake);
      const input = secret(K, L, 5);
      const d = shares.startDealing(input, 2, 3, [1, 2, 3], 1, nodeRandom, aesCtrRandom);
      // the chunks dealt last are what the cache holds when the dealing ends
      const chunks = how === 'finished' ? 3 : 1;
      let toB = new Uint8Array(0);
      let toC = new Uint8Array(0);
      for (let i = 0; i < chunks; i++) {
        const b = d.next(2)!;
        const c = d.next(3)!;
        expect([b.offset, c.offset]).toEqual([i * WIRE_CHUNK_ELEMS, i * WIRE_CHUNK_ELEMS]);
        toB = b.data.slice(0, 24);
        toC = c.data.slice(0, 24);
      }
      expect(inMemory(K, toB) && inMemory(K, toC)).toBe(true);
      if (how === 'finished') {
        expect(d.next(2)).toBeNull();
        expect(d.finish().size).toBe(3);
      }
      d.close();
      expect(inMemory(K, toB)).toBe(false);
      expect(inMemory(K, toC)).toBe(false);
      K.zeroize(input);
      K.free(input);
      shares.zeroize();
      intake.zeroize();
    });
  }

  it('zeroize wipes the sum of held shares; publishing and dealing refuse it afterwards', async () => {
    const K = await loadKernelsFresh();
    const L = WIRE_CHUNK_ELEMS + 5;
    const intake = new ChunkIntake(K, L);
    const shares = new ShareStreams(K, L, nobleSha256, intake);
    const data = elements(L, 6);
    shares.accept('b', 0, data.subarray(0, 8 * WIRE_CHUNK_ELEMS));
    shares.accept('b', WIRE_CHUNK_ELEMS, data.subarray(8 * WIRE_CHUNK_ELEMS));
    const h = nobleSha256();
    h.update(data);
    expect(shares.digest('b')).toEqual(h.digest());
    const held = shares.heldSum;
    expect(K.bytes(held.ptr, L * 8)).toEqual(data); // 0 + the one share received
    const pub = shares.publish(() => undefined);
    expect(pub.next().done).toBe(false);
    const input = secret(K, L, 7);
    const dealing = shares.startDealing(input, 1, 1, [1], 1, nodeRandom, aesCtrRandom);
    shares.zeroize();
    intake.zeroize();
    expect(allZero(K.bytes(held.ptr, L * 8))).toBe(true);
    expect(inMemory(K, data.subarray(8 * WIRE_CHUNK_ELEMS - 32, 8 * WIRE_CHUNK_ELEMS + 32))).toBe(false);
    expect(() => shares.heldSum).toThrow(/wiped/);
    expect(() => pub.next()).toThrow(/aggChunks resumed after the round vectors were wiped/);
    expect(() => dealing.finish()).toThrow(/dealChunks resumed after the round vectors were wiped/);
    K.zeroize(input);
    K.free(input);
  });

  it('a dealing resumed after its last chunk once the round was wiped does not free the regional sum twice', async () => {
    const K = await loadKernelsFresh();
    const P = 123;
    const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleSha256, aesCtrRandom);
    addUpdate(v, update(P, 9), 1, O);
    const it = dealChunks(v, 1, 1, [1], 1, nodeRandom);
    expect(it.next().done).toBe(false); // the only chunk
    v.zeroize();
    // finishing the dealing now would compute on wiped memory: refused, nothing freed twice
    expect(() => it.next()).toThrow(/dealChunks resumed after the round vectors were wiped/);
    // every vector of the round's size came back to the allocator once: fresh ones never alias
    const ptrs = Array.from({ length: 8 }, () => K.alloc(P + EXTRA_ELEMS).ptr);
    expect(new Set(ptrs).size).toBe(ptrs.length);
  });
});

describe('reconstruction memory (memory/projection.ts, memory/result.ts)', () => {
  it('a secret projection is wiped, and so is a public one (from the challenge) when it is freed', async () => {
    const K = await loadKernelsFresh();
    const L = 3 * CHUNK_ELEMS + 100;
    const seed = new Uint8Array(32).fill(11);
    // the same draws into vectors of the test's own: b (CHUNK_ELEMS elements), then 4 scalars
    const rng = aesCtrRandom(seed);
    const probe = K.alloc(CHUNK_ELEMS);
    const probeS = K.alloc(4);
    sampleField(K, probe.ptr, CHUNK_ELEMS, rng);
    sampleField(K, probeS.ptr, 4, rng);
    const b = K.bytes(probe.ptr, 64 * 8).slice();
    const scalars = K.bytes(probeS.ptr, 4 * 8).slice();
    for (const v of [probe, probeS]) {
      K.zeroize(v);
      K.free(v);
    }
    expect(inMemory(K, b) || inMemory(K, scalars)).toBe(false);
    const secretProj = Projection.draw(K, L, aesCtrRandom(seed));
    expect(inMemory(K, b)).toBe(true);
    expect(inMemory(K, scalars)).toBe(false); // their scratch is wiped at once
    const v = K.allocZero(L);
    K.bytes(v.ptr + 8 * 2 * CHUNK_ELEMS, 8).set(elements(1, 1)); // one element in chunk 2
    const x = new BigUint64Array(elements(1, 1).buffer)[0]!;
    const b0 = new BigUint64Array(b.buffer)[0]!;
    const s2 = new BigUint64Array(scalars.buffer)[2]!;
    expect(secretProj.dot(0, v)).toBe((((x * b0) % p) * s2) % p); // r_i = s_k * b_(i mod CHUNK)
    K.free(v);
    secretProj.wipe();
    expect(inMemory(K, b)).toBe(false);
    expect(() => secretProj.dot(0, { ptr: 0, length: 1 })).toThrow(/after it was released/);
    const publicProj = Projection.draw(K, L, aesCtrRandom(seed));
    publicProj.free();
    expect(inMemory(K, b)).toBe(false); // the allocator wipes every block it takes back, public ones too
  });

  it('the projection splits any piece at the chunk boundaries', async () => {
    const K = await loadKernelsFresh();
    const L = 2 * CHUNK_ELEMS + 9;
    const pr = Projection.draw(K, L, aesCtrRandom(new Uint8Array(32).fill(12)));
    const v = K.alloc(L);
    K.bytes(v.ptr, L * 8).set(elements(L, 13));
    const whole = [0, CHUNK_ELEMS, 2 * CHUNK_ELEMS].reduce((acc, o) => (acc + pr.dot(o, { ptr: v.ptr + o * 8, length: Math.min(CHUNK_ELEMS, L - o) })) % p, 0n);
    let pieces = 0n;
    for (let o = 0; o < L; o += WIRE_CHUNK_ELEMS - 1) pieces = (pieces + pr.dot(o, { ptr: v.ptr + o * 8, length: Math.min(WIRE_CHUNK_ELEMS - 1, L - o) })) % p;
    expect(pieces).toBe(whole);
    pr.wipe();
  });

  it('the result is wiped at the end of the round, or at the last release of a hold', async () => {
    const K = await loadKernelsFresh();
    const L = 20 + EXTRA_ELEMS;
    for (const held of [false, true]) {
      const r = new ResultVector(K, L);
      const vec = r.vec!;
      expect(allZero(K.bytes(vec.ptr, L * 8))).toBe(true); // born zeroed
      K.bytes(vec.ptr, L * 8).set(elements(L, held ? 14 : 15));
      const release = held ? r.retain() : null;
      r.end();
      expect(allZero(K.bytes(vec.ptr, L * 8))).toBe(!held);
      release?.();
      expect(allZero(K.bytes(vec.ptr, L * 8))).toBe(true);
      expect(r.vec).toBeNull();
      expect(() => r.retain()).toThrow(/no result/);
    }
  });
});

describe('the round as a whole (RoundMemory)', () => {
  it('allocates nothing until it is used: an upload at its first bytes, the share memory at the first share in', async () => {
    const K = await loadKernelsFresh();
    const L = 3 * WIRE_CHUNK_ELEMS + EXTRA_ELEMS;
    const v = new RoundMemory(K, L, nobleSha256, aesCtrRandom);
    const s = v.beginUpdate();
    expect(K.usedBytes).toBe(0); // headers only: nothing allocated, nothing to wipe later
    v.abortUpdate(s);
    expect(K.usedBytes).toBe(0);
    v.acceptShare('us', 0, elements(8, 3));
    expect(K.usedBytes).toBeGreaterThanOrEqual(8 * L); // the held sum and the receive scratch
    v.zeroize();
    expect(K.usedBytes).toBe(0);
  });

  it('after zeroize nothing of the round is left in WASM memory: input, shares, aggregate share, projection, result', async () => {
    const K = await loadKernelsFresh();
    const P = CHUNK_ELEMS + 3;
    const v = new RoundMemory(K, P + EXTRA_ELEMS, nobleSha256, aesCtrRandom);
    const raw = bytesOf(update(P, 16));
    const s = v.beginUpdate();
    v.writeUpdate(s, raw);
    v.commitUpdate(s, 2, O);
    expect(inMemory(K, raw.subarray(0, 64))).toBe(false); // encoded in place over the raw values
    // t = 1, n = 2: the share of each holder is the sum itself, dealt to x = 1 (self) and x = 2
    const it = dealChunks(v, 1, 2, [1, 2], 1, nodeRandom);
    const first = it.next();
    if (first.done) throw new Error('no chunk');
    const sumHead = first.value.shares.get(2)!.slice(0, 64);
    for (let r = it.next(); !r.done; r = it.next());
    expect(inMemory(K, sumHead)).toBe(true); // the sum of held shares is the own share so far
    const peer = elements(P + EXTRA_ELEMS, 17);
    for (let o = 0; o < P + EXTRA_ELEMS; o += WIRE_CHUNK_ELEMS) v.acceptShare('b', o, peer.subarray(o * 8, Math.min(peer.length, (o + WIRE_CHUNK_ELEMS) * 8)));
    // the regional sum was wiped when dealt, the dealing's chunks when it ended, and the held
    // sum is now the own share plus b's: the sum's bytes are nowhere any more
    expect(inMemory(K, sumHead)).toBe(false);
    const lastChunk = peer.slice(8 * 4 * WIRE_CHUNK_ELEMS); // b's last chunk (4 elements): in the receive scratch
    const projSeed = new Uint8Array(32).fill(18);
    v.startReconstruction(new Map([['a', 2n]]), () => aesCtrRandom(projSeed)); // not 1: the result differs from the aggregate share
    v.acceptOwnAgg('a');
    const f = v.finish(() => 1, 1, O.scaleBits, ['a']);
    if (!f.ok) throw new Error('reconstruction failed');
    const agg = v.aggChunks();
    const aggHead = (agg.next().value as { data: Uint8Array }).data.slice(0, 64);
    agg.return(new Uint8Array());
    const probe = K.alloc(64);
    sampleField(K, probe.ptr, 64, aesCtrRandom(projSeed));
    const projHead = K.bytes(probe.ptr, 64 * 8).slice();
    K.zeroize(probe);
    K.free(probe);
    const live = [lastChunk, aggHead, projHead];
    expect(live.map((b) => inMemory(K, b))).toEqual([true, true, true]);
    const release = v.retainResult();
    const before = resultArray(f.result);
    v.zeroize();
    expect(live.map((b) => inMemory(K, b))).toEqual([false, false, false]);
    expect(resultArray(f.result)).toEqual(before); // held: the result alone is still there
    release();
    expect(() => resultArray(f.result)).toThrow(/result was wiped/);
  });
});

describe('version 2 (seeded dealing, seeds in, fan-in)', () => {
  it('after zeroize nothing of a version-2 round is left in WASM memory: computed and seeded shares, a seed\'s expansion, the held sum, the result', async () => {
    const K = await loadKernelsFresh();
    const P = WIRE_CHUNK_ELEMS + 5;
    const L = P + 2; // the weight and the blind
    const v = new RoundMemory(K, L, nobleSha256, aesCtrRandom, 2);
    addUpdate(v, update(P, 31), 3, O);
    // holders x = 1 (self), 2 (seeded), 3 (computed)
    const plan = { round: 'r', dealer: 'a', holders: [1, 2, 3], seeded: [2], idOf: (x: number) => ['a', 'b', 'c'][x - 1]! };
    const d = v.startSeededDealing(3, 1, plan, nodeRandom);
    const g = d.digests();
    let r = g.next();
    while (!r.done) r = g.next();
    const seed = d.seedOf(2);
    const expanded = K.alloc(64);
    expandSeededChunk(K, expanded, nobleSha256, aesCtrRandom, seed, { round: 'r', dealer: 'a', holder: 'b' }, 0);
    const seededHead = K.bytes(expanded.ptr, 64 * 8).slice();
    K.zeroize(expanded); // the test's own copy: gone before anything is searched
    K.free(expanded);
    seed.fill(0);
    const s = d.stream(new Uint8Array(32).fill(5));
    const computedHead = s.next(3)!.data.slice(0, 64);
    expect(inMemory(K, computedHead)).toBe(true); // in the dealing's cached chunk
    while (s.next(3));
    s.finish();
    expect(inMemory(K, computedHead)).toBe(false); // the dealing's chunks are wiped when it ends
    // a peer's seed expanded into the held sum, and a peer's share vector
    const peerSeed = new Uint8Array(32).fill(44);
    v.expectShare('b', new Uint8Array(32).fill(6));
    v.acceptSeed('b', peerSeed, { round: 'r', dealer: 'b', holder: 'a' });
    const peerExp = K.alloc(64);
    expandSeededChunk(K, peerExp, nobleSha256, aesCtrRandom, peerSeed, { round: 'r', dealer: 'b', holder: 'a' }, 0);
    const peerHead = K.bytes(peerExp.ptr, 64 * 8).slice();
    K.zeroize(peerExp);
    K.free(peerExp);
    v.expectShare('c', new Uint8Array(32).fill(7));
    const peer = elements(L, 32);
    for (let o = 0; o < L; o += WIRE_CHUNK_ELEMS) v.acceptShare('c', o, peer.subarray(o * 8, Math.min(peer.length, (o + WIRE_CHUNK_ELEMS) * 8)));
    expect(v.shareProjection('b')).toBeTypeOf('bigint');
    expect(v.shareProjection('c')).toBeTypeOf('bigint');
    v.startFanIn(new Map());
    v.acceptOwnAgg('a');
    v.aggChallenge(new Uint8Array(32).fill(8), true);
    v.restartFanIn('a', new Map([['a', 1n]]), true);
    const f = v.finishFanIn(O.scaleBits);
    const heldHead = v.aggChunkAt(0).slice(0, 64);
    const live = [heldHead];
    expect(live.map((b) => inMemory(K, b))).toEqual([true]);
    // seeds' expansions were consumed into the sums and their scratch wiped already
    expect([seededHead, peerHead].map((b) => inMemory(K, b))).toEqual([false, false]);
    v.zeroize();
    expect([...live, computedHead, seededHead, peerHead].map((b) => inMemory(K, b))).toEqual([false, false, false, false]);
    expect(() => resultArray(f)).toThrow(/result was wiped/);
  });
});
