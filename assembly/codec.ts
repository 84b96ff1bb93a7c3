/**
 * Fixed-point encoding between float32/float64 and the field.
 * v -> round(v * 2^f) as a signed integer x, stored as x (x >= 0) or p - |x| (x < 0).
 * Decoding maps [0, p/2] to non-negative and (p/2, p) to negative values.
 * @module
 */
const P: u64 = 0xFFFF_FFFF_0000_0001;
const HALF: u64 = 0x7FFF_FFFF_8000_0000; // floor(p / 2)

/**
 * out[i] = encode(in[i] * mult) at `scale` = 2^f, rounding to nearest (ties to even).
 * Returns -1, or the index of the first element whose |in[i] * mult| is not <= maxAbs
 * (this also catches NaN and ±Infinity). On error `out` is partly written.
 * The caller guarantees maxAbs * scale < 2^62 so the i64 conversion cannot trap.
 */
export function encodeF32(inp: usize, out: usize, len: u32, mult: f64, scale: f64, maxAbs: f64): i32 {
  for (let i: u32 = 0; i < len; i++) {
    const y = <f64>load<f32>(inp + (<usize>i << 2)) * mult;
    if (!(abs<f64>(y) <= maxAbs)) return <i32>i;
    const x = <i64>nearest<f64>(y * scale);
    // negative: p - |x| = p + x (mod 2^64), computed on the two's complement bits
    store<u64>(out + (<usize>i << 3), select<u64>(P + <u64>x, <u64>x, x < 0));
  }
  return -1;
}

/** sum of squares of a float32 vector, in f64 (for L2 clipping). NaN propagates. */
export function sumSquaresF32(inp: usize, len: u32): f64 {
  let s: f64 = 0;
  for (let i: u32 = 0; i < len; i++) {
    const v = <f64>load<f32>(inp + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

// Signed value as i64 (x - p wraps to the right negative number), then a signed conversion:
// u64 -> f64 (f64.convert_i64_u) compiles to a branch on the top bit in V8, which mispredicts
// on mixed-sign data and made decoding ~5x slower.
// @ts-ignore: decorator
@inline function dec(x: u64): f64 {
  return <f64><i64>select<u64>(x - P, x, x > HALF);
}

/** out[i] = signed(in[i]) * invScale as float64. */
export function decodeF64(inp: usize, out: usize, len: u32, invScale: f64): void {
  for (let i: u32 = 0; i < len; i++) {
    store<f64>(out + (<usize>i << 3), dec(load<u64>(inp + (<usize>i << 3))) * invScale);
  }
}

/** out[i] = signed(in[i]) * invScale as float32. */
export function decodeF32(inp: usize, out: usize, len: u32, invScale: f64): void {
  for (let i: u32 = 0; i < len; i++) {
    store<f32>(out + (<usize>i << 2), <f32>(dec(load<u64>(inp + (<usize>i << 3))) * invScale));
  }
}

/**
 * out[i] = float32(float32(signed(in[i]) * invScale) / divisor) as float32: the weighted mean
 * exactly as JavaScript computes it from the float32 sum (f64 division of the float32 value,
 * rounded to float32 on store), which is the byte layout the transcript's mean digest covers.
 */
export function decodeF32Div(inp: usize, out: usize, len: u32, invScale: f64, divisor: f64): void {
  for (let i: u32 = 0; i < len; i++) {
    const sum = <f64><f32>(dec(load<u64>(inp + (<usize>i << 3))) * invScale);
    store<f32>(out + (<usize>i << 2), <f32>(sum / divisor));
  }
}
