/**
 * The seals of a version-2 round (the `sealed` check, docs/transcript.md "Version 2"): the
 * decided holders the check did not name as culprits seal, in decision order, and only they (a
 * culprit does not seal the corrected result); each seals the recorded result digest; each seal's
 * projection is its holder's signed projection on the round's challenge (its agg-proj).
 * @module
 */
import type { EntryBodies, RoundEntry as Entry } from '../protocol/records.js';
import type { View, ViewFail } from './view.js';

export function checkSealsV2(v: View, fin: Entry<'sealed'>, d: Entry<'decision'>, r: Entry<'result'>, fail: ViewFail): void {
  const seals: EntryBodies['sealed']['seals'] = fin.body.seals;
  const culprits = v.check?.body.culprits ?? [];
  const want = d.body.holders.filter((h) => !culprits.includes(h));
  const by = seals.map((s) => s.holder);
  for (const h of culprits) if (by.includes(h)) fail('sealed', fin, `${h} sealed, but the check named it a culprit (its aggregate share was left out)`);
  if (by.join() !== want.join()) fail('sealed', fin, `seals by ${by.join(',')}, the decided holders without the culprits are ${want.join(',')}`);
  for (const s of seals) {
    if (s.result !== r.body.digest) fail('sealed', fin, `${s.holder} sealed result ${s.result.slice(0, 16)}…, the recorded result is ${r.body.digest.slice(0, 16)}…`);
    const p = v.aggProj.get(s.holder);
    if (!p) fail('sealed', fin, `${s.holder} sealed without its agg-proj recorded`);
    else if (p.body.projection !== s.projection) fail('sealed', fin, `${s.holder}'s seal projection ${s.projection || '(empty)'} is not its signed projection ${p.body.projection} (agg-proj seq ${p.seq})`);
  }
  v.notes.set('sealed', `sealed by ${by.join(', ')} over result ${r.body.digest.slice(0, 16)}…, each seal's projection = its agg-proj` + (culprits.length ? `; culprit ${culprits.join(', ')} did not seal` : ''));
}
