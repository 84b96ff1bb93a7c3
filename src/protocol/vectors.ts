/**
 * The vector side of one round at one node: the regional input, the running sum of shares it
 * holds, the streaming reconstruction of the aggregate, and the digests that commit to them.
 *
 * Everything large lives here, in WASM memory, and is streamed in chunks of CHUNK_ELEMS
 * elements, so memory is O(model) for the three accumulators and O(chunk) for everything else.
 * The round state machine (round.ts) decides; this class only computes. No I/O, no clock.
 * @module
 */
import { FieldError } from '../errors.js';
import { CHUNK_ELEMS, decodeVector, encodeStaged, encodeUpdate } from '../field/fixed-point.js';
import { sampleField, type RandomFill } from '../field/random.js';
import * as R from '../field/reference.js';
import type { FieldVec, WasmKernels } from '../field/wasm.js';
import { checkPointsOnPolynomial, deal } from '../sharing/shamir.js';
import type { HashFactory, Hasher } from '../core/crypto.js';
import { EXTRA_ELEMS } from './params.js';


/**
 * Elements per `share` / `agg` message (128 KiB of data). Smaller than CHUNK_ELEMS, the unit of
 * the projections (docs/protocol.md), which chunks of any size are split against: every buffer
 * a message passes through (socket reads, ws reassembly, cipher output, the pooled frames, the
 * dealing outputs) stays small enough for malloc to reuse instead of growing the heap. Measured
 * (bench/RESULTS.md "Round"): peak RSS per node at 1e7 parameters, 5 regions, 249-259 MiB with
 * 65536-element messages, 241-246 with 16384 or 8192; a round of 1e6 at 3 regions took
 * 0.46 s, 0.45-0.47 s and 0.47-0.49 s (per-message costs). Receivers take chunks of up to
 * CHUNK_ELEMS.
 */
export const WIRE_CHUNK_ELEMS = 16384;

interface Stream {
  next: number; // next expected element offset
  hash: Hasher;
  digest?: Uint8Array;
}

/**
 * The reconstructed aggregate, read in pieces straight from WASM memory (no model-sized
 * JavaScript array). Valid until the round's vectors are wiped: hold it with
 * `RoundVectors.retainResult` while reading after the round.
 */
export interface RoundResult {
  /** Number of model parameters (without the weight element). */
  readonly params: number;
  /** Sum of the contributing regions' total weights. */
  readonly totalWeight: number;
  /**
   * Decodes elements [offset, offset + out.length) of the weighted sum, or of the weighted mean
   * (each float32 sum value divided by the total weight, rounded to float32: the bytes the
   * transcript's mean digest covers), into `out`.
   */
  read(offset: number, out: Float32Array, reduce: 'sum' | 'mean'): void;
}

/** The whole result as one Float32Array (tests, the harness, small models). */
export function resultArray(r: RoundResult, reduce: 'sum' | 'mean' = 'sum'): Float32Array {
  const out = new Float32Array(r.params);
  r.read(0, out, reduce);
  return out;
}

/**
 * Stages, validates and adds one in-memory update (the harness and tests; the node streams
 * HTTP bodies through `beginUpdate` / `writeUpdate` / `commitUpdate` instead).
 * @throws {FieldError} as `commitUpdate`; the sum is as it was.
 */
export function addUpdate(v: RoundVectors, update: Float32Array, weight: number, o: { scaleBits: number; clipL2: number; clipMode: 'clip' | 'reject' }): void {
  if (update.length !== v.length - EXTRA_ELEMS) throw new FieldError('FIELD_LENGTH_MISMATCH', `update has ${update.length} values, this round has ${v.length - EXTRA_ELEMS} parameters`);
  const s = v.beginUpdate();
  try {
    v.writeUpdate(s, new Uint8Array(update.buffer, update.byteOffset, update.byteLength));
    v.commitUpdate(s, weight, o);
  } finally {
    v.abortUpdate(s);
  }
}

