/**
 * The `fan-in` check of a version-2 transcript's `check` entry (docs/transcript.md "Version
 * 2"): a passed check's `used` are exactly t decided holders, none of them a culprit, each with
 * its agg-done and agg-proj recorded, and they are the recorder's sources by the fan-in rule
 * (protocol/fan-in.ts fanInSources, culprits and holders without a recorded projection skipped)
 * plus the recorder itself when it is a decided holder left in; a failed check's `used` are the
 * decided holders whose projections it had.
 * @module
 */
import { fanInSources } from '../protocol/fan-in.js';
import type { RoundParams } from '../protocol/params.js';
import type { RoundEntry as Entry } from '../protocol/records.js';
import { byX, names } from './points.js';
import type { View, ViewFail } from './view.js';

export function checkFanIn(v: View, ck: Entry<'check'>, d: Entry<'decision'>, P: RoundParams, fail: ViewFail): void {
  const b = ck.body;
  const t = P.threshold;
  const R = byX(P, d.body.holders);
  const have = R.filter((h) => (v.aggProj.get(h)?.seq ?? Infinity) < ck.seq);
  if (!b.ok) {
    if (b.used.join() !== have.join()) fail('fan-in', ck, `a failed check over ${names(b.used)}; the decided holders' projections recorded before it are ${names(have)}`);
    return;
  }
  for (const h of b.used) {
    if (!R.includes(h)) fail('fan-in', ck, `check uses ${h}'s aggregate share, not a decided holder`);
    else if (!v.aggDone.has(h) || !v.aggProj.has(h)) fail('fan-in', ck, `check uses ${h}'s aggregate share without its agg-done and agg-proj recorded`);
    if (b.culprits.includes(h)) fail('fan-in', ck, `check uses the aggregate share of culprit ${h}`);
  }
  if (b.used.length !== t) fail('fan-in', ck, `check combines ${b.used.length} aggregate share(s); version 2 combines exactly t = ${t}`);
  const excluded = [...b.culprits, ...R.filter((h) => !have.includes(h))];
  const self = R.includes(v.recorder) && !excluded.includes(v.recorder);
  const sources = fanInSources(P, R, v.recorder, excluded);
  const want = byX(P, self ? [...sources, v.recorder] : sources);
  if (b.used.join() !== want.join()) fail('fan-in', ck, `check combines ${names(b.used)}; by the fan-in rule ${v.recorder} combines ${names(want)}`);
  else v.notes.set('fan-in', `${v.recorder} combined ${t} aggregate shares by the fan-in rule: ${self ? 'its own and ' : ''}${sources.length} received (${names(sources)})` + (b.culprits.length ? `, skipping ${b.culprits.join(', ')}` : ''));
}
