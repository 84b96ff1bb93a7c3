/**
 * The round's regional input: trainers' updates on their way in (raw float32 stagings) and the
 * regional sum they are validated, clipped, weighted and encoded into.
 *
 * Lifetimes, all secret:
 * - a staging is born at `begin` (its memory at its first `write`: an upload whose body never
 *   comes allocates, and so touches, nothing) and wiped (and its memory released) at `commit` or
 *   `abort`, whichever comes first, or at `zeroize`;
 * - the regional sum is born with the round's first update and wiped and freed once it has
 *   been dealt (`dealt`), or at `zeroize` when the round ends first.
 * No I/O, no clock.
 * @module
 */
import { FieldError } from '../../errors.js';
import { encodeStaged, encodeUpdate } from '../../field/fixed-point.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';
import { EXTRA_ELEMS } from '../params.js';

/** How an update is encoded: the round's fixed-point scale and clipping rule. */
export interface UpdateEncoding {
  scaleBits: number;
  clipL2: number;
  clipMode: 'clip' | 'reject';
}

/** A trainer's update on its way in: raw float32 bytes written into WASM memory. */
export interface UpdateStaging {
  /** Byte address of the float32 values; -1 until the first bytes are written. */
  ptr: number;
  /** Expected bytes (4 x params). */
  readonly bytes: number;
  /** True: the staging is the upper half of the regional sum's own memory (the round's first update). */
  readonly inPlace: boolean;
  /** Bytes written so far. */
  written: number;
}

/** The regional sum and the stagings of the updates on their way into it. */
export class RegionalInput {
  /** The regional sum (params + EXTRA_ELEMS elements); memory only while no update is in yet. */
  private sum: FieldVec | null = null;
  /** The regional sum holds at least one update (else `sum` is unset or only staging memory). */
  private ready = false;
  /** The first update is being staged inside `sum` (see `begin`). */
  private inPlacePending = false;
  private readonly staged = new Set<UpdateStaging>();

  constructor(
    private readonly K: WasmKernels,
    /** model parameters + extra */
    private readonly length: number,
    /** Elements after the parameters: the weight (and in version 2 the blind), src/protocol/params.ts extraElems. */
    private readonly extra: number = EXTRA_ELEMS,
  ) {}

  /** See `RoundMemory.beginUpdate`. */
  begin(): UpdateStaging {
    const P = this.length - this.extra;
    let s: UpdateStaging;
    if (!this.ready && !this.inPlacePending) {
      this.inPlacePending = true;
      s = { ptr: -1, bytes: 4 * P, inPlace: true, written: 0 };
    } else {
      s = { ptr: -1, bytes: 4 * P, inPlace: false, written: 0 };
    }
    this.staged.add(s);
    return s;
  }

  /** See `RoundMemory.writeUpdate`. */
  write(s: UpdateStaging, data: Uint8Array): void {
    if (!this.staged.has(s)) throw new Error('writeUpdate: staging already committed or aborted');
    if (s.written + data.length > s.bytes) throw new FieldError('FIELD_LENGTH_MISMATCH', `update is longer than the round's ${s.bytes / 4} float32 values`);
    if (s.ptr < 0) s.ptr = s.inPlace ? (this.sum ??= this.K.alloc(this.length)).ptr + s.bytes : this.K.allocBytes(s.bytes);
    this.K.bytes(s.ptr + s.written, data.length).set(data);
    s.written += data.length;
  }

  /** See `RoundMemory.commitUpdate`. @returns the clipping factor applied (1: within clipL2). */
  commit(s: UpdateStaging, weight: number, o: UpdateEncoding): number {
    if (!this.staged.has(s)) throw new Error('commitUpdate: staging already committed or aborted');
    if (!s.inPlace && this.inPlacePending) throw new Error('commitUpdate: the regional sum is busy with the first update; wait for it');
    const P = this.length - this.extra;
    try {
      if (s.written !== s.bytes) throw new FieldError('FIELD_LENGTH_MISMATCH', `update has ${s.written / 4} values, this round has ${P} parameters`);
      const enc = { ...o, weight };
      const one = { scaleBits: o.scaleBits, clipL2: 1, clipMode: 'reject' as const, weight };
      if (!this.ready) {
        const sum = (this.sum ??= this.K.alloc(this.length));
        let factor: number;
        try {
          factor = encodeStaged(this.K, s.ptr, P, { ptr: sum.ptr, length: P }, enc);
        } catch (e) {
          this.K.zeroize(sum); // partly encoded (or the staged values in its upper half)
          throw e;
        }
        encodeUpdate(this.K, Float32Array.of(1), { ptr: sum.ptr + P * 8, length: 1 }, one);
        this.ready = true;
        // in place, the encoding has overwritten every staged byte: nothing left to wipe
        if (s.inPlace) this.forget(s);
        return factor;
      }
      // validated before the sum is touched; a failure in pass 2 is rolled back
      const sum = this.sum!;
      const factor = encodeStaged(this.K, s.ptr, P, { ptr: sum.ptr, length: P }, enc, true);
      const w = this.K.alloc(1);
      encodeUpdate(this.K, Float32Array.of(1), w, one);
      const last = { ptr: sum.ptr + P * 8, length: 1 };
      this.K.add(last, last, w);
      this.K.free(w);
      return factor;
    } finally {
      if (this.staged.has(s)) this.release(s);
    }
  }

  /** Wipes and releases a staging whose upload failed or was refused. Idempotent. */
  abort(s: UpdateStaging): void {
    if (this.staged.has(s)) this.release(s);
  }

  private release(s: UpdateStaging): void {
    // secret: raw trainer values (a separate staging is wiped by the allocator as it is freed)
    if (s.inPlace && s.ptr >= 0) this.K.bytes(s.ptr, s.bytes).fill(0);
    this.forget(s);
  }

  private forget(s: UpdateStaging): void {
    this.staged.delete(s);
    if (s.inPlace) this.inPlacePending = false;
    else if (s.ptr >= 0) this.K.freeBytes(s.ptr, s.bytes);
  }

  /** True while the round's first update is staged inside the regional sum: later commits must wait. */
  get busy(): boolean {
    return this.inPlacePending;
  }

  /** True once at least one update is in the regional sum. */
  get hasInput(): boolean {
    return this.ready;
  }

  /**
   * The regional sum, to be dealt (share-streams.ts). Call `dealt` once every chunk of it has
   * been dealt.
   * @throws {Error} before the first update is in.
   */
  forDealing(): FieldVec {
    if (!this.sum || !this.ready) throw new Error('dealChunks without input');
    return this.sum;
  }

  /**
   * The regional sum has been dealt: wipes it and hands its memory back (reconstruction reuses
   * it, so a node holds two model-sized field vectors at a time, not three). A no-op once wiped.
   */
  dealt(): void {
    this.wipeSum();
  }

  private wipeSum(): void {
    if (this.sum) {
      this.K.free(this.sum); // wipes
    }
    this.sum = null;
    this.ready = false;
  }

  /** Wipes every open staging and the regional sum and returns their memory. Idempotent. */
  zeroize(): void {
    for (const s of [...this.staged]) this.release(s);
    this.wipeSum();
  }
}
