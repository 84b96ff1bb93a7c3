/**
 * The round's secret memory at one node, under one owner: `RoundMemory` composes the three
 * lifetimes of a round's vectors, each in its own module that owns its WASM buffers and wipes
 * them (src/protocol/memory/):
 *
 * - regional input (input.ts): trainers' stagings and the regional sum; born with the first
 *   update, wiped when dealt;
 * - share streams (share-streams.ts, intake.ts): dealing out, shares in, the sum of held shares
 *   and its publishing; born with the round, wiped when it ends;
 * - reconstruction (reconstruction.ts, projection.ts, result.ts): aggregate shares in, the
 *   result and the checks; born with the decision, wiped when the round ends (the result at its
 *   last release if it is held).
 *
 * Everything large lives in WASM memory and is streamed in chunks, so memory is O(model) for
 * the two model-sized vectors held at a time and O(chunk) for everything else. The round state
 * machine (src/protocol/step.ts) decides; this class only computes. No I/O, no clock.
 * @module
 */
import { P } from '../../field/reference.js';
import type { RandomFill } from '../../field/random.js';
import type { WasmKernels } from '../../field/wasm.js';
import type { HashFactory } from '../../core/crypto.js';
import { EXTRA_ELEMS } from '../params.js';
import { ChunkIntake } from './intake.js';
import { RegionalInput, type UpdateEncoding, type UpdateStaging } from './input.js';
import { notDecidedHolder, Reconstruction } from './reconstruction.js';
import type { RoundResult } from './result.js';
import { ShareStreams } from './share-streams.js';
import { FanIn } from './fan-in.js';
import { Projection } from './projection.js';
import type { SeededPlan, SeededShareDealing } from './seeded-dealing.js';
import type { ShareDealing } from './dealing.js';

export { WIRE_CHUNK_ELEMS, type DealtChunk } from './share-streams.js';
export { resultArray, type RoundResult } from './result.js';
export { addUpdate, dealChunks } from './lockstep.js';

export type { UpdateEncoding, UpdateStaging } from './input.js';
export type { SeededPlan, SeededShareDealing } from './seeded-dealing.js';
export type { ShareDealing } from './dealing.js';

/**
 * secret: the regional input and its stagings, the sum of held shares, the result and every
 * chunk passed through here. `zeroize()` wipes all of them when the round ends.
 */
export class RoundMemory {
  /** Elements per vector: model parameters + the extra elements (the weight; in version 2 also the blind). */
  readonly length: number;
  /** Model parameters per vector. */
  readonly params: number;
  private readonly input: RegionalInput;
  private readonly intake: ChunkIntake;
  private readonly shares: ShareStreams;
  private recon: Reconstruction | null = null;
  private fanIn: FanIn | null = null;
  /**
   * Test faults of the multi-process and harness tests (never set in production): the dealer
   * deals holder `corruptShareToX` a share off the polynomial (committed as dealt), and a
   * version-2 holder adds 1 to element 0 of its aggregate share before it commits to it.
   */
  testFaults: { corruptShareToX?: number; corruptAggregate?: boolean } = {};
  private wiped = false;

  constructor(
    private readonly K: WasmKernels,
    /** model parameters + EXTRA_ELEMS */
    length: number,
    readonly hash: HashFactory,
    /** Deterministic stream from a 32-byte seed (a Fiat-Shamir challenge, a share's key): AES-256-CTR. */
    private readonly stream: (seed: Uint8Array) => RandomFill,
    /** Elements after the parameters: src/protocol/params.ts extraElems (2 in version 2). */
    private readonly extra: number = EXTRA_ELEMS,
  ) {
    this.length = length;
    this.params = length - extra;
    this.input = new RegionalInput(K, length, extra);
    this.intake = new ChunkIntake(K, length);
    this.shares = new ShareStreams(K, length, hash, this.intake);
  }

  // ---- regional input (memory/input.ts) ----

