/**
 * The round's share streams: dealing the regional sum out, chunk by chunk, to every holder;
 * taking other dealers' share streams in; and publishing the sum of held shares (this node's
 * aggregate share) back out.
 *
 * Lifetimes, all secret:
 * - the sum of held shares (own share plus every share received) is born, zeroed, when it is
 *   first needed (the first share in, or this node's dealing) and wiped when the round ends;
 *   reconstruction reads it (`heldSum`);
 * - a dealing's output chunks (one per participant) are born when the dealing starts and wiped
 *   when it ends, finished or abandoned.
 * @module
 */
import { deal } from '../../sharing/shamir.js';
import type { RandomFill } from '../../field/random.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';
import type { HashFactory } from '../../core/crypto.js';
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
   * Deals `input` (see `RoundMemory.dealChunks`): WIRE_CHUNK_ELEMS elements at a time, the own
   * share added to the held sum at once, the others yielded as views into the output chunks.
   * @returns digests of every holder's whole share vector, by x.
   */
  *deal(input: FieldVec, t: number, n: number, holders: readonly number[], selfX: number, rng: RandomFill): Generator<DealtChunk, Map<number, Uint8Array>> {
    const outs = Array.from({ length: n }, () => this.K.alloc(Math.min(WIRE_CHUNK_ELEMS, this.length)));
    const hashes = new Map(holders.map((x) => [x, this.hash()] as const));
    try {
      for (let off = 0; off < this.length; off += WIRE_CHUNK_ELEMS) {
        // resumed after zeroize (the round ended while its caller waited): the input and the
        // sum are freed and may belong to another round by now
        if (this.wiped) throw new Error('dealChunks resumed after the round vectors were wiped');
        const acc = this.heldSum;
        const m = Math.min(WIRE_CHUNK_ELEMS, this.length - off);
        const sub = (v: FieldVec): FieldVec => ({ ptr: v.ptr, length: m });
        deal(this.K, { ptr: input.ptr + off * 8, length: m }, t, n, outs.map(sub), rng);
        const shares = new Map<number, Uint8Array>();
        for (const x of holders) {
          const o = sub(outs[x - 1]!);
          const bytes = this.K.bytes(o.ptr, m * 8);
          hashes.get(x)!.update(bytes);
          if (x === selfX) {
            const a = { ptr: acc.ptr + off * 8, length: m };
            this.K.add(a, a, o);
          } else {
            shares.set(x, bytes);
          }
        }
        yield { offset: off, shares };
      }
      return new Map([...hashes].map(([x, h]) => [x, h.digest()]));
    } finally {
      for (const o of outs) {
        this.K.free(o); // wipes
      }
    }
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

  /** Wipes and frees the held sum. Idempotent. */
  zeroize(): void {
    this.wiped = true;
    if (!this.acc) return;
    this.K.free(this.acc); // wipes
    this.acc = null;
  }
}
