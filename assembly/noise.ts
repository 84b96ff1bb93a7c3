/**
 * Discrete noise for distributed differential privacy: symmetric Skellam samples
 * Sk(lambda, lambda) = Poisson(lambda) - Poisson(lambda), written as field elements (a negative
 * value v as p - |v|) or added to a vector in place. Randomness comes from JavaScript as a buffer
 * of 64-bit words (a CSPRNG stream, src/dp/sampler.ts); each uniform double takes one word
 * (its top 53 bits). Poisson by inversion (sequential search) for lambda < 10 and by PTRS, the
 * transformed rejection with squeeze of Hoermann (1993), for lambda >= 10, with the log-pmf
 * computed around lambda (log1p, Stirling) so that it keeps its precision for lambda up to 2^52.
 * No allocation.
 * @module
 */
import { fadd } from './field';

const P: u64 = 0xFFFF_FFFF_0000_0001;
const TWO_M53: f64 = 1.1102230246251565e-16; // 2^-53
const HALF_LOG_2PI: f64 = 0.9189385332046728; // log(2 pi) / 2
/** Words one element may use before the kernel stops and asks for more (a partial element is dropped). */
const ELEMENT_WORDS: u32 = 64;

// the stream of words: position and end, reset per call
let wp: usize = 0;
let wend: usize = 0;

/** A uniform double in [0, 1) from the next word, or -1 when the buffer is exhausted. */
@inline function uniform(): f64 {
  if (wp >= wend) return -1;
  const w = load<u64>(wp);
  wp += 8;
  return <f64>(w >> 11) * TWO_M53;
}

/** log(k!) for an integer k >= 0: a sum for small k, Stirling's series beyond. */
function logFactorial(k: f64): f64 {
  if (k < 16) {
    let s: f64 = 0;
    for (let i: f64 = 2; i <= k; i++) s += Math.log(i);
    return s;
  }
  return k * Math.log(k) - k + HALF_LOG_2PI + 0.5 * Math.log(k) + stirlingCorrection(k);
}

/** log(k!) - (k log k - k + log(2 pi k) / 2) for k >= 16 (error below 1e-14). */
@inline function stirlingCorrection(k: f64): f64 {
  const r = 1 / k;
  const r2 = r * r;
  return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680))));
}

/** log P(X = k) for X ~ Poisson(lam), precise near k = lam for large lam (no cancellation of k log lam against log k!). */
function logPmf(k: f64, lam: f64, logLam: f64): f64 {
  if (k < 16) return -lam + k * logLam - logFactorial(k);
  // -lam + k log lam - log k! = (k - lam) - k log1p((k - lam) / lam) - log(2 pi k)/2 - correction(k)
  const d = k - lam;
  return d - k * Math.log1p(d / lam) - HALF_LOG_2PI - 0.5 * Math.log(k) - stirlingCorrection(k);
}

// PTRS constants for the current lambda (set by setLambda)
let lam: f64 = -1; // no lambda set yet
let logLam: f64 = 0;
let expNegLam: f64 = 0;
let pa: f64 = 0;
let pb: f64 = 0;
let logInvAlpha: f64 = 0;
let vr: f64 = 0;

function setLambda(l: f64): void {
  lam = l;
  logLam = Math.log(l);
  expNegLam = Math.exp(-l);
  const slam = Math.sqrt(l);
  pb = 0.931 + 2.53 * slam;
  pa = -0.059 + 0.02483 * pb;
  logInvAlpha = Math.log(1.1239 + 1.1328 / (pb - 3.4));
  vr = 0.9277 - 3.6224 / (pb - 2);
}

/** One Poisson(lam) sample, or -1 when the words ran out. */
function poisson(): f64 {
  if (lam < 10) {
    // inversion: the smallest k with F(k) > u; a run past 200 terms (float rounding of F near 1) draws again
    for (;;) {
      const u = uniform();
      if (u < 0) return -1;
      let k: f64 = 0;
      let p = expNegLam;
      let s = p;
      while (u >= s && k < 200) {
        k += 1;
        p *= lam / k;
        s += p;
      }
      if (k < 200) return k;
    }
  }
  // lam >= 10: PTRS
  for (;;) {
    const u = uniform() - 0.5;
    const v = uniform();
    if (v < 0 || u < -0.5) return -1;
    const us = 0.5 - abs<f64>(u);
    const k = Math.floor((2 * pa / us + pb) * u + lam + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + logInvAlpha - Math.log(pa / (us * us) + pb) <= logPmf(k, lam, logLam)) return k;
  }
  return -1; // not reached
}

/**
 * Writes (add = 0) or adds (add = 1) Skellam(lambda, lambda) noise to out[i] for i in [0, len),
 * taking uniforms from the `nwords` 64-bit words at `words`. Stops before an element when fewer
 * than 64 words are left, or drops an element whose words ran out (its value is independent of
 * how many words it needed, so dropping it biases nothing).
 * @returns how many elements were written; the caller refills the words and calls again from there.
 */
export function skellamNoise(out: usize, len: u32, words: usize, nwords: u32, lambda: f64, add: u32): u32 {
  if (!(lambda > 0)) return 0; // the caller (src/dp/sampler.ts) refuses it first
  if (lambda != lam) setLambda(lambda);
  wp = words;
  wend = words + (<usize>nwords << 3);
  for (let i: u32 = 0; i < len; i++) {
    if (wend - wp < (<usize>ELEMENT_WORDS << 3)) return i;
    const a = poisson();
    const b = poisson();
    if (a < 0 || b < 0) return i;
    const x = <i64>a - <i64>b;
    const e = select<u64>(P + <u64>x, <u64>x, x < 0);
    const off = out + (<usize>i << 3);
    store<u64>(off, add != 0 ? fadd(load<u64>(off), e) : e);
  }
  return len;
}
