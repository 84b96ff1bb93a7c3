/**
 * Version-2 reconstruction at one node (docs/protocol.md "Fan-in"): the node receives the whole
 * aggregate shares of its t sources only (its own counting as one when it is a decided holder),
 * combines them into the result as they stream in, and projects each on the round's public
 * challenge r, so each can be checked against its holder's signed projection; r is fixed once
 * every decided holder has committed to its aggregate share (`challenge`), before any of them
 * streams. Correction (a source named as a culprit) starts the sources again (`restart`).
 *
 * Lifetime: born at the decision; the result is wiped when the round ends or at its last
 * release (result.ts); the public form r is freed at `zeroize`.
 * @module
 */
import { FieldError } from '../../errors.js';
import { CHUNK_ELEMS } from '../../field/fixed-point.js';
import type { RandomFill } from '../../field/random.js';
import { add as addMod } from '../../field/reference.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';
import type { HashFactory } from '../../core/crypto.js';
import { advance, openStream, streamDigest, type ChunkIntake, type Stream } from './intake.js';
import { Projection } from './projection.js';
import { ResultVector, type RoundResult } from './result.js';

interface Source extends Stream {
  coeff: bigint;
  proj: bigint;
}

/** The sources' aggregate shares in, the result, and their projections on the challenge. */
export class FanIn {
  private sources = new Map<string, Source>();
  private result: ResultVector;
  private form: Projection | null = null;
  private ownDigest: Uint8Array | undefined;
  private ownProj: bigint | undefined;

  constructor(
    private readonly K: WasmKernels,
    private readonly length: number,
    private readonly hash: HashFactory,
    private readonly intake: ChunkIntake,
    extra: number,
    /** Lagrange coefficient at 0 of each source (and of this node when it is a decided holder). */
    coeffs: ReadonlyMap<string, bigint>,
  ) {
    this.result = new ResultVector(K, length, extra);
    this.open(coeffs);
  }

  private open(coeffs: ReadonlyMap<string, bigint>): void {
    this.sources = new Map([...coeffs].map(([h, coeff]) => [h, { ...openStream(this.hash), coeff, proj: 0n }]));
  }

  /**
   * The own aggregate share (`held`, the sum of held shares): hashed (the commitment), and
   * combined into the result when this node is one of its own sources.
   */
  acceptOwn(self: string, held: FieldVec): Uint8Array {
    const h = this.hash();
    const s = this.sources.get(self);
    for (let off = 0; off < this.length; off += CHUNK_ELEMS) {
      const m = Math.min(CHUNK_ELEMS, this.length - off);
      const v = { ptr: held.ptr + off * 8, length: m };
      h.update(this.K.bytes(v.ptr, m * 8));
      if (s) this.K.mulAdd({ ptr: this.result.vec!.ptr + off * 8, length: m }, v, s.coeff);
    }
    if (s) s.next = this.length;
    return (this.ownDigest = h.digest());
  }

  /** Digest of the own aggregate share (after `acceptOwn`). */
  get ownAggDigest(): Uint8Array | undefined {
    return this.ownDigest;
  }

  /** Fixes the public form r from the challenge stream and projects the own share on it (`held`). */
  challenge(rng: RandomFill, held: FieldVec | null): void {
    this.form?.free();
    this.form = Projection.draw(this.K, this.length, rng);
    if (held) {
      let p = 0n;
      for (let off = 0; off < this.length; off += CHUNK_ELEMS) p = addMod(p, this.form.dot(off, { ptr: held.ptr + off * 8, length: Math.min(CHUNK_ELEMS, this.length - off) }));
      this.ownProj = p;
    }
  }

  /** The own aggregate share's projection on r (after `challenge` with the held sum). */
  get ownProjection(): bigint | undefined {
    return this.ownProj;
  }

  /** A chunk of source `holder`'s aggregate share: into the result, its projection and its digest. */
  accept(holder: string, offset: number, data: Uint8Array): void {
    const s = this.sources.get(holder);
    if (!s || !this.result.vec) {
      throw new FieldError('SHARING_BAD_POINTS', `aggregate share from ${holder}, which is not a source of this node`);
    }
    if (!this.form) throw new FieldError('SHARING_BAD_POINTS', `aggregate share from ${holder} before every decided holder committed to its own`);
    const v = this.intake.take(s, offset, data, `aggregate share from ${holder}`);
    this.K.mulAdd({ ptr: this.result.vec.ptr + offset * 8, length: v.length }, v, s.coeff);
    s.proj = addMod(s.proj, this.form.dot(offset, v));
    advance(s, data);
  }

  /** Digest and projection of source `holder`'s aggregate share once complete; undefined before. */
  received(holder: string): { digest: Uint8Array; projection: bigint } | undefined {
    const s = this.sources.get(holder);
    const digest = streamDigest(s, this.length);
    return digest && s ? { digest, projection: s.proj } : undefined;
  }

  /** Whether `holder` is one of this node's sources now. */
  isSource(holder: string): boolean {
    return this.sources.has(holder);
  }

  /**
   * Correction: forgets what came from the sources so far (the result is zeroed) and expects the
   * sources `coeffs` names instead; the own share is combined again from `held` if it is one.
   */
  restart(self: string, coeffs: ReadonlyMap<string, bigint>, held: FieldVec | null): void {
    if (!this.result.vec) throw new Error('restart after the result was wiped');
    this.K.zeroize(this.result.vec);
    this.open(coeffs);
    const s = this.sources.get(self);
    if (s && held) {
      for (let off = 0; off < this.length; off += CHUNK_ELEMS) {
        const m = Math.min(CHUNK_ELEMS, this.length - off);
        this.K.mulAdd({ ptr: this.result.vec.ptr + off * 8, length: m }, { ptr: held.ptr + off * 8, length: m }, s.coeff);
      }
      s.next = this.length;
      s.digest = this.ownDigest;
    }
  }

  /** Decodes the result (call once every source is in and checked). */
  finish(scaleBits: number): RoundResult {
    return this.result.decode(scaleBits);
  }

  /** <r, result>, for the seal (after `finish`). */
  resultProjection(): bigint {
    const res = this.result.vec;
    if (!res || !this.form) throw new Error('resultProjection before the result');
    let p = 0n;
    for (let off = 0; off < this.length; off += CHUNK_ELEMS) p = addMod(p, this.form.dot(off, { ptr: res.ptr + off * 8, length: Math.min(CHUNK_ELEMS, this.length - off) }));
    return p;
  }

  retain(): () => void {
    return this.result.retain();
  }

  /** The round has ended: frees r, wipes the result unless it is held. Idempotent. */
  zeroize(): void {
    this.form?.free();
    this.form = null;
    this.result.end();
  }
}
