/**
 * Fixed-point encoding of model updates into the field, and back.
 *
 * v -> round(v * 2^f) (ties to even) as a signed integer, stored as x or p - |x|.
 * A sum of encodings decodes correctly as long as the true sum stays inside (-p/2, p/2):
 * `checkOverflowBudget` proves that before any work, from public bounds only.
 * @module
 */
import { FieldError } from '../errors.js';
import { HALF_P } from './reference.js';
import type { FieldVec, WasmKernels } from './wasm.js';

/** Elements per pass through the WASM scratch buffers. */
export const CHUNK_ELEMS = 1 << 16;
export const MAX_SCALE_BITS = 52;

export interface EncodeOptions {
  /** f: values are multiplied by 2^f before rounding. */
  scaleBits: number;
  /** Bound on the L2 norm of one update (before weighting). */
  clipL2: number;
  /** 'clip': scale an update with a larger norm down to clipL2; 'reject': refuse it. */
  clipMode: 'clip' | 'reject';
  /** Every value is multiplied by this weight before encoding (weighted sums). Default 1. */
  weight?: number;
}

export interface OverflowBudget {
  scaleBits: number;
  /** Largest |value| one summand can carry after clipping and weighting. */
  maxAbs: number;
  /** How many encoded values are added up (trainers x regions, or more). */
  summands: number;
}

/**
 * Refuses an encoding whose worst case could wrap past p/2.
 * Worst |sum| <= summands * (maxAbs * 2^f + 1/2); it must stay below floor(p/2) ~ 9.22e18,
 * and one value must fit an i64 (maxAbs * 2^f < 2^62).
 * @throws {FieldError} ENCODE_OVERFLOW_BUDGET naming the knob to turn and by how much.
 */
export function checkOverflowBudget(b: OverflowBudget): void {
  const { scaleBits, maxAbs, summands } = b;
  if (!Number.isInteger(scaleBits) || scaleBits < 0 || scaleBits > MAX_SCALE_BITS) {
    throw new FieldError('ENCODE_OVERFLOW_BUDGET', `scaleBits must be an integer in [0, ${MAX_SCALE_BITS}], got ${scaleBits}`);
  }
  if (!(maxAbs > 0) || !Number.isFinite(maxAbs)) {
    throw new FieldError('ENCODE_OVERFLOW_BUDGET', `the bound on |value| must be a positive finite number, got ${maxAbs}`);
  }
  if (!Number.isSafeInteger(summands) || summands < 1) {
    throw new FieldError('ENCODE_OVERFLOW_BUDGET', `the number of summands must be a positive integer, got ${summands}`);
  }
  const one = maxAbs * 2 ** scaleBits;
  const worst = summands * (one + 0.5);
  const limit = Number(HALF_P);
  if (one >= 2 ** 62 || worst >= limit) {
    const factor = worst / limit;
    const bits = Math.ceil(Math.log2(factor));
    throw new FieldError(
      'ENCODE_OVERFLOW_BUDGET',
      `fixed-point overflow: ${summands} summands x |value| <= ${maxAbs} x 2^${scaleBits} can reach ${worst.toExponential(3)}, ` +
        `beyond p/2 = ${limit.toExponential(3)}; lower scaleBits by at least ${bits} (to ${scaleBits - bits}), ` +
        `or divide the clip bound / weight / number of summands by ${factor.toFixed(1)}`,
    );
  }
}

/**
 * Validates, clips and encodes one update into `out` (same length), multiplied by its weight.
 * @returns the factor applied by clipping (1 when the update was within the bound).
 * @throws {FieldError} ENCODE_NOT_FINITE (NaN/Infinity, names the index),
 *   ENCODE_OUT_OF_BOUND (norm above clipL2 in 'reject' mode), FIELD_LENGTH_MISMATCH.
 */
