/**
 * The reconstructed aggregate: its vector in WASM memory, the reading interface handed out
 * after a round (`RoundResult`), and the holds that keep it readable after the round ends.
 *
 * Lifetime: born (zeroed) when reconstruction starts; wiped and freed when the round ends, or,
 * if it is held then, when the last hold is released.
 * secret: the result until it is returned (then it is what the round reveals).
 * @module
 */
import { decodeVector } from '../../field/fixed-point.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';
import { EXTRA_ELEMS } from '../params.js';

/**
 * The reconstructed aggregate, read in pieces straight from WASM memory (no model-sized
 * JavaScript array). Valid until the round's vectors are wiped: hold it with
 * `RoundMemory.retainResult` while reading after the round.
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

/** The result vector (params + EXTRA_ELEMS elements) and its holds. */
export class ResultVector {
  private v: FieldVec | null;
  private refs = 0;
  /** The round has ended: the last release wipes. */
  private ended = false;

  /** Allocates the vector, zeroed. */
  constructor(
    private readonly K: WasmKernels,
    length: number,
    /** Elements after the parameters (the weight first): src/protocol/params.ts extraElems. */
    private readonly extra: number = EXTRA_ELEMS,
  ) {
    this.v = K.allocZero(length);
  }

  /** The vector while it exists (reconstruction adds into it); null once wiped. */
  get vec(): FieldVec | null {
    return this.v;
  }

  /** Decodes the weight element and returns the reading interface, valid while the vector lives. */
  decode(scaleBits: number): RoundResult {
    const res = this.v;
    if (!res) throw new Error('the round result was wiped: read it before the round ends, or retainResult()');
    const P = res.length - this.extra;
    const extra = new Float64Array(1);
    decodeVector(this.K, { ptr: res.ptr + P * 8, length: 1 }, extra, scaleBits); // the weight
    const totalWeight = extra[0]!;
    const read = (offset: number, out: Float32Array, reduce: 'sum' | 'mean'): void => {
      if (this.v !== res) throw new Error('the round result was wiped: read it before the round ends, or retainResult()');
      if (!Number.isSafeInteger(offset) || offset < 0 || offset + out.length > P) throw new RangeError(`result read of [${offset}, ${offset + out.length}) outside [0, ${P})`);
      decodeVector(this.K, { ptr: res.ptr + offset * 8, length: out.length }, out, scaleBits, reduce === 'mean' ? totalWeight : 1);
    };
    return { params: P, totalWeight, read };
  }

  /** See `RoundMemory.retainResult`. */
  retain(): () => void {
    if (!this.v) throw new Error('retainResult: no result');
    this.refs++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.refs === 0 && this.ended) this.wipe();
    };
  }

  /** The round has ended: wipes the vector now, or at the last release if it is held. Idempotent. */
  end(): void {
    this.ended = true;
    if (this.refs === 0) this.wipe();
  }

  private wipe(): void {
    if (!this.v) return;
    this.K.free(this.v); // wipes
    this.v = null;
  }
}
