/**
 * The round's share streams: dealing the regional sum out, chunk by chunk, to every holder;
 * taking other dealers' share streams in; and publishing the sum of held shares (this node's
 * aggregate share) back out.
 *
 * Lifetimes, all secret:
 * - the sum of held shares (own share plus every share received) is born, zeroed, when it is
 *   first needed (the first share in, or this node's dealing) and wiped when the round ends;
 *   reconstruction reads it (`heldSum`);
 * - a dealing's seed and cached chunks (dealing.ts) are born when the dealing starts and wiped
 *   when it ends, finished or abandoned, or when the round ends.
 * @module
 */
import type { RandomFill } from '../../field/random.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';
import type { HashFactory } from '../../core/crypto.js';
import { Dealing, dealtDigests, forwardDifferenceDealer } from './dealing.js';
import { advance, openStream, streamDigest, type ChunkIntake, type Stream } from './intake.js';
import type { Projection } from './projection.js';
import { seededDealer, type SeededPlan } from './seeded-dealing.js';
import { expandSeededChunk } from '../../sharing/seeded.js';
import { add as addMod } from '../../field/reference.js';

/**
 * Elements per `share` / `agg` message (128 KiB of data). Smaller than CHUNK_ELEMS, the unit of
 * the projections (docs/protocol.md), which chunks of any size are split against: every buffer
 * a message passes through (socket reads, ws reassembly, cipher output, the pooled frames, the
 * dealing outputs) stays small enough for malloc to reuse instead of growing the heap. Measured
 * (bench/RESULTS.md "Round"): peak RSS per node at 1e7 parameters, 5 regions, 249-259 MiB with
 * 65536-element messages, 241-246 with 16384 or 8192; a round of 1e6 at 3 regions took
 * 0.46 s, 0.45-0.47 s and 0.47-0.49 s (per-message costs). Receivers take chunks of up to
 * CHUNK_ELEMS (intake.ts).
 */
export const WIRE_CHUNK_ELEMS = 16384;

/** One chunk of a dealing: the share bytes for every holder but this node, by x. */
export interface DealtChunk {
  offset: number;
  shares: Map<number, Uint8Array>;
}

/** A held share's projection on its dealer's challenge (version 2): the form and the value so far. */
interface Projected {
  form: Projection | null;
  value: bigint;
}

/**
 * A version-2 dealing: first every holder's digest (`digests`, before the commitments are
 * sent), then the streams of the computed shares and the own share (`stream`), and the seeds.
 */
export interface SeededDealing {
  /** Every holder's digest by x (deals the whole input once, a chunk per step, sends nothing). */
  digests(): Generator<void, Map<number, Uint8Array>>;
  /**
   * The share streams of the holders that get computed shares; the own share is added to the
   * held sum and projected on `ownForm` (its dealer's challenge) as the lead deals it.
   */
  stream(ownForm: Projection): Dealing;
  /** A copy of seeded holder x's seed (secret: wipe it once sent). */
  seedOf(x: number): Uint8Array;
  /** The own share's projection once the lead has dealt every chunk. */
  ownProjection(): bigint;
  close(): void;
}

/** Shares in and out, and the sum of held shares. */
export class ShareStreams {
  /** The sum of held shares: allocated (zero) on first use, null again once wiped. */
  private acc: FieldVec | null = null;
  private wiped = false;
  private readonly streams = new Map<string, Stream>();
  /** Version 2: each held share's projection on its dealer's challenge. */
  private readonly projected = new Map<string, Projected>();
  private dealing: { close(): void } | null = null;

  constructor(
    private readonly K: WasmKernels,
    /** Elements per share vector (params + EXTRA_ELEMS). */
    private readonly length: number,
    private readonly hash: HashFactory,
    private readonly intake: ChunkIntake,
  ) {}

  /**
   * The sum of held shares (for reconstruction and the seal's projection), allocated zeroed the
   * first time it is needed: a round a peer opened holds no share memory until shares arrive or
   * this node deals.
   * @throws {Error} once wiped.
   */
  get heldSum(): FieldVec {
    if (this.wiped) throw new Error('the round vectors were wiped');
    return (this.acc ??= this.K.allocZero(this.length));
  }