export function encodeUpdate(K: WasmKernels, values: Float32Array, out: FieldVec, o: EncodeOptions): number {
  if (!(values instanceof Float32Array)) throw new TypeError('"update" expected Float32Array');
  if (values.length !== out.length) {
    throw new FieldError('FIELD_LENGTH_MISMATCH', `update has ${values.length} values, expected ${out.length}`);
  }
  const n = values.length;
  const chunk = Math.min(CHUNK_ELEMS, Math.max(1, n));
  const tmp = K.allocBytes(chunk * 4);
  try {
    // Pass 1: the L2 norm (NaN/Infinity make it non-finite).
    let ss = 0;
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      K.f32(tmp, m).set(values.subarray(i, i + m));
      ss += K.x.sumSquaresF32(tmp, m);
    }
    const factor = clipFactor(ss, o, () => values.findIndex((v) => !Number.isFinite(v)));
    const mult = factor * (o.weight ?? 1);
    // Pass 2: encode.
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      K.f32(tmp, m).set(values.subarray(i, i + m));
      encodeChunk(K, tmp, out.ptr + i * 8, m, i, mult, o);
    }
    return factor;
  } finally {
    K.bytes(tmp, chunk * 4).fill(0); // secret: trainer input
    K.freeBytes(tmp, chunk * 4);
  }
}

/**
 * `encodeUpdate` for an update already in WASM memory as float32 (`n` values at byte `src`,
 * e.g. an HTTP body streamed there): no copy of the input. With `add`, the encoding is added to
 * `out` (chunk by chunk through a scratch vector) instead of written over it.
 *
 * In place: `out` may overlap the input when `src >= out.ptr + 4 n` (the float32 values in the
 * upper half of the output's own memory): element i is written at out + 8i only after every
 * input at or below i was read, and 8(i + 1) <= src + 4(i + 1) for i < n. Not with `add`.
 * @returns the clipping factor, as `encodeUpdate`.
 * @throws {FieldError} as `encodeUpdate`; the input is left as it was (wipe it). `out` is
 *   untouched, except when pass 2 fails (a value beyond the bound by float rounding) without
 *   `add`: then it is partly written. With `add` it is always as it was.
 */
export function encodeStaged(K: WasmKernels, src: number, n: number, out: FieldVec, o: EncodeOptions, add = false): number {
  if (out.length !== n) throw new FieldError('FIELD_LENGTH_MISMATCH', `update has ${n} values, expected ${out.length}`);
  if (add && src < out.ptr + out.length * 8 && out.ptr < src + n * 4) throw new RangeError('encodeStaged: add with overlapping input and output');
  if (!add && src < out.ptr + 4 * n && out.ptr < src + n * 4) throw new RangeError('encodeStaged: in-place input must start at out + 4n or later');
  let ss = 0;
  for (let i = 0; i < n; i += CHUNK_ELEMS) ss += K.x.sumSquaresF32(src + i * 4, Math.min(CHUNK_ELEMS, n - i));
  const factor = clipFactor(ss, o, () => K.f32(src, n).findIndex((v) => !Number.isFinite(v)));
  const mult = factor * (o.weight ?? 1);
  const tmp = add ? K.alloc(Math.min(CHUNK_ELEMS, Math.max(1, n))) : null;
  let i = 0;
  try {
    for (; i < n; i += CHUNK_ELEMS) {
      const m = Math.min(CHUNK_ELEMS, n - i);
      if (!tmp) {
        encodeChunk(K, src + i * 4, out.ptr + i * 8, m, i, mult, o);
        continue;
      }
      encodeChunk(K, src + i * 4, tmp.ptr, m, i, mult, o);
      const a = { ptr: out.ptr + i * 8, length: m };
      K.add(a, a, { ptr: tmp.ptr, length: m });
    }
    return factor;
  } catch (e) {
    // add: take back the chunks already added (the same encodings, subtracted), so `out` is as
    // it was; they encoded once, so they encode again
    for (let j = 0; tmp && j < i; j += CHUNK_ELEMS) {
      const m = Math.min(CHUNK_ELEMS, n - j);
      encodeChunk(K, src + j * 4, tmp.ptr, m, j, mult, o);
      const a = { ptr: out.ptr + j * 8, length: m };
      K.sub(a, a, { ptr: tmp.ptr, length: m });
    }
    throw e;
  } finally {
    if (tmp) {
      K.free(tmp); // wipes (secret: an encoded trainer update)
    }
  }
}

