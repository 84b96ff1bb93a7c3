/**
 * The round picture the auditor page draws: every region of the federation (dealt, held,
 * dropped), the share and aggregate-share flows with their sizes, and the sealed result, read
 * from one transcript's {@link View}. In version 2 the seeded holders' shares are 32-byte seeds
 * and each holder sends its aggregate share only to the nodes the fan-in rule names.
 * @module
 */
import { SEED_BYTES } from '../sharing/seeded.js';
import type { Federation } from '../federation/index.js';
import { fanInTargets, seededHolders } from '../protocol/fan-in.js';
import { EXTRA_ELEMS } from '../protocol/params.js';
import type { RoundPicture } from './report.js';
import type { View } from './view.js';

/** A version-2 seed (protocol/shares-v2.ts: 32 bytes expanded to the share vector). */

/** The picture of the round as view `v` records it. */
export function picture(v: View, fed: Federation): RoundPicture {
  const d = v.decision?.body;
  const D = d?.dealers ?? [];
  const Rr = d?.holders ?? [];
  const L = (v.params?.params ?? 0) + EXTRA_ELEMS;
  const flows: RoundPicture['flows'] = [];
  const P = v.version === 2 ? v.params : null;
  for (const [dealer, c] of v.commits) {
    if (!c.body.contributes) continue;
    const seeded = P ? seededHolders(P, dealer, Object.keys(c.body.digests)) : [];
    for (const h of Object.keys(c.body.digests)) if (h !== dealer) flows.push({ from: dealer, to: h, kind: 'shares', bytes: seeded.includes(h) ? SEED_BYTES : L * 8 });
  }
  if (P) {
    const excluded = [...(v.check?.body.culprits ?? []), ...Rr.filter((h) => !v.aggProj.has(h))];
    for (const h of Rr) if (!excluded.includes(h)) for (const to of fanInTargets(P, Rr, h, excluded)) flows.push({ from: h, to, kind: 'aggregate-share', bytes: L * 8 });
  } else {
    const alive = (v.params?.participants ?? []).filter((p) => D.includes(p) || Rr.includes(p) || v.commits.has(p));
    for (const h of Rr) for (const to of alive) if (to !== h) flows.push({ from: h, to, kind: 'aggregate-share', bytes: L * 8 });
  }
  return {
    round: v.round,
    protocol: v.version,
    regions: fed.regions.map((r) => ({ id: r.id, jurisdiction: r.jurisdiction, dealt: D.includes(r.id), held: Rr.includes(r.id), dropped: !D.includes(r.id) && !Rr.includes(r.id) && !(v.commits.get(r.id) && !v.commits.get(r.id)!.body.contributes) })),
    flows,
    result: v.result ? { digest: v.result.body.digest, contributors: [...v.result.body.contributors], holders: [...v.result.body.holders] } : null,
  };
}
