/**
 * The `dealer-consistency` check of a version-2 transcript (docs/transcript.md "Version 2"):
 * from the recorded receipts, for each decided dealer, the projections of its shares held by
 * the decided holders lie on one polynomial of degree t-1 (when more than t of them are
 * recorded); every `dealer-check` entry is the coordinator's, and recomputes: its holders'
 * receipted projections lie on no such polynomial, its `off` are exactly the holders unique
 * decoding leaves off, and none of them is a decided holder.
 * @module
 */
import { coordinatorOf, type RoundParams } from '../protocol/params.js';
import type { RoundEntry as Entry } from '../protocol/records.js';
import { byX, names, offHolders, projValue } from './points.js';
import type { View, ViewFail } from './view.js';

/** The projections of `dealer`'s shares the receipts of `holders` record (null where absent or not a field element). */
function receiptPoints(v: View, dealer: string, holders: readonly string[], before = Infinity): (bigint | null)[] {
  return holders.map((h) => {
    const r = v.receipts.get(`${dealer}>${h}`);
    return r && r.seq < before && r.body.projection !== undefined ? projValue(r.body.projection) : null;
  });
}

export function checkDealers(v: View, P: RoundParams, fail: ViewFail): void {
  const t = P.threshold;
  const d = v.decision;
  const coord = coordinatorOf(P);
  const notes: string[] = [];
  for (const [dealer, e] of v.dealerChecks) checkEntry(v, e, dealer, P, fail, notes);
  if (!d) {
    v.notes.set('dealer-consistency', `no decision; ${v.dealerChecks.size} dealer-check entr${v.dealerChecks.size === 1 ? 'y' : 'ies'}` + (notes.length ? `: ${notes.join('; ')}` : ''));
    return;
  }
  let checked = 0;
  const few: string[] = [];
  for (const dealer of d.body.dealers) {
    const all = byX(P, d.body.holders);
    const ys = receiptPoints(v, dealer, all);
    const hs = all.filter((_, i) => ys[i] !== null);
    if (hs.length <= t) {
      few.push(dealer);
      continue;
    }
    const off = offHolders(P, hs, ys.filter((y): y is bigint => y !== null));
    if (off === null || off.length) fail('dealer-consistency', d, `the projections of the shares ${dealer} dealt to the decided holders ${hs.join(', ')} lie on no polynomial of degree ${t - 1}` + (off ? ` (${off.join(', ')} off it)` : ''));
    else checked++;
  }
  const seen = v.recorder === coord ? '' : ` (as far as ${v.recorder} recorded the receipts)`;
  v.notes.set(
    'dealer-consistency',
    `${checked} decided dealer(s) dealt the decided holders shares on one polynomial of degree ${t - 1}${seen}` +
      (few.length ? `; ${few.join(', ')}: t or fewer receipted projections, nothing to check` : '') +
      (notes.length ? `; dealer-check: ${notes.join('; ')}` : '; no dealer found inconsistent'),
  );
}

/** One `dealer-check` entry `e` recomputed from the receipts recorded before it. */
function checkEntry(v: View, e: Entry<'dealer-check'>, dealer: string, P: RoundParams, fail: ViewFail, notes: string[]): void {
  const b = e.body;
  const t = P.threshold;
  const coord = coordinatorOf(P);
  if (v.recorder !== coord) fail('dealer-consistency', e, `dealer-check recorded by ${v.recorder}; only the coordinator ${coord} checks dealers`);
  const c = v.commits.get(dealer);
  if (!c?.body.contributes) fail('dealer-consistency', e, `dealer-check of ${dealer}, which committed to no shares in this transcript`);
  if (b.holders.join() !== byX(P, b.holders).join()) fail('dealer-consistency', e, `dealer-check holders ${b.holders.join(', ')} are not in x order`);
  if (b.holders.length <= t) fail('dealer-consistency', e, `dealer-check over ${b.holders.length} holder(s); the check needs more than t = ${t}`);
  for (const h of b.off) if (!b.holders.includes(h)) fail('dealer-consistency', e, `dealer-check names ${h} off, not one of its holders`);
  const ys = receiptPoints(v, dealer, b.holders, e.seq);
  const lacking = b.holders.filter((_, i) => ys[i] === null);
  if (lacking.length) {
    fail('dealer-consistency', e, `dealer-check of ${dealer} over ${lacking.join(', ')} without their receipted projections before it`);
    return;
  }
  const off = offHolders(P, b.holders, ys as bigint[]);
  if (off === null) fail('dealer-consistency', e, `the projections of ${dealer}'s shares lie on no polynomial of degree ${t - 1} and no holder can be identified: the round must abort naming ${dealer}, not go on`);
  else if (off.length === 0) fail('dealer-consistency', e, `the projections of ${dealer}'s shares held by ${b.holders.join(', ')} lie on one polynomial of degree ${t - 1}: no holder is off`);
  else if (off.join() !== b.off.join()) fail('dealer-consistency', e, `dealer-check of ${dealer} names ${names(b.off)} off; unique decoding of the receipted projections gives ${off.join(', ')}`);
  const R = v.decision?.body.holders ?? [];
  for (const h of b.off) if (R.includes(h)) fail('dealer-consistency', v.decision!, `${h} holds a share off ${dealer}'s polynomial (dealer-check seq ${e.seq}) and is a decided holder`);
  notes.push(`${dealer}'s share to ${names(b.off)} off its polynomial (of ${b.holders.length} holders), left out of R`);
}