/** A trainer's update on its way in: raw float32 bytes written into WASM memory. */
export interface UpdateStaging {
  /** Byte address of the float32 values. */
  readonly ptr: number;
  /** Expected bytes (4 x params). */
  readonly bytes: number;
  /** True: the staging is the upper half of the regional sum's own memory (the round's first update). */
  readonly inPlace: boolean;
  /** Bytes written so far. */
  written: number;
}

/**
 * secret: `input` (the region's encoded sum), `acc` (shares from other regions) and every
 * chunk passed through here. `zeroize()` wipes all of them when the round ends.
 */
export class RoundVectors {
  readonly length: number;
  private input: FieldVec | null = null;
  /** The regional sum holds at least one update (else `input` is unset or only staging memory). */
  private inputReady = false;
  /** The first update is being staged inside `input` (see `beginUpdate`). */
  private inPlacePending = false;
  private readonly staged = new Set<UpdateStaging>();
  private acc: FieldVec;
  private result: FieldVec | null = null;
  private readonly shares = new Map<string, Stream>();
  private readonly aggs = new Map<string, Stream & { coeff: bigint | null; proj: bigint }>();
  private readonly chunk: FieldVec;

  constructor(
    private readonly K: WasmKernels,
    /** model parameters + EXTRA_ELEMS */
    length: number,
    readonly hash: HashFactory,
    /** Deterministic stream from a 32-byte public seed (the Fiat-Shamir challenge): AES-256-CTR. */
    private readonly stream: (seed: Uint8Array) => RandomFill,
  ) {
    this.length = length;
    this.acc = K.allocZero(length);
    this.chunk = K.alloc(Math.min(CHUNK_ELEMS, length));
  }

  /**
   * Starts receiving one trainer's update. The round's first update is staged in the upper half
   * of the regional sum's own memory and encoded in place (`encodeStaged`), so a round with one
   * trainer per region never holds the float32 update beside the field vectors; while it is
   * staged (`sumBusy`), later updates get memory of their own and must wait to be committed.
   * secret: the staging holds raw trainer values until `commitUpdate` / `abortUpdate` wipes it.
   */
  beginUpdate(): UpdateStaging {
    const P = this.length - EXTRA_ELEMS;
    let s: UpdateStaging;
    if (!this.inputReady && !this.inPlacePending) {
      this.input ??= this.K.alloc(this.length);
      this.inPlacePending = true;
      s = { ptr: this.input.ptr + 4 * P, bytes: 4 * P, inPlace: true, written: 0 };
    } else {
      s = { ptr: this.K.allocBytes(4 * P), bytes: 4 * P, inPlace: false, written: 0 };
    }
    this.staged.add(s);
    return s;
  }

  /**
   * Appends body bytes to a staging.
   * @throws {FieldError} FIELD_LENGTH_MISMATCH past 4 x params bytes.
   */
  writeUpdate(s: UpdateStaging, data: Uint8Array): void {
    if (!this.staged.has(s)) throw new Error('writeUpdate: staging already committed or aborted');
    if (s.written + data.length > s.bytes) throw new FieldError('FIELD_LENGTH_MISMATCH', `update is longer than the round's ${s.bytes / 4} float32 values`);
    this.K.bytes(s.ptr + s.written, data.length).set(data);
    s.written += data.length;
  }