  /**
   * Starts dealing `input` (see `RoundMemory.startDealing`): WIRE_CHUNK_ELEMS elements a chunk,
   * one cursor per holder, the own share added to the held sum as the lead deals each chunk.
   * Ended by its `close()`, or by `zeroize()` if the round ends first.
   */
  startDealing(input: FieldVec, t: number, n: number, holders: readonly number[], selfX: number, rng: RandomFill, stream: (key: Uint8Array) => RandomFill): Dealing {
    this.dealing?.close();
    const addOwn = (off: number, share: FieldVec): void => {
      // the lead runs only while the round is live; once wiped, the sum may belong to another round
      if (this.wiped) throw new Error('dealChunks resumed after the round vectors were wiped');
      const acc = this.heldSum;
      const a = { ptr: acc.ptr + off * 8, length: share.length };
      this.K.add(a, a, share);
    };
    const d = new Dealing(this.K, this.length, WIRE_CHUNK_ELEMS, n, holders, selfX, { onOwn: addOwn, hashAtLead: true }, forwardDifferenceDealer(this.K, input, WIRE_CHUNK_ELEMS, t, n, rng, stream, this.hash), this.hash);
    this.dealing = d;
    return d;
  }

  /**
   * Starts a version-2 dealing of `input` (its last element becomes the blind): see
   * `SeededDealing`. Ended by its `close()`, or by `zeroize()`.
   */
  startSeededDealing(input: FieldVec, n: number, selfX: number, plan: SeededPlan, rng: RandomFill, stream: (key: Uint8Array) => RandomFill, corruptX?: number): SeededDealing {
    this.dealing?.close();
    const dealer = seededDealer(this.K, input, WIRE_CHUNK_ELEMS, plan, rng, stream, this.hash, corruptX);
    let dealing: Dealing | null = null;
    let own = 0n;
    let ownDone = 0;
    const full = plan.holders.filter((x) => x !== selfX && !plan.seeded.includes(x));
    const sd: SeededDealing = {
      digests: () => dealtDigests(this.K, this.length, WIRE_CHUNK_ELEMS, n, plan.holders, dealer, this.hash),
      stream: (ownForm) => {
        const onOwn = (off: number, share: FieldVec): void => {
          if (this.wiped) throw new Error('dealChunks resumed after the round vectors were wiped');
          own = addMod(own, ownForm.dot(off, share));
          ownDone = off + share.length;
          const a = { ptr: this.heldSum.ptr + off * 8, length: share.length };
          this.K.add(a, a, share);
        };
        dealing = new Dealing(this.K, this.length, WIRE_CHUNK_ELEMS, n, plan.holders, selfX, { onOwn, hashAtLead: false }, dealer, this.hash, full);
        return dealing;
      },
      seedOf: (x) => dealer.seedOf(x),
      ownProjection: () => {
        if (ownDone !== this.length) throw new Error('ownProjection before the own share was dealt');
        return own;
      },
      close: () => {
        dealing?.close(); // closes the chunk dealer too
        dealer.close();
      },
    };
    this.dealing = sd;
    return sd;
  }

  /**
   * Version 2: `dealer`'s share to this node will be projected on `form` (drawn from the
   * dealer's challenge) as it arrives; call before the first chunk or the seed.
   */
  expect(dealer: string, form: Projection): void {
    if (this.streams.has(dealer) || this.projected.has(dealer)) throw new Error(`share from ${dealer} already under way`);
    this.projected.set(dealer, { form, value: 0n });
  }

  /**
   * Version 2: takes a seeded share: expands `seed` chunk by chunk (as the dealer did), hashing,
   * projecting and adding each chunk to the held sum. The expansion scratch is wiped.
   */
  acceptSeed(dealer: string, seed: Uint8Array, ids: { round: string; dealer: string; holder: string }, stream: (key: Uint8Array) => RandomFill): void {
    if (this.streams.has(dealer)) throw new Error(`seed from ${dealer} after its share stream began`);
    const s = openStream(this.hash);
    this.streams.set(dealer, s);
    const p = this.projected.get(dealer);
    const scratch = this.K.alloc(Math.min(WIRE_CHUNK_ELEMS, this.length));
    try {
      for (let off = 0; off < this.length; off += WIRE_CHUNK_ELEMS) {
        const v = { ptr: scratch.ptr, length: Math.min(WIRE_CHUNK_ELEMS, this.length - off) };
        expandSeededChunk(this.K, v, this.hash, stream, seed, ids, off / WIRE_CHUNK_ELEMS);
        if (p) p.value = addMod(p.value, p.form!.dot(off, v));
        const a = { ptr: this.heldSum.ptr + off * 8, length: v.length };
        this.K.add(a, a, v);
        const bytes = this.K.bytes(v.ptr, v.length * 8);
        advance(s, bytes);
      }
    } finally {
      this.K.free(scratch); // wipes
    }
    this.release(dealer);
  }