  /**
   * Starts receiving one trainer's update. The round's first update is staged in the upper half
   * of the regional sum's own memory and encoded in place (`encodeStaged`), so a round with one
   * trainer per region never holds the float32 update beside the field vectors; while it is
   * staged (`sumBusy`), later updates get memory of their own and must wait to be committed.
   * secret: the staging holds raw trainer values until `commitUpdate` / `abortUpdate` wipes it.
   */
  beginUpdate(): UpdateStaging {
    return this.input.begin();
  }

  /**
   * Appends body bytes to a staging.
   * @throws {FieldError} FIELD_LENGTH_MISMATCH past 4 x params bytes.
   */
  writeUpdate(s: UpdateStaging, data: Uint8Array): void {
    this.input.write(s, data);
  }

  /**
   * Validates, clips, weights and encodes a complete staged update and adds it to the regional
   * sum (the last element carries the weight). The staging is wiped and released either way;
   * on bad input the sum is as it was.
   * @returns the clipping factor applied: clipL2 / norm for an update above clipL2 in 'clip' mode, else 1.
   * @throws {FieldError} ENCODE_NOT_FINITE, ENCODE_OUT_OF_BOUND, FIELD_LENGTH_MISMATCH.
   * @throws {Error} for a separate staging while the in-place one is pending (`sumBusy`): wait.
   */
  commitUpdate(s: UpdateStaging, weight: number, o: UpdateEncoding): number {
    return this.input.commit(s, weight, o);
  }

  /** Wipes and releases a staging whose upload failed or was refused. Idempotent. */
  abortUpdate(s: UpdateStaging): void {
    this.input.abort(s);
  }

  /** True while the round's first update is staged inside the regional sum: later commits must wait. */
  get sumBusy(): boolean {
    return this.input.busy;
  }

  /** True once at least one update is in the regional sum. */
  get hasInput(): boolean {
    return this.input.hasInput;
  }

  // ---- share streams (memory/share-streams.ts) ----

  /**
   * Starts dealing the input to `holders` (x of every holder, self included), one share stream
   * per holder other than `selfX`, each read at its own pace with `next(x)` (a view into WASM
   * memory, valid until the next call on the dealing: encode or copy it first). The own share is
   * added to the local sum as the dealing goes. `finish()` deals what is left, returns the
   * digests of every holder's whole share vector (by x), and wipes and frees the regional sum
   * (reconstruction reuses its memory); `close()` abandons the dealing. Either wipes the
   * dealing's own memory (dealing.ts), as does `zeroize()`.
   */
  startDealing(t: number, n: number, holders: readonly number[], selfX: number, rng: RandomFill): ShareDealing {
    const d = this.shares.startDealing(this.input.forDealing(), t, n, holders, selfX, rng, this.stream);
    return {
      next: (x) => d.next(x),
      dealAhead: () => d.dealAhead(),
      finish: () => {
        const digests = d.finish();
        d.close();
        this.input.dealt();
        return digests;
      },
      close: () => d.close(),
    };
  }

  /**
   * Version 2: starts dealing the input with seeded shares (`plan`: who holds, who gets a seed).
   * The input's last element becomes the dealer's random blind. `digests()` first (the
   * commitments), then `stream(challenge)`; `close()` ends it, as does `zeroize()`.
   */
  startSeededDealing(n: number, selfX: number, plan: SeededPlan, rng: RandomFill): SeededShareDealing {
    const d = this.shares.startSeededDealing(this.input.forDealing(), n, selfX, plan, rng, this.stream, this.testFaults.corruptShareToX);
    let form: Projection | null = null;
    return {
      digests: () => d.digests(),
      seedOf: (x) => d.seedOf(x),
      stream: (challenge) => {
        form = Projection.draw(this.K, this.length, this.stream(challenge));
        const dl = d.stream(form);
        return {
          next: (x) => dl.next(x),
          dealAhead: () => dl.dealAhead(),
          finish: () => {
            dl.finish();
            const own = d.ownProjection();
            d.close();
            form?.free();
            this.input.dealt();
            return own;
          },
        };
      },
      close: () => {
        d.close();
        form?.free();
        form = null;
      },
    };
  }

  /** Marks the own share as received, with its digest (after dealing to self) and, in version 2, its projection. */
  recordOwnShare(self: string, digest: Uint8Array, projection?: bigint): void {
    this.shares.recordOwn(self, digest, projection);
  }

