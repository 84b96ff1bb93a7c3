/**
 * Who sends what to whom in protocol version 2 (docs/protocol.md "Version 2"): which holders of a
 * dealer receive a seed instead of a share vector, and which holders send their whole aggregate
 * share to which node. Pure rules over the round's parameters and the decision; every node
 * computes the same answer.
 *
 * Both rules walk the participants in cyclic x order starting after the node concerned, so that
 * with every region taking part each node sends and receives the same number of vectors.
 * @module
 */
import { xOf, type RoundParams } from './params.js';

/**
 * `among` in cyclic x order starting just after `from`'s x (`from` itself left out), or, with
 * `before`, walking down from just before it.
 */
function cyclic(p: RoundParams, from: string, among: readonly string[], before = false): string[] {
  const n = p.participants.length;
  const x0 = xOf(p, from);
  const rank = (r: string): number => (before ? x0 - xOf(p, r) + n : xOf(p, r) - x0 + n) % n;
  return among.filter((r) => r !== from).sort((a, b) => rank(a) - rank(b));
}

/**
 * The holders of `dealer`'s shares that receive a seed: the t-1 first of `holders` (the dealer
 * left out) after the dealer in cyclic x order. The others get computed share vectors.
 */
export function seededHolders(p: RoundParams, dealer: string, holders: readonly string[]): string[] {
  return cyclic(p, dealer, holders).slice(0, Math.max(0, p.threshold - 1));
}

/**
 * The decided holders whose whole aggregate share node `v` receives: t of them, or t-1 when `v`
 * is itself a decided holder (its own share is the t-th), the first *before* `v` in cyclic x
 * order. So a holder sends its aggregate share to the holders it gave seeds to (the t-1 after
 * it), whose links carried no share vector from it: with every region taking part, each
 * direction of each link carries one vector in the whole round when n - t = t - 1 ((3, 2),
 * (5, 3)). With `excluded` (culprits, holders whose projection is missing) they are skipped.
 */
export function fanInSources(p: RoundParams, holders: readonly string[], v: string, excluded: readonly string[] = []): string[] {
  const honest = holders.filter((h) => !excluded.includes(h));
  const need = p.threshold - (honest.includes(v) ? 1 : 0);
  return cyclic(p, v, honest, true).slice(0, need);
}

/** The nodes holder `h` sends its whole aggregate share to: every participant whose sources include `h`. */
export function fanInTargets(p: RoundParams, holders: readonly string[], h: string, excluded: readonly string[] = []): string[] {
  return p.participants.filter((v) => v !== h && fanInSources(p, holders, v, excluded).includes(h));
}
