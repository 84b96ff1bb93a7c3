/**
 * The `consistency` check of a version-2 transcript's `check` entry (docs/transcript.md
 * "Version 2"): its challenge is challengeOf(params, decision, every decided holder's agg-done
 * digest); the decided holders' signed projections on it (the `agg-proj` entries recorded before
 * the check) lie on one polynomial of degree t-1 once the check's culprits are removed, and the
 * culprits are exactly the holders unique decoding leaves off; the check's `value` is the value
 * at 0 of the honest projections (the result's projection). A failed check must be one the
 * projections justify: culprits that cannot be identified, or fewer than t honest holders.
 * @module
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { valueAt } from '../sharing/shamir.js';
import { challengeOf } from '../protocol/commitments.js';
import { xOf, type RoundParams } from '../protocol/params.js';
import type { RoundEntry as Entry } from '../protocol/records.js';
import { byX, names, offHolders, projValue } from './points.js';
import type { View, ViewFail } from './view.js';

export function checkAggregateV2(v: View, ck: Entry<'check'>, d: Entry<'decision'>, P: RoundParams, fail: ViewFail): void {
  const b = ck.body;
  const t = P.threshold;
  const R = byX(P, d.body.holders);
  const lacking = R.filter((h) => !v.aggDone.has(h));
  if (b.challenge === null) fail('consistency', ck, 'a version-2 check without the round\'s challenge');
  else if (lacking.length) fail('consistency', ck, `the challenge needs every decided holder's agg-done; ${lacking.join(', ')} not recorded`);
  else {
    try {
      const digests = new Map(R.map((h) => [h, hexToBytes(v.aggDone.get(h)!.body.digest)] as const));
      const dm = { type: 'decision' as const, round: v.round, coordinator: d.body.coordinator, dealers: d.body.dealers, holders: d.body.holders, sig: hexToBytes(d.body.sig) };
      const ch = bytesToHex(challengeOf(P, dm, digests));
      if (b.challenge !== ch) fail('consistency', ck, `challenge ${b.challenge.slice(0, 16)}… is not challengeOf(params, decision, the agg-done digests) = ${ch.slice(0, 16)}…`);
    } catch (e) {
      fail('consistency', ck, `cannot recompute the challenge: ${(e as Error).message}`);
    }
  }
  const have = R.filter((h) => (v.aggProj.get(h)?.seq ?? Infinity) < ck.seq);
  const ys = have.map((h) => projValue(v.aggProj.get(h)!.body.projection));
  if (ys.some((y) => y === null)) {
    fail('consistency', ck, `the projection of ${have.filter((_, i) => ys[i] === null).join(', ')} is not a field element`);
    return;
  }
  const Y = new Map(have.map((h, i) => [h, ys[i]!] as const));
  const want = offHolders(P, have, ys as bigint[]);
  const culprits = byX(P, b.culprits);
  for (const h of b.culprits) if (!have.includes(h)) fail('consistency', ck, `culprit ${h} has no agg-proj recorded before the check`);
  if (!b.ok) {
    if (b.value !== null) fail('consistency', ck, 'a failed check with a value');
    if (want !== null && want.length === 0) fail('consistency', ck, `the check failed, but the projections of ${have.join(', ')} lie on one polynomial of degree ${t - 1}`);
    else if (want !== null && (want.join() !== culprits.join() || have.length - want.length >= t)) fail('consistency', ck, `the check failed naming ${names(b.culprits)}; unique decoding names ${want.join(', ')}, leaving ${have.length - want.length} correct aggregate share(s) for t = ${t}`);
    else if (want === null && b.culprits.length) fail('consistency', ck, `the check names ${b.culprits.join(', ')}, but the projections' wrong ones cannot be identified`);
    return;
  }
  if (want === null) {
    fail('consistency', ck, `the projections of ${have.join(', ')} lie on no polynomial of degree ${t - 1} and the wrong ones cannot be identified, yet the check passed`);
    return;
  }
  if (want.join() !== culprits.join()) fail('consistency', ck, `culprits ${names(b.culprits)}; unique decoding of the agg-proj projections gives ${names(want)}`);
  const honest = have.filter((h) => !b.culprits.includes(h));
  if (honest.length < t) {
    fail('consistency', ck, `${honest.length} honest projection(s) after removing the culprits, threshold is ${t}`);
    return;
  }
  const off = offHolders(P, honest, honest.map((h) => Y.get(h)!));
  if (off === null || off.length) {
    fail('consistency', ck, `the projections of ${honest.join(', ')} (the culprits removed) lie on no polynomial of degree ${t - 1}`);
    return;
  }
  const base = honest.slice(0, t);
  const at0 = valueAt(base.map((h) => BigInt(xOf(P, h))), base.map((h) => Y.get(h)!), 0n);
  if (b.value === null || BigInt(b.value) !== at0) fail('consistency', ck, `check value ${b.value ?? 'null'} is not the value at 0 of the honest projections (${at0})`);
  else {
    v.notes.set(
      'consistency',
      `${have.length} signed projections on the challenge ${b.challenge?.slice(0, 16)}…: ${honest.join(', ')} on one polynomial of degree ${t - 1}` +
        (b.culprits.length ? `; ${b.culprits.join(', ')} off it, left out: the result was corrected` : '') +
        `; value at 0 = the check's value`,
    );
  }
}