/**
 * The multiplier of one update from its sum of squares: the clipping factor (1 within the
 * bound) after checking the weight, the bound and that every value is finite.
 * @param badIndex - finds the first non-finite value, for the error message (only called then).
 */
function clipFactor(ss: number, o: EncodeOptions, badIndex: () => number): number {
  const weight = o.weight ?? 1;
  if (!(weight > 0) || !Number.isFinite(weight)) throw new FieldError('ENCODE_OUT_OF_BOUND', `weight must be a positive finite number, got ${weight}`);
  if (!(o.clipL2 > 0) || !Number.isFinite(o.clipL2)) throw new FieldError('ENCODE_OUT_OF_BOUND', `clipL2 must be a positive finite number`);
  if (!Number.isFinite(ss)) {
    const bad = badIndex();
    if (bad >= 0) throw new FieldError('ENCODE_NOT_FINITE', `update value at index ${bad} is not a finite number (NaN or Infinity)`);
    throw new FieldError('ENCODE_OUT_OF_BOUND', 'update norm overflows float64: values are far beyond the clip bound');
  }
  const norm = Math.sqrt(ss);
  if (norm <= o.clipL2) return 1;
  if (o.clipMode === 'reject') {
    throw new FieldError('ENCODE_OUT_OF_BOUND', `update L2 norm ${norm.toPrecision(6)} exceeds the clip bound ${o.clipL2} (clipMode 'reject'): scale the update down or raise clipL2`);
  }
  return o.clipL2 / norm;
}

/**
 * Encodes m float32 values at `src` into field elements at `dst` with multiplier `mult`. Every
 * |v * factor| <= clipL2, so the per-element bound is clipL2 * weight (with a little slack for
 * float rounding in the norm). `first` is the index of the chunk's first value, for the error.
 */
function encodeChunk(K: WasmKernels, src: number, dst: number, m: number, first: number, mult: number, o: EncodeOptions): void {
  const maxAbs = o.clipL2 * (o.weight ?? 1) * (1 + 1e-9);
  const bad = K.x.encodeF32(src, dst, m, mult, 2 ** o.scaleBits, maxAbs);
  if (bad >= 0) throw new FieldError('ENCODE_OUT_OF_BOUND', `update value at index ${first + bad} is beyond the clip bound`);
}

/**
 * Decodes `v` into `out` (Float32Array or Float64Array of the same length), dividing by 2^f
 * and then by `divisor` (e.g. the total weight for a weighted mean). Into a Float32Array the
 * division is of the float32 value, rounded to float32 again: float32(float32(x / 2^f) / divisor),
 * the weighted mean exactly as the transcript's mean digest specifies it (docs/transcript.md).
 */
export function decodeVector(K: WasmKernels, v: FieldVec, out: Float32Array | Float64Array, scaleBits: number, divisor = 1): void {
  if (out.length !== v.length) throw new FieldError('FIELD_LENGTH_MISMATCH', `output has ${out.length} slots for ${v.length} elements`);
  const inv = 2 ** -scaleBits;
  const n = v.length;
  const chunk = Math.min(CHUNK_ELEMS, Math.max(1, n));
  const bpe = out instanceof Float64Array ? 8 : 4;
  const tmp = K.allocBytes(chunk * bpe);
  try {
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      if (bpe === 8) {
        K.x.decodeF64(v.ptr + i * 8, tmp, m, inv / divisor);
        out.set(K.f64(tmp, m), i);
      } else {
        if (divisor === 1) K.x.decodeF32(v.ptr + i * 8, tmp, m, inv);
        else K.x.decodeF32Div(v.ptr + i * 8, tmp, m, inv, divisor);
        out.set(K.f32(tmp, m), i);
      }
    }
  } finally {
    K.freeBytes(tmp, chunk * bpe);
  }
}