  /**
   * Validates, clips, weights and encodes a complete staged update and adds it to the regional
   * sum (the last element carries the weight). The staging is wiped and released either way;
   * on bad input the sum is as it was.
   * @throws {FieldError} ENCODE_NOT_FINITE, ENCODE_OUT_OF_BOUND, FIELD_LENGTH_MISMATCH.
   * @throws {Error} for a separate staging while the in-place one is pending (`sumBusy`): wait.
   */
  commitUpdate(s: UpdateStaging, weight: number, o: { scaleBits: number; clipL2: number; clipMode: 'clip' | 'reject' }): void {
    if (!this.staged.has(s)) throw new Error('commitUpdate: staging already committed or aborted');
    if (!s.inPlace && this.inPlacePending) throw new Error('commitUpdate: the regional sum is busy with the first update; wait for it');
    const P = this.length - EXTRA_ELEMS;
    try {
      if (s.written !== s.bytes) throw new FieldError('FIELD_LENGTH_MISMATCH', `update has ${s.written / 4} values, this round has ${P} parameters`);
      const enc = { ...o, weight };
      const one = { scaleBits: o.scaleBits, clipL2: 1, clipMode: 'reject' as const, weight };
      if (!this.inputReady) {
        const input = (this.input ??= this.K.alloc(this.length));
        try {
          encodeStaged(this.K, s.ptr, P, { ptr: input.ptr, length: P }, enc);
        } catch (e) {
          this.K.zeroize(input); // partly encoded (or the staged values in its upper half)
          throw e;
        }
        encodeUpdate(this.K, Float32Array.of(1), { ptr: input.ptr + P * 8, length: 1 }, one);
        this.inputReady = true;
        // in place, the encoding has overwritten every staged byte: nothing left to wipe
        if (s.inPlace) this.forget(s);
        return;
      }
      // validated before the sum is touched; a failure in pass 2 is rolled back
      const input = this.input!;
      encodeStaged(this.K, s.ptr, P, { ptr: input.ptr, length: P }, enc, true);
      const w = this.K.alloc(1);
      encodeUpdate(this.K, Float32Array.of(1), w, one);
      const last = { ptr: input.ptr + P * 8, length: 1 };
      this.K.add(last, last, w);
      this.K.free(w);
    } finally {
      if (this.staged.has(s)) this.release(s);
    }
  }

  /** Wipes and releases a staging whose upload failed or was refused. Idempotent. */
  abortUpdate(s: UpdateStaging): void {
    if (this.staged.has(s)) this.release(s);
  }

  private release(s: UpdateStaging): void {
    this.K.bytes(s.ptr, s.bytes).fill(0); // secret: raw trainer values
    this.forget(s);
  }

  private forget(s: UpdateStaging): void {
    this.staged.delete(s);
    if (s.inPlace) this.inPlacePending = false;
    else this.K.freeBytes(s.ptr, s.bytes);
  }

  /** True while the round's first update is staged inside the regional sum: later commits must wait. */
  get sumBusy(): boolean {
    return this.inPlacePending;
  }

  /** True once at least one update is in the regional sum. */
  get hasInput(): boolean {
    return this.inputReady;
  }

  /**
   * Deals the input to `holders` (x of every holder, self included) chunk by chunk. Yields, per
   * chunk, the share bytes for every holder except `selfX`, whose share is added to the local
   * sum at once. The yielded bytes are views into WASM memory, valid until the generator is
   * resumed: encode or copy them before asking for the next chunk.
   * @returns digests of every holder's whole share vector, by x.
   */
  *dealChunks(t: number, n: number, holders: readonly number[], selfX: number, rng: RandomFill): Generator<{ offset: number; shares: Map<number, Uint8Array> }, Map<number, Uint8Array>> {
    const input = this.input;
    if (!input || !this.inputReady) throw new Error('dealChunks without input');
    const outs = Array.from({ length: n }, () => this.K.alloc(Math.min(WIRE_CHUNK_ELEMS, this.length)));
    const hashes = new Map(holders.map((x) => [x, this.hash()] as const));
    try {
      for (let off = 0; off < this.length; off += WIRE_CHUNK_ELEMS) {
        // resumed after zeroize (the round ended while its caller waited): the input and the
        // sum are freed and may belong to another round by now
        if (this.wiped) throw new Error('dealChunks resumed after the round vectors were wiped');
        const m = Math.min(WIRE_CHUNK_ELEMS, this.length - off);
        const sub = (v: FieldVec): FieldVec => ({ ptr: v.ptr, length: m });
        deal(this.K, { ptr: input.ptr + off * 8, length: m }, t, n, outs.map(sub), rng);
        const shares = new Map<number, Uint8Array>();
        for (const x of holders) {
          const o = sub(outs[x - 1]!);
          const bytes = this.K.bytes(o.ptr, m * 8);
          hashes.get(x)!.update(bytes);
          if (x === selfX) {
            const a = { ptr: this.acc.ptr + off * 8, length: m };
            this.K.add(a, a, o);
          } else {
            shares.set(x, bytes);
          }
        }
        yield { offset: off, shares };
      }
      // the input is dealt: wipe it and hand its memory back (reconstruction reuses it, so a
      // node holds two model-sized field vectors at a time, not three)
      this.K.zeroize(input);
      this.K.free(input);
      this.input = null;
      this.inputReady = false;
      return new Map([...hashes].map(([x, h]) => [x, h.digest()]));
    } finally {
      for (const o of outs) {
        this.K.zeroize(o);
        this.K.free(o);
      }
    }
  }

