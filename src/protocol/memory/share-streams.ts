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
import { Dealing } from './dealing.js';
import { advance, openStream, streamDigest, type ChunkIntake, type Stream } from './intake.js';

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

/** Shares in and out, and the sum of held shares. */
export class ShareStreams {
  /** The sum of held shares: allocated (zero) on first use, null again once wiped. */
  private acc: FieldVec | null = null;
  private wiped = false;
  private readonly streams = new Map<string, Stream>();
  private dealing: Dealing | null = null;

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
    this.dealing = new Dealing(this.K, this.length, WIRE_CHUNK_ELEMS, t, n, holders, selfX, { input, addOwn }, rng, stream, this.hash);
    return this.dealing;
  }

  /** Marks the own share as received, with its digest (after dealing to self). */
  recordOwn(self: string, digest: Uint8Array): void {
    this.streams.set(self, { next: this.length, hash: this.hash(), digest });
  }

  /** See `RoundMemory.acceptShare`. */
  accept(dealer: string, offset: number, data: Uint8Array): void {
    let s = this.streams.get(dealer);
    if (!s) this.streams.set(dealer, (s = openStream(this.hash)));
    const v = this.intake.take(s, offset, data, `share from ${dealer}`);
    const a = { ptr: this.heldSum.ptr + offset * 8, length: v.length };
    this.K.add(a, a, v);
    advance(s, data);
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
    if (!this.acc) return;
    this.K.free(this.acc); // wipes
    this.acc = null;
  }
}
