/**
 * The privacy unit and its sensitivity in field units. One neighbour is one trainer's update
 * added to or removed from a round (add/remove adjacency): the update clipped to L2 norm clipL2,
 * multiplied by its weight w <= maxWeight, scaled by 2^scaleBits and rounded to the nearest
 * integer per coordinate. The regional and global sums then differ by exactly that encoded
 * vector, so its norms are the sensitivities:
 *   L2 <= B + sqrt(d) / 2 with B = clipL2 * maxWeight * 2^scaleBits (rounding moves each of the
 *   d coordinates by at most 1/2), and L1 <= min(sqrt(d) * L2, L2^2) (Cauchy-Schwarz; and for an
 *   integer vector |k| <= k^2 per coordinate).
 * B carries a relative slack of 1e-6 for the float rounding of the norm the clip computes.
 * @module
 */

/** The knobs of the round that bound one trainer's contribution (the federation file's `round`). */
export interface PrivacyUnit {
  readonly clipL2: number;
  readonly maxWeight: number;
  readonly scaleBits: number;
}

/** L1 and L2 sensitivity of one round's aggregate, in field units (integers of the encoding). */
export interface Sensitivity {
  readonly l1: number;
  readonly l2: number;
}

/** Relative slack on clipL2 x maxWeight for float rounding in the clip (the encoder allows 1e-9). */
export const CLIP_SLACK = 1e-6;

/**
 * The sensitivity of a round of `params` coordinates under the privacy unit.
 * @example
 * sensitivity({ clipL2: 1, maxWeight: 1, scaleBits: 16 }, 1e6); // { l2: 66036.07, l1: 6.6e10 }
 */
export function sensitivity(unit: PrivacyUnit, params: number): Sensitivity {
  const b = unit.clipL2 * unit.maxWeight * 2 ** unit.scaleBits * (1 + CLIP_SLACK);
  const l2 = b + Math.sqrt(params) / 2;
  return { l2, l1: Math.min(Math.sqrt(params) * l2, l2 * l2) };
}
