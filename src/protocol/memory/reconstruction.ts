/**
 * Reconstruction of the aggregate: the aggregate-share streams of the decided holders, the
 * Lagrange combination into the result, the node's secret random projection of every holder's
 * aggregate share and the consistency check on it, and the Fiat-Shamir projections for the seal.
 *
 * Lifetime: born when the decision arrives (`RoundMemory.startReconstruction`); the secret
 * projection is wiped when the round ends, the result then or at its last release (result.ts).
 * @module
 */
import { FieldError } from '../../errors.js';
import { CHUNK_ELEMS } from '../../field/fixed-point.js';
import type { RandomFill } from '../../field/random.js';
import { add as addMod } from '../../field/reference.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';
import { checkPointsOnPolynomial } from '../../sharing/shamir.js';
import type { HashFactory } from '../../core/crypto.js';
import { advance, openStream, streamDigest, type ChunkIntake, type Stream } from './intake.js';
import { Projection } from './projection.js';
import { ResultVector, type RoundResult } from './result.js';

/** One holder's aggregate-share stream, its Lagrange coefficient and its projection so far. */
interface AggStream extends Stream {
  /** Null for holders outside the t used for interpolation: their shares are only checked. */
  coeff: bigint | null;
  proj: bigint;
}

/** Aggregate shares in, the result and the checks on it. */
export class Reconstruction {
  private readonly aggs = new Map<string, AggStream>();
  private readonly result: ResultVector;
  /** The node's own projection (secret until every aggregate share is in). */
  private readonly proj: Projection;
  private ownDigest: Uint8Array | undefined;

  /**
   * Allocates the result (zeroed) and draws the projection from `projRng()`. `coeffs` maps each
   * holder in R to its Lagrange coefficient at 0, or null.
   */
  constructor(
    private readonly K: WasmKernels,
    /** Elements per aggregate share (params + EXTRA_ELEMS). */
    private readonly length: number,
    private readonly hash: HashFactory,
    private readonly intake: ChunkIntake,
    coeffs: ReadonlyMap<string, bigint | null>,
    projRng: () => RandomFill,
  ) {
    this.result = new ResultVector(K, length);
    this.proj = Projection.draw(K, length, projRng());
    for (const [holder, coeff] of coeffs) this.aggs.set(holder, { ...openStream(hash), coeff, proj: 0n });
  }

  /** Digest of the own aggregate share once `acceptOwn` has run (publishing reuses it). */
  get ownAggDigest(): Uint8Array | undefined {
    return this.ownDigest;
  }

  /** See `RoundMemory.acceptOwnAgg`; `held` is the sum of held shares. */
  acceptOwn(self: string, held: FieldVec): Uint8Array {
    const s = this.aggs.get(self);
    if (!s || !this.result.vec) throw notDecidedHolder(`own aggregate share of ${self}`);
    if (s.next !== 0) throw new FieldError('SHARING_BAD_POINTS', `own aggregate share of ${self} entered twice`);
    for (let off = 0; off < this.length; off += CHUNK_ELEMS) {
      const m = Math.min(CHUNK_ELEMS, this.length - off);
      const v = { ptr: held.ptr + off * 8, length: m };
      this.project(s, off, v);
      s.hash.update(this.K.bytes(v.ptr, m * 8));
      s.next += m;
    }
    return (this.ownDigest = s.digest = s.hash.digest());
  }

  /** See `RoundMemory.acceptAgg`. */
  accept(holder: string, offset: number, data: Uint8Array): void {
    const s = this.aggs.get(holder);
    if (!s || !this.result.vec) throw notDecidedHolder(`aggregate share from ${holder}`);
    const v = this.intake.take(s, offset, data, `aggregate share from ${holder}`);
    this.project(s, offset, v);
    advance(s, data);
  }

  /** Adds chunk `v` (at `offset`) of a holder's aggregate share to the result and its projection. */
  private project(s: AggStream, offset: number, v: FieldVec): void {
    if (s.coeff !== null) this.K.mulAdd({ ptr: this.result.vec!.ptr + offset * 8, length: v.length }, v, s.coeff);
    s.proj = addMod(s.proj, this.proj.dot(offset, v));
  }

  /** Digest of `holder`'s aggregate share once complete; undefined before. */
  digest(holder: string): Uint8Array | undefined {
    return streamDigest(this.aggs.get(holder), this.length);
  }

  /** See `RoundMemory.finish`. */
  finish(xOf: (holder: string) => number, t: number, scaleBits: number, holders: readonly string[]): { ok: true; result: RoundResult } | { ok: false; culprits: string[] | null } {
    const xs = holders.map((h) => BigInt(xOf(h)));
    const ys = holders.map((h) => this.aggs.get(h)!.proj);
    const check = checkPointsOnPolynomial(xs, ys, t);
    if (!check.ok) {
      return { ok: false, culprits: check.bad === null ? null : check.bad.map((x) => holders[xs.indexOf(BigInt(x))]!) };
    }
    return { ok: true, result: this.result.decode(scaleBits) };
  }

  /** See `RoundMemory.retainResult`. */
  retain(): () => void {
    return this.result.retain();
  }

  /**
   * See `RoundMemory.fsProjections`: r drawn from `challengeRng` (public), `held` the sum of
   * held shares.
   */
  fsProjections(challengeRng: () => RandomFill, held: FieldVec): { share: bigint; result: bigint } {
    const res = this.result.vec;
    if (!res) throw new Error('fsProjections before reconstruction');
    const p = Projection.draw(this.K, this.length, challengeRng());
    let share = 0n;
    let result = 0n;
    try {
      for (let off = 0; off < this.length; off += CHUNK_ELEMS) {
        const m = Math.min(CHUNK_ELEMS, this.length - off);
        share = addMod(share, p.dot(off, { ptr: held.ptr + off * 8, length: m }));
        result = addMod(result, p.dot(off, { ptr: res.ptr + off * 8, length: m }));
      }
    } finally {
      p.free(); // public: drawn from the challenge
    }
    return { share, result };
  }

  /** The round has ended: wipes the projection, and the result unless it is held. Idempotent. */
  zeroize(): void {
    this.proj.wipe();
    this.result.end();
  }
}

/** An aggregate share from (or of) a node outside the decided holders, or before the decision. */
export function notDecidedHolder(what: string): FieldError {
  return new FieldError('SHARING_BAD_POINTS', `${what}, which is not a decided holder`);
}