  /**
   * Version 2: `dealer`'s share to this node is projected, as it arrives, on the form drawn from
   * `challenge` (the dealer's challenge, fixed by its commitments).
   */
  expectShare(dealer: string, challenge: Uint8Array): void {
    this.shares.expect(dealer, Projection.draw(this.K, this.length, this.stream(challenge)));
  }

  /** Version 2: takes `dealer`'s seed and expands, hashes, projects and adds the share it stands for. */
  acceptSeed(dealer: string, seed: Uint8Array, ids: { round: string; dealer: string; holder: string }): void {
    this.shares.acceptSeed(dealer, seed, ids, this.stream);
  }

  /** Version 2: the projection of `dealer`'s share to this node on its challenge, once complete. */
  shareProjection(dealer: string): bigint | undefined {
    return this.shares.projection(dealer);
  }

  /**
   * Adds a chunk of `dealer`'s share to the local sum.
   * @throws {FieldError} on a gap, overlap, overrun, odd length or an element >= p.
   */
  acceptShare(dealer: string, offset: number, data: Uint8Array): void {
    this.shares.accept(dealer, offset, data);
  }

  /** Digest of `dealer`'s share once every element has arrived; undefined before. */
  shareDigest(dealer: string): Uint8Array | undefined {
    return this.shares.digest(dealer);
  }

  /** Dealers whose shares this node has touched (complete or not). */
  touchedDealers(): string[] {
    return this.shares.touched();
  }

  /**
   * The chunk of the aggregate share (sum of held shares) at `offset`, for one peer's publishing
   * stream: a view valid until the next call into this memory.
   * @throws {Error} once wiped.
   */
  aggChunkAt(offset: number): Uint8Array {
    return this.shares.publishChunk(offset);
  }

  /** Digest of the aggregate share (sum of held shares) as published. */
  aggShareDigest(): Uint8Array {
    return this.shares.publishDigest(() => this.recon?.ownAggDigest ?? this.fanIn?.ownAggDigest);
  }

  /** The aggregate share (sum of held shares) in chunks, for publishing; plus its digest at the end. */
  aggChunks(): Generator<{ offset: number; data: Uint8Array }, Uint8Array> {
    // acceptOwnAgg already hashed the same bytes: do not hash 8 bytes x params twice
    return this.shares.publish(() => this.recon?.ownAggDigest);
  }

  // ---- reconstruction (memory/reconstruction.ts) ----

  /**
   * Prepares reconstruction: `coeffs` maps each holder in R to its Lagrange coefficient at 0
   * (null for holders outside the t used for interpolation; their shares are only checked).
   * `projRng` gives the stream that keys the random projection (secret until every aggregate
   * share is in).
   */
  startReconstruction(coeffs: ReadonlyMap<string, bigint | null>, projRng: () => RandomFill): void {
    this.recon = new Reconstruction(this.K, this.length, this.hash, this.intake, coeffs, projRng);
  }

  /**
   * Own aggregate share enters reconstruction directly, from the local sum (no copy, no range
   * check: it was built here from checked shares).
   */
  acceptOwnAgg(self: string): Uint8Array {
    if (this.fanIn && this.testFaults.corruptAggregate) {
      const v = this.K.view({ ptr: this.shares.heldSum.ptr, length: 1 });
      v[0] = (v[0]! + 1n) % P;
    }
    if (this.fanIn) return this.fanIn.acceptOwn(self, this.shares.heldSum);
    if (!this.recon) throw notDecidedHolder(`own aggregate share of ${self}`);
    return this.recon.acceptOwn(self, this.shares.heldSum);
  }

  /** Adds a chunk of `holder`'s aggregate share into the reconstruction and its projection. */
  acceptAgg(holder: string, offset: number, data: Uint8Array): void {
    if (this.fanIn) return this.fanIn.accept(holder, offset, data);
    if (!this.recon) throw notDecidedHolder(`aggregate share from ${holder}`);
    this.recon.accept(holder, offset, data);
  }

  /** Digest of `holder`'s aggregate share once every element has arrived; undefined before. */
  aggDigest(holder: string): Uint8Array | undefined {
    return this.recon?.digest(holder);
  }

