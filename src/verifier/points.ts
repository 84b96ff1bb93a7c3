/**
 * Projections as points of the field, shared by the version-2 checks: a recorded projection (16
 * hex, u64 big-endian) as a field element, regions in x order, and the holders whose points lie
 * off the polynomial of degree t-1 of the others, by unique decoding (sharing/shamir.ts
 * checkPointsOnPolynomial, the one the nodes run).
 * @module
 */
import { P as FIELD_P } from '../field/reference.js';
import { checkPointsOnPolynomial } from '../sharing/shamir.js';
import { regionOfX, xOf, type RoundParams } from '../protocol/params.js';

/** A projection's field element, or null when the hex is no element of the field. */
export function projValue(hex: string): bigint | null {
  const y = BigInt('0x' + hex);
  return y < FIELD_P ? y : null;
}

/** `regions` sorted by their x in the round (the order the nodes check points in). */
export function byX(P: RoundParams, regions: readonly string[]): string[] {
  return [...regions].sort((a, b) => xOf(P, a) - xOf(P, b));
}

/**
 * Do the points (x of each holder, `ys`) lie on one polynomial of degree t-1? `off`: the holders
 * that do not, when uniquely decodable (null: inconsistent and not identifiable; [] when ok).
 */
export function offHolders(P: RoundParams, holders: readonly string[], ys: readonly bigint[]): string[] | null {
  const c = checkPointsOnPolynomial(holders.map((h) => BigInt(xOf(P, h))), ys, P.threshold);
  if (c.ok) return [];
  return c.bad ? c.bad.map((x) => regionOfX(P, x)) : null;
}

/** Lists as the report prints them. */
export const names = (rs: readonly string[]): string => (rs.length ? rs.join(', ') : 'none');