  /** Marks the own share as received, with its digest (after dealing to self). */
  recordOwnShare(self: string, digest: Uint8Array): void {
    const s: Stream = { next: this.length, hash: this.hash(), digest };
    this.shares.set(self, s);
  }

  /**
   * Adds a chunk of `dealer`'s share to the local sum.
   * @throws {FieldError} on a gap, overlap, overrun, odd length or an element >= p.
   */
  acceptShare(dealer: string, offset: number, data: Uint8Array): void {
    let s = this.shares.get(dealer);
    if (!s) this.shares.set(dealer, (s = { next: 0, hash: this.hash() }));
    const v = this.stage(s, offset, data, `share from ${dealer}`);
    const a = { ptr: this.acc.ptr + offset * 8, length: v.length };
    this.K.add(a, a, v);
    s.hash.update(data);
    s.next += v.length;
  }

  /** Digest of `dealer`'s share once every element has arrived; undefined before. */
  shareDigest(dealer: string): Uint8Array | undefined {
    const s = this.shares.get(dealer);
    if (!s || s.next !== this.length) return undefined;
    return (s.digest ??= s.hash.digest());
  }

  /** Dealers whose shares this node has touched (complete or not). */
  touchedDealers(): string[] {
    return [...this.shares.keys()];
  }

  /** The aggregate share (sum of held shares) in chunks, for publishing; plus its digest at the end. */
  *aggChunks(): Generator<{ offset: number; data: Uint8Array }, Uint8Array> {
    // acceptOwnAgg already hashed the same bytes: do not hash 8 bytes x params twice
    const h = this.ownAggDigest ? null : this.hash();
    for (let off = 0; off < this.length; off += WIRE_CHUNK_ELEMS) {
      if (this.wiped) throw new Error('aggChunks resumed after the round vectors were wiped');
      const m = Math.min(WIRE_CHUNK_ELEMS, this.length - off);
      const bytes = this.K.bytes(this.acc.ptr + off * 8, m * 8);
      h?.update(bytes);
      yield { offset: off, data: bytes }; // a view: valid until the generator is resumed
    }
    return this.ownAggDigest ?? h!.digest();
  }
  private ownAggDigest: Uint8Array | undefined;

  /**
   * Prepares reconstruction: `coeffs` maps each holder in R to its Lagrange coefficient at 0
   * (null for holders outside the t used for interpolation; their shares are only checked).
   * `seed` keys the random projection (secret until every aggregate share is in).
   */
  startReconstruction(coeffs: ReadonlyMap<string, bigint | null>, projRng: () => RandomFill): void {
    this.result = this.K.allocZero(this.length);
    this.proj = this.projection(projRng());
    for (const [holder, coeff] of coeffs) {
      this.aggs.set(holder, { next: 0, hash: this.hash(), coeff, proj: 0n });
    }
  }

  /**
   * The random linear form of the consistency checks, r = s_k * b_i for element i of chunk k:
   * one chunk-sized random vector b and one random scalar per chunk, drawn from `rng`.
   * Soundness (Schwartz-Zippel): for an error vector e != 0, sum_k s_k <b, e_k> is a non-zero
   * polynomial of degree 2 in the random values, so it vanishes with probability <= 2/p. Costs
   * one dot product per chunk and 8 x (CHUNK + chunks) random bytes, not 8 bytes per element.
   */
  private projection(rng: RandomFill): { b: FieldVec; s: bigint[] } {
    const b = this.K.alloc(Math.min(CHUNK_ELEMS, this.length));
    sampleInto(this.K, b, rng);
    const chunks = Math.ceil(this.length / CHUNK_ELEMS);
    const sv = this.K.alloc(chunks);
    try {
      sampleInto(this.K, sv, rng);
      return { b, s: Array.from(this.K.view(sv)) };
    } finally {
      this.K.free(sv);
    }
  }