  // ---- version 2: fan-in (memory/fan-in.ts) ----

  /** Prepares the version-2 reconstruction from the sources (and self) `coeffs` names. */
  startFanIn(coeffs: ReadonlyMap<string, bigint>): void {
    this.fanIn = new FanIn(this.K, this.length, this.hash, this.intake, this.extra, coeffs);
  }

  /** Fixes the public form of the round's challenge; a decided holder also projects its own aggregate share. */
  aggChallenge(challenge: Uint8Array, holder: boolean): void {
    if (!this.fanIn) throw new Error('aggChallenge before the fan-in');
    this.fanIn.challenge(this.stream(challenge), holder ? this.shares.heldSum : null);
  }

  /** The own aggregate share's projection on the challenge (a decided holder, after `aggChallenge`). */
  ownAggProjection(): bigint | undefined {
    return this.fanIn?.ownProjection;
  }

  /** A source's aggregate share once complete: its digest and its projection on the challenge. */
  aggReceived(holder: string): { digest: Uint8Array; projection: bigint } | undefined {
    return this.fanIn?.received(holder);
  }

  /** Whether `holder` is a source of this node's fan-in now. */
  isAggSource(holder: string): boolean {
    return this.fanIn?.isSource(holder) ?? false;
  }

  /** Correction: expects the sources of `coeffs` instead (the result starts again). */
  restartFanIn(self: string, coeffs: ReadonlyMap<string, bigint>, holder: boolean): void {
    if (!this.fanIn) throw new Error('restartFanIn before the fan-in');
    this.fanIn.restart(self, coeffs, holder ? this.shares.heldSum : null);
  }

  /** Version 2: <r, result> on the challenge's form (after `finishFanIn`), for the check entry and the seal. */
  resultProjection(): bigint {
    if (!this.fanIn) throw new Error('resultProjection before the fan-in');
    return this.fanIn.resultProjection();
  }

  /** Decodes the version-2 result (every source in and checked). */
  finishFanIn(scaleBits: number): RoundResult {
    if (!this.fanIn) throw new Error('finishFanIn before the fan-in');
    return this.fanIn.finish(scaleBits);
  }

  /**
   * Checks that the aggregate shares lie on one polynomial of degree t-1 (needs |R| > t to
   * detect anything) and decodes the result.
   * @returns the result, or the culprits' names (null when they cannot be identified).
   */
  finish(xOf: (holder: string) => number, t: number, scaleBits: number, holders: readonly string[]): { ok: true; result: RoundResult } | { ok: false; culprits: string[] | null } {
    if (!this.recon) throw new Error('finish before reconstruction');
    return this.recon.finish(xOf, t, scaleBits, holders);
  }

  /**
   * Keeps the reconstructed result readable after `zeroize` (which then wipes everything else)
   * until every returned release function has been called; the last one wipes it.
   */
  retainResult(): () => void {
    if (this.fanIn) return this.fanIn.retain();
    if (!this.recon) throw new Error('retainResult: no result');
    return this.recon.retain();
  }

  /**
   * Fiat-Shamir projections for the transcript's consistency check: with r = s_k * b_i drawn
   * from `challenge` (the injected stream: AES-256-CTR keyed by the challenge; b first, then
   * the per-chunk scalars, each rejection-sampled), returns <own aggregate share, r> and
   * <reconstructed result, r>. Call after `finish` and before `zeroize`. Every node derives the
   * same r from the same challenge.
   */
  fsProjections(challenge: Uint8Array): { share: bigint; result: bigint } {
    if (!this.recon) throw new Error('fsProjections before reconstruction');
    return this.recon.fsProjections(() => this.stream(challenge), this.shares.heldSum);
  }

  // ---- end of the round ----

  /**
   * Wipes every secret vector (open stagings included) and returns the memory. Idempotent. A
   * retained result stays until its last release.
   */
  zeroize(): void {
    if (this.wiped) return;
    this.wiped = true;
    this.input.zeroize();
    this.shares.zeroize();
    this.intake.zeroize();
    this.recon?.zeroize();
    this.fanIn?.zeroize();
  }
}
