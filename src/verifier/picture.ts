/**
 * The round picture the auditor page draws: every region of the federation (dealt, held,
 * dropped), the share and aggregate-share flows with their sizes, and the sealed result, read
 * from one transcript's {@link View}.
 * @module
 */
import type { Federation } from '../federation/index.js';
import { EXTRA_ELEMS } from '../protocol/params.js';
import type { RoundPicture } from './report.js';
import type { View } from './view.js';

/** The picture of the round as view `v` records it. */
export function picture(v: View, fed: Federation): RoundPicture {
  const d = v.decision?.body;
  const D = d?.dealers ?? [];
  const Rr = d?.holders ?? [];
  const L = (v.params?.params ?? 0) + EXTRA_ELEMS;
  const flows: RoundPicture['flows'] = [];
  for (const [dealer, c] of v.commits) {
    if (!c.body.contributes) continue;
    for (const h of Object.keys(c.body.digests)) if (h !== dealer) flows.push({ from: dealer, to: h, kind: 'shares', bytes: L * 8 });
  }
  const alive = (v.params?.participants ?? []).filter((p) => D.includes(p) || Rr.includes(p) || v.commits.has(p));
  for (const h of Rr) for (const to of alive) if (to !== h) flows.push({ from: h, to, kind: 'aggregate-share', bytes: L * 8 });
  return {
    round: v.round,
    regions: fed.regions.map((r) => ({ id: r.id, jurisdiction: r.jurisdiction, dealt: D.includes(r.id), held: Rr.includes(r.id), dropped: !D.includes(r.id) && !Rr.includes(r.id) && !(v.commits.get(r.id) && !v.commits.get(r.id)!.body.contributes) })),
    flows,
    result: v.result ? { digest: v.result.body.digest, contributors: [...v.result.body.contributors], holders: [...v.result.body.holders] } : null,
  };
}