  /**
   * <v, r> for the elements `v` at element `offset`, of any length: split at the projection
   * chunks' boundaries, each piece weighted by its chunk's scalar.
   */
  private projectChunk(p: { b: FieldVec; s: bigint[] }, offset: number, v: FieldVec): bigint {
    let sum = 0n;
    for (let i = 0; i < v.length; ) {
      const o = offset + i;
      const inChunk = o % CHUNK_ELEMS;
      const m = Math.min(v.length - i, CHUNK_ELEMS - inChunk);
      const d = this.K.dot({ ptr: v.ptr + i * 8, length: m }, { ptr: p.b.ptr + inChunk * 8, length: m });
      sum = R.add(sum, R.mul(p.s[(o - inChunk) / CHUNK_ELEMS]!, d));
      i += m;
    }
    return sum;
  }
  private proj: { b: FieldVec; s: bigint[] } | null = null;

  /**
   * Own aggregate share enters reconstruction directly, from the local sum (no copy, no range
   * check: it was built here from checked shares).
   */
  acceptOwnAgg(self: string): Uint8Array {
    const s = this.aggs.get(self);
    if (!s || !this.result) throw new FieldError('SHARING_BAD_POINTS', `own aggregate share of ${self}, which is not a decided holder`);
    if (s.next !== 0) throw new FieldError('SHARING_BAD_POINTS', `own aggregate share of ${self} entered twice`);
    for (let off = 0; off < this.length; off += CHUNK_ELEMS) {
      const m = Math.min(CHUNK_ELEMS, this.length - off);
      const v = { ptr: this.acc.ptr + off * 8, length: m };
      this.project(s, off, v);
      s.hash.update(this.K.bytes(v.ptr, m * 8));
      s.next += m;
    }
    return (this.ownAggDigest = s.digest = s.hash.digest());
  }

  /** Adds a chunk of `holder`'s aggregate share into the reconstruction and its projection. */
  acceptAgg(holder: string, offset: number, data: Uint8Array): void {
    const s = this.aggs.get(holder);
    if (!s || !this.result) throw new FieldError('SHARING_BAD_POINTS', `aggregate share from ${holder}, which is not a decided holder`);
    const v = this.stage(s, offset, data, `aggregate share from ${holder}`);
    this.project(s, offset, v);
    s.hash.update(data);
    s.next += v.length;
  }

  /** Adds chunk `v` (at `offset`) of a holder's aggregate share to the result and its projection. */
  private project(s: { coeff: bigint | null; proj: bigint }, offset: number, v: FieldVec): void {
    if (s.coeff !== null) this.K.mulAdd({ ptr: this.result!.ptr + offset * 8, length: v.length }, v, s.coeff);
    s.proj = R.add(s.proj, this.projectChunk(this.proj!, offset, v));
  }

  aggDigest(holder: string): Uint8Array | undefined {
    const s = this.aggs.get(holder);
    if (!s || s.next !== this.length) return undefined;
    return (s.digest ??= s.hash.digest());
  }

  /**
   * Checks that the aggregate shares lie on one polynomial of degree t-1 (needs |R| > t to
   * detect anything) and decodes the result.
   * @returns the result, or the culprits' names (null when they cannot be identified).
   */
  finish(xOf: (holder: string) => number, t: number, scaleBits: number, holders: readonly string[]): { ok: true; result: RoundResult } | { ok: false; culprits: string[] | null } {
    const xs = holders.map((h) => BigInt(xOf(h)));
    const ys = holders.map((h) => this.aggs.get(h)!.proj);
    const check = checkPointsOnPolynomial(xs, ys, t);
    if (!check.ok) {
      return { ok: false, culprits: check.bad === null ? null : check.bad.map((x) => holders[xs.indexOf(BigInt(x))]!) };
    }
    const res = this.result!;
    const P = this.length - EXTRA_ELEMS;
    const extra = new Float64Array(EXTRA_ELEMS);
    decodeVector(this.K, { ptr: res.ptr + P * 8, length: EXTRA_ELEMS }, extra, scaleBits);
    const totalWeight = extra[0]!;
    const read = (offset: number, out: Float32Array, reduce: 'sum' | 'mean'): void => {
      if (this.result !== res) throw new Error('the round result was wiped: read it before the round ends, or retainResult()');
      if (!Number.isSafeInteger(offset) || offset < 0 || offset + out.length > P) throw new RangeError(`result read of [${offset}, ${offset + out.length}) outside [0, ${P})`);
      decodeVector(this.K, { ptr: res.ptr + offset * 8, length: out.length }, out, scaleBits, reduce === 'mean' ? totalWeight : 1);
    };
    return { ok: true, result: { params: P, totalWeight, read } };
  }

