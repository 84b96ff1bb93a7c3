/**
 * The `cross-check` of several regions' transcripts of one round: one round, one transcript per
 * recorder, and the same body for every entry two transcripts both record (params,
 * commitments, receipts, aggregate-share digests and (version 2) projections, decision, result,
 * the check's challenge, value and culprits, each holder's seal).
 * @module
 */
import { canonicalJson } from '../core/canonical-json.js';
import type { EntryBodies, RoundEntry as Entry } from '../protocol/records.js';
import type { File } from './decode.js';
import type { FailAt } from './report.js';
import type { View } from './view.js';

/** The files are of one round and each recorder gave one transcript. */
export function crossCheckFiles(files: readonly File[], fail: FailAt): void {
  // every file named with the round it records, grouped by round
  const byRound = new Map<string, string[]>();
  for (const f of files) {
    const r = f.entries[0]?.round;
    if (r !== undefined) byRound.set(r, [...(byRound.get(r) ?? []), f.name]);
  }
  if (byRound.size > 1) fail('transcripts', `transcripts of different rounds: ${[...byRound].map(([r, names]) => `${names.join(', ')}: round ${r}`).join('; ')}`);
  const recorders = files.map((f) => f.entries[0]?.region);
  recorders.forEach((r, i) => {
    if (r !== undefined && recorders.indexOf(r) !== i) fail(files[i]!.name, `a second transcript recorded by ${r} (${files[recorders.indexOf(r)]!.name})`);
  });
}

/** Every entry the views share has the same body (the first view that records it is the reference). */
export function crossCheck(views: readonly View[], fail: FailAt): void {
  const ref = views[0]!;
  const cmp = (what: string, a: { e: Entry; v: View } | undefined, b: { e: Entry; v: View } | undefined) => {
    if (!a || !b) return;
    if (canonicalJson(a.e.body) !== canonicalJson(b.e.body)) fail(`${b.v.file.name} seq ${b.e.seq}`, `${what} differs from ${a.v.file.name} seq ${a.e.seq}`);
  };
  for (const v of views.slice(1)) {
    if (v.params && ref.params && canonicalJson(v.params) !== canonicalJson(ref.params)) fail(`${v.file.name} seq 0`, `params differ from ${ref.file.name}`);
  }
  const byKey = <T extends Entry>(get: (v: View) => Map<string, T>, what: string) => {
    const seen = new Map<string, { e: Entry; v: View }>();
    for (const v of views) {
      for (const [k, e] of get(v)) {
        const first = seen.get(k);
        if (first) cmp(`${what} ${k}`, first, { e, v });
        else seen.set(k, { e, v });
      }
    }
  };
  byKey((v) => v.commits, 'commits of');
  byKey((v) => v.receipts, 'receipt');
  byKey((v) => v.aggDone, 'agg-done of');
  byKey((v) => v.aggProj, 'agg-proj of');
  const single = (get: (v: View) => Entry | null, what: string) => {
    let first: { e: Entry; v: View } | undefined;
    for (const v of views) {
      const e = get(v);
      if (!e) continue;
      if (first) cmp(what, first, { e, v });
      else first = { e, v };
    }
  };
  single((v) => v.decision, 'the decision');
  single((v) => v.result, 'the result');
  // the check entries differ in `used` (at a deadline, and by the fan-in rule in version 2);
  // challenge, value and culprits must agree
  let firstCk: View | undefined;
  for (const v of views) {
    if (!v.check?.body.ok || v.check.body.value === null) continue;
    if (!firstCk) firstCk = v;
    else if (v.check.body.challenge !== firstCk.check!.body.challenge || v.check.body.value !== firstCk.check!.body.value || v.check.body.culprits.join() !== firstCk.check!.body.culprits.join()) {
      fail(`${v.file.name} seq ${v.check.seq}`, `the consistency check's challenge, value or culprits differ from ${firstCk.file.name}`);
    }
  }
  const seals = new Map<string, { s: string; v: View; e: Entry }>();
  for (const v of views) {
    if (v.final?.kind !== 'sealed') continue;
    for (const s of (v.final.body as EntryBodies['sealed']).seals) {
      const c = canonicalJson(s);
      const f = seals.get(s.holder);
      if (f && f.s !== c) fail(`${v.file.name} seq ${v.final.seq}`, `the seal of ${s.holder} differs from ${f.v.file.name} seq ${f.e.seq}`);
      else if (!f) seals.set(s.holder, { s: c, v, e: v.final });
    }
  }
}