  /** Version 2: the projection of `dealer`'s share once all of it is in; undefined before. */
  projection(dealer: string): bigint | undefined {
    if (!this.digest(dealer)) return undefined;
    return this.projected.get(dealer)?.value;
  }

  /** Frees a complete share's projection form (its value stays). */
  private release(dealer: string): void {
    const p = this.projected.get(dealer);
    if (p?.form && this.digest(dealer)) {
      p.form.free();
      p.form = null;
    }
  }

  /** Marks the own share as received, with its digest (after dealing to self). */
  recordOwn(self: string, digest: Uint8Array, projection?: bigint): void {
    this.streams.set(self, { next: this.length, hash: this.hash(), digest });
    if (projection !== undefined) this.projected.set(self, { form: null, value: projection });
  }

  /** See `RoundMemory.acceptShare`. */
  accept(dealer: string, offset: number, data: Uint8Array): void {
    let s = this.streams.get(dealer);
    if (!s) this.streams.set(dealer, (s = openStream(this.hash)));
    const v = this.intake.take(s, offset, data, `share from ${dealer}`);
    const p = this.projected.get(dealer);
    if (p?.form) p.value = addMod(p.value, p.form.dot(offset, v));
    const a = { ptr: this.heldSum.ptr + offset * 8, length: v.length };
    this.K.add(a, a, v);
    advance(s, data);
    if (p) this.release(dealer);
  }

  /** Digest of `dealer`'s share once every element has arrived; undefined before. */
  digest(dealer: string): Uint8Array | undefined {
    return streamDigest(this.streams.get(dealer), this.length);
  }

  /** Dealers whose shares this node has touched (complete or not). */
  touched(): string[] {
    return [...this.streams.keys()];
  }

  /**
   * The chunk of the held sum at `offset` (a multiple of WIRE_CHUNK_ELEMS), a view valid until
   * WASM memory next grows: each peer's publishing stream keeps its own offset.
   * @throws {Error} once wiped.
   */
  publishChunk(offset: number): Uint8Array {
    if (this.wiped) throw new Error('aggChunks resumed after the round vectors were wiped');
    const m = Math.min(WIRE_CHUNK_ELEMS, this.length - offset);
    return this.K.bytes(this.heldSum.ptr + offset * 8, m * 8);
  }

  /** The held sum's digest: `ownDigest()` when reconstruction has already hashed it, else hashed here. */
  publishDigest(ownDigest: () => Uint8Array | undefined): Uint8Array {
    const own = ownDigest();
    if (own) return own;
    const h = this.hash();
    for (let off = 0; off < this.length; off += WIRE_CHUNK_ELEMS) h.update(this.publishChunk(off));
    return h.digest();
  }

  /**
   * The held sum in WIRE_CHUNK_ELEMS-element chunks, each a view valid until the generator is
   * resumed; returns its digest. `ownDigest` gives the digest when reconstruction has already
   * hashed the same bytes (`acceptOwnAgg`): then they are not hashed twice.
   */
  *publish(ownDigest: () => Uint8Array | undefined): Generator<{ offset: number; data: Uint8Array }, Uint8Array> {
    const h = ownDigest() ? null : this.hash();
    for (let off = 0; off < this.length; off += WIRE_CHUNK_ELEMS) {
      if (this.wiped) throw new Error('aggChunks resumed after the round vectors were wiped');
      const m = Math.min(WIRE_CHUNK_ELEMS, this.length - off);
      const bytes = this.K.bytes(this.heldSum.ptr + off * 8, m * 8);
      h?.update(bytes);
      yield { offset: off, data: bytes };
    }
    return ownDigest() ?? h!.digest();
  }

  /** Wipes and frees the held sum and an unfinished dealing's chunks. Idempotent. */
  zeroize(): void {
    this.dealing?.close();
    this.dealing = null;
    this.wiped = true;
    for (const p of this.projected.values()) p.form?.free();
    this.projected.clear();
    if (!this.acc) return;
    this.K.free(this.acc); // wipes
    this.acc = null;
  }
}