  /**
   * Keeps the reconstructed result readable after `zeroize` (which then wipes everything else)
   * until every returned release function has been called; the last one wipes it.
   */
  retainResult(): () => void {
    if (!this.result) throw new Error('retainResult: no result');
    this.resultRefs++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.resultRefs === 0 && this.wiped) this.wipeResult();
    };
  }
  private resultRefs = 0;

  private wipeResult(): void {
    if (!this.result) return;
    this.K.zeroize(this.result);
    this.K.free(this.result);
    this.result = null;
  }

  /**
   * Fiat-Shamir projections for the transcript's consistency check: with r = s_k * b_i drawn
   * from `challenge` (the injected stream: AES-256-CTR keyed by the challenge; b first, then
   * the per-chunk scalars, each rejection-sampled), returns <own aggregate share, r> and
   * <reconstructed result, r>. Call after `finish` and before `zeroize`. Every node derives the
   * same r from the same challenge.
   */
  fsProjections(challenge: Uint8Array): { share: bigint; result: bigint } {
    if (!this.result) throw new Error('fsProjections before reconstruction');
    const p = this.projection(this.stream(challenge));
    let share = 0n;
    let result = 0n;
    try {
      for (let off = 0; off < this.length; off += CHUNK_ELEMS) {
        const m = Math.min(CHUNK_ELEMS, this.length - off);
        share = R.add(share, this.projectChunk(p, off, { ptr: this.acc.ptr + off * 8, length: m }));
        result = R.add(result, this.projectChunk(p, off, { ptr: this.result.ptr + off * 8, length: m }));
      }
    } finally {
      this.K.free(p.b);
    }
    return { share, result };
  }

  /** Copies a chunk into scratch after checking position, size and range. */
  private stage(s: Stream, offset: number, data: Uint8Array, what: string): FieldVec {
    if (offset !== s.next) throw new FieldError('SHARING_BAD_POINTS', `${what}: chunk at element ${offset}, expected ${s.next}`);
    if (data.length % 8 !== 0 || data.length === 0 || data.length > CHUNK_ELEMS * 8) {
      throw new FieldError('FIELD_LENGTH_MISMATCH', `${what}: chunk of ${data.length} bytes (must be 8..${CHUNK_ELEMS * 8}, a multiple of 8)`);
    }
    const m = data.length / 8;
    if (offset + m > this.length) throw new FieldError('FIELD_LENGTH_MISMATCH', `${what}: ${offset + m} elements, round has ${this.length}`);
    const v = { ptr: this.chunk.ptr, length: m };
    this.K.bytes(v.ptr, data.length).set(data);
    this.K.assertCanonical(v, what);
    return v;
  }

  /**
   * Wipes every secret vector (open stagings included) and returns the memory. Idempotent. A
   * retained result stays until its last release.
   */
  zeroize(): void {
    if (this.wiped) return;
    this.wiped = true;
    for (const s of [...this.staged]) this.release(s);
    for (const v of [this.input, this.acc, this.chunk, this.proj?.b]) {
      if (v) {
        this.K.zeroize(v);
        this.K.free(v);
      }
    }
    this.input = null;
    this.inputReady = false;
    this.proj = null;
    if (this.resultRefs === 0) this.wipeResult();
  }
  private wiped = false;
}

function sampleInto(K: WasmKernels, v: FieldVec, rng: RandomFill): void {
  sampleField(K, v.ptr, v.length, rng);
}
