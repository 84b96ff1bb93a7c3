/**
 * One transcript's view of the round and its own checks: {@link viewOf} walks one decoded file
 * into a {@link View} (the params, commitments, receipts, decision, aggregate-share digests,
 * check, result and final entry it records) and runs the checks a single transcript can
 * settle, one function each: `parameters` (against the federation file), `protocol` (order,
 * duplicates, membership), `receipts`, `decision` and `threshold`, `consistency` (the
 * Fiat-Shamir challenge and the sealed projections), `result` and `sealed`.
 * @module
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../core/canonical-json.js';
import type { Federation } from '../federation/index.js';
import { P as FIELD_P } from '../field/reference.js';
import { valueAt } from '../sharing/shamir.js';
import { challengeOf, resultDigest } from '../protocol/commitments.js';
import { coordinatorOf, paramsDigestHex, roundParamsFor, xOf, type RoundParams } from '../protocol/params.js';
import type { EntryBodies, EntryKind, RoundEntry as Entry } from '../protocol/records.js';
import type { File } from './decode.js';
import type { CheckName } from './report.js';

/** What one transcript records, by kind (the first of each; duplicates are protocol failures). */
export interface View {
  file: File;
  recorder: string;
  round: string;
  params: RoundParams | null;
  /** The recorder's own trainers (absent from transcripts before the entry existed). */
  trainers: Entry<'trainers'> | null;
  commits: Map<string, Entry<'commits'>>;
  receipts: Map<string, Entry<'receipt'>>;
  decision: Entry<'decision'> | null;
  aggDone: Map<string, Entry<'agg-done'>>;
  check: Entry<'check'> | null;
  result: Entry<'result'> | null;
  final: Entry | null;
  policies: Entry<'policy'>[];
  /** The detail line of a check this transcript passed with something to say. */
  notes: Map<CheckName, string>;
}

/** Records one failure of check `c` at entry `e` (null: the file as a whole). */
export type ViewFail = (c: CheckName, e: Entry | null, m: string) => void;

/** Protocol stage of each kind; `policy` entries may come at any stage before the final entry. */
const ORDER: Record<EntryKind, number> = { params: 0, dropout: 1, trainers: 1, commits: 1, receipt: 1, 'dealer-check': 1, decision: 2, 'agg-done': 3, 'agg-proj': 3, check: 4, result: 5, sealed: 6, unsealed: 6, abort: 6, policy: 0 };

function kindAt(stage: number): string {
  return ['params', 'commits/receipts', 'the decision', 'agg-done', 'the check', 'the result', 'the final entry'][stage] ?? '?';
}

/** The view of file `f` with its single-transcript checks run; null for a file with no entry. */
export function viewOf(f: File, fed: Federation, fail: ViewFail): View | null {
  const first = f.entries[0];
  if (!first) return null;
  const v: View = {
    file: f, recorder: first.region, round: first.round, params: null, trainers: null, commits: new Map(), receipts: new Map(), decision: null,
    aggDone: new Map(), check: null, result: null, final: null, policies: [], notes: new Map(),
  };
  if (first.kind !== 'params') fail('protocol', first, `the first entry is ${first.kind}, expected params`);
  else v.params = checkParameters(first as Entry<'params'>, fed, fail);
  walkEntries(v, fail);
  checkReceipts(v, fail);
  const P = v.params;
  const d = v.decision;
  if (d && P) checkDecision(v, d, P, fed, fail);
  if (v.check && d && P) checkConsistency(v, v.check, d, P, fail);
  if (v.result && d && P) checkResult(v.result, d, P, fail);
  checkSealed(v, fail);
  return v;
}

/** The `parameters` check of the params entry: what a node of this federation proposes. */
function checkParameters(first: Entry<'params'>, fed: Federation, fail: ViewFail): RoundParams {
  const b = first.body;
  const p = b.params;
  // what a node of this federation proposes; `params` (the vector length) is the round's own
  const { params: _length, ...want } = roundParamsFor(fed, first.round, p.params);
  for (const [k, w] of Object.entries(want)) {
    const got = (p as unknown as Record<string, unknown>)[k];
    if (canonicalJson(got) !== canonicalJson(w)) fail('parameters', first, `${k} = ${canonicalJson(got).slice(0, 80)}, the federation file gives ${canonicalJson(w).slice(0, 80)}`);
  }
  if (p.params < 1 || p.params > fed.round.maxParams) fail('parameters', first, `params = ${p.params} is outside 1..round.maxParams`);
  if (p.minTrainers < 1) fail('parameters', first, 'minTrainers < 1');
  if (b.digest !== paramsDigestHex(p)) fail('parameters', first, 'params digest does not match the parameters');
  if (b.policy !== p.policy) fail('parameters', first, 'policy digest differs from params.policy');
  if (!p.participants.includes(first.region)) fail('parameters', first, `recorder ${first.region} is not a participant`);
  return p;
}

/** The `protocol` check: order, duplicates and membership; fills the view's maps as it goes. */
function walkEntries(v: View, fail: ViewFail): void {
  const entries = v.file.entries;
  const first = entries[0];
  const participants = v.params?.participants ?? [];
  const known = (r: string) => participants.includes(r);
  let stage = 0;
  for (const e of entries) {
    if (v.final) {
      fail('protocol', e, `${e.kind} after the final ${v.final.kind} entry`);
      continue;
    }
    if (e.kind === 'params' && e !== first) fail('protocol', e, 'a second params entry');
    if (ORDER[e.kind] < stage && e.kind !== 'abort' && e.kind !== 'policy') fail('protocol', e, `${e.kind} after ${kindAt(stage)}`);
    stage = Math.max(stage, ORDER[e.kind]);
    switch (e.kind) {
      case 'policy':
        v.policies.push(e as Entry<'policy'>);
        break;
      case 'dropout': {
        const b = e.body as EntryBodies['dropout'];
        if (!known(b.region)) fail('protocol', e, `dropout of ${b.region}, not a participant`);
        break;
      }
      case 'trainers':
        if (v.trainers) fail('protocol', e, 'a second trainers entry');
        v.trainers ??= e as Entry<'trainers'>;
        break;
      case 'commits': {
        const b = e.body as EntryBodies['commits'];
        if (!known(b.dealer)) fail('protocol', e, `commits by ${b.dealer}, not a participant`);
        if (v.commits.has(b.dealer)) fail('protocol', e, `a second commits entry by ${b.dealer}`);
        for (const h of Object.keys(b.digests)) if (!known(h)) fail('protocol', e, `commitment to ${h}, not a participant`);
        if (!b.contributes && (b.trainers !== 0 || Object.keys(b.digests).length)) fail('protocol', e, `${b.dealer} does not contribute but commits to shares`);
        v.commits.set(b.dealer, e as Entry<'commits'>);
        break;
      }
      case 'receipt': {
        const b = e.body as EntryBodies['receipt'];
        const k = `${b.dealer}>${b.holder}`;
        if (!known(b.dealer) || !known(b.holder)) fail('protocol', e, `receipt between non-participants ${b.dealer} -> ${b.holder}`);
        if (v.receipts.has(k)) fail('protocol', e, `a second receipt ${b.dealer} -> ${b.holder}`);
        v.receipts.set(k, e as Entry<'receipt'>);
        break;
      }
      case 'decision':
        if (v.decision) fail('protocol', e, 'a second decision');
        v.decision ??= e as Entry<'decision'>;
        break;
      case 'agg-done': {
        const b = e.body as EntryBodies['agg-done'];
        if (!v.decision) fail('protocol', e, 'agg-done before the decision');
        else if (!v.decision.body.holders.includes(b.holder)) fail('protocol', e, `agg-done by ${b.holder}, not a decided holder`);
        if (v.aggDone.has(b.holder)) fail('protocol', e, `a second agg-done by ${b.holder}`);
        v.aggDone.set(b.holder, e as Entry<'agg-done'>);
        break;
      }
      case 'check':
        if (v.check) fail('protocol', e, 'a second check');
        v.check ??= e as Entry<'check'>;
        break;
      case 'result':
        if (!v.check || !v.check.body.ok) fail('protocol', e, 'result without a passed consistency check');
        if (v.result) fail('protocol', e, 'a second result');
        v.result ??= e as Entry<'result'>;
        break;
      case 'sealed':
      case 'unsealed':
        if (!v.result) fail('protocol', e, `${e.kind} without a result`);
        v.final = e;
        break;
      case 'abort':
        v.final = e;
        break;
    }
  }
  if (v.check && !v.check.body.ok && v.final?.kind !== 'abort') fail('protocol', v.check, 'a failed consistency check not followed by an abort');
  if (v.result && v.aggDone.size === 0) fail('protocol', v.result, 'result without any agg-done');
  const own = v.commits.get(v.recorder);
  if (v.trainers && own && own.body.trainers !== v.trainers.body.count) fail('protocol', v.trainers, `${v.trainers.body.count} trainer update(s) recorded, the recorder's commits say ${own.body.trainers}`);
}

/** The `receipts` check: each receipt names the digest its dealer committed to. */
function checkReceipts(v: View, fail: ViewFail): void {
  for (const [, e] of v.receipts) {
    const b = e.body;
    const c = v.commits.get(b.dealer);
    if (c && c.body.digests[b.holder] !== b.digest) fail('receipts', e, `receipt ${b.dealer} -> ${b.holder} names digest ${b.digest.slice(0, 16)}…, the commitment is ${(c.body.digests[b.holder] ?? 'absent').slice(0, 16)}…`);
    if (!c && v.decision?.body.dealers.includes(b.dealer)) fail('receipts', e, `receipt for decided dealer ${b.dealer} without its commitment in this transcript`);
  }
}

/** The `decision` and `threshold` checks of the decision entry `d`. */
function checkDecision(v: View, d: Entry<'decision'>, P: RoundParams, fed: Federation, fail: ViewFail): void {
  const b = d.body;
  const coord = coordinatorOf(P);
  const known = (r: string) => P.participants.includes(r);
  if (b.coordinator !== coord) fail('decision', d, `decision by ${b.coordinator}, the coordinator is ${coord}`);
  for (const r of [...b.dealers, ...b.holders]) if (!known(r)) fail('decision', d, `decision names ${r}, not a participant`);
  const isCoord = v.recorder === coord;
  let backed = 0;
  let missing = 0;
  for (const dl of b.dealers) {
    const c = v.commits.get(dl);
    if (!c) {
      fail('decision', d, `dealer ${dl} has no commitment in this transcript`);
      continue;
    }
    if (!c.body.contributes) fail('decision', d, `dealer ${dl} committed as not contributing`);
    for (const h of b.holders) {
      if (c.body.digests[h] === undefined) {
        fail('decision', d, `dealer ${dl} never committed a share to holder ${h}`);
        continue;
      }
      const r = v.receipts.get(`${dl}>${h}`);
      if (r && r.seq < d.seq) backed++;
      else if (isCoord || h === v.recorder) fail('decision', d, `no receipt ${dl} -> ${h} before the decision`);
      else missing++;
    }
  }
  v.notes.set('decision', `D = {${b.dealers.join(', ')}}, R = {${b.holders.join(', ')}} by ${b.coordinator}; ${backed} (dealer, holder) pair(s) backed by receipts` + (missing ? `, ${missing} receipt(s) not seen by ${v.recorder} (the coordinator's transcript has them all)` : ''));
  const t = P.threshold;
  if (b.holders.length < t) fail('threshold', d, `${b.holders.length} holder(s), threshold is ${t}`);
  if (b.dealers.length < P.minContributors) fail('threshold', d, `${b.dealers.length} contributor(s), the policy requires ${P.minContributors}`);
  const trainers = b.dealers.reduce((n, x) => n + (v.commits.get(x)?.body.trainers ?? 0), 0);
  if (trainers < P.minTrainers) fail('threshold', d, `${trainers} trainer(s), the policy requires ${P.minTrainers}`);
  if (t < 2 && !fed.allowInsecureThreshold) fail('threshold', d, 'threshold 1 without allowInsecureThreshold');
  v.notes.set('threshold', `${b.holders.length} holders >= t = ${t}; ${b.dealers.length} contributors >= ${P.minContributors}; ${trainers} trainers`);
}

/**
 * The `consistency` check of the check entry `ck`: its aggregate shares are recorded, its
 * challenge is the Fiat-Shamir challenge of the committed aggregate shares, and the holders'
 * sealed projections lie on one polynomial of degree t-1 whose value at 0 is the recorded one.
 */
function checkConsistency(v: View, ck: Entry<'check'>, d: Entry<'decision'>, P: RoundParams, fail: ViewFail): void {
  const b = ck.body;
  for (const h of b.used) if (!v.aggDone.has(h)) fail('consistency', ck, `check uses ${h}'s aggregate share, but its agg-done is not recorded`);
  if (b.ok && b.used.length < P.threshold) fail('consistency', ck, `check over ${b.used.length} aggregate share(s), threshold is ${P.threshold}`);
  const allIn = d.body.holders.every((h) => v.aggDone.has(h));
  if (b.ok && allIn) {
    try {
      const digests = new Map(d.body.holders.map((h) => [h, hexToBytes(v.aggDone.get(h)!.body.digest)] as const));
      const dm = { type: 'decision' as const, round: v.round, coordinator: d.body.coordinator, dealers: d.body.dealers, holders: d.body.holders, sig: hexToBytes(d.body.sig) };
      const ch = bytesToHex(challengeOf(P, dm, digests));
      if (b.challenge !== ch) fail('consistency', ck, `challenge ${String(b.challenge).slice(0, 16)}… is not the Fiat-Shamir challenge of the committed aggregate shares (${ch.slice(0, 16)}…)`);
    } catch (e) {
      fail('consistency', ck, `cannot recompute the challenge: ${(e as Error).message}`);
    }
  }
  const sealed = v.final?.kind === 'sealed' ? (v.final.body as EntryBodies['sealed']).seals : null;
  if (b.ok && b.value !== null && sealed) {
    const pts = sealed.filter((s) => s.projection.length === 16).map((s) => ({ x: BigInt(xOf(P, s.holder)), y: BigInt('0x' + s.projection), h: s.holder })).sort((a, c) => (a.x < c.x ? -1 : 1));
    if (pts.length !== d.body.holders.length) fail('consistency', v.final!, `${pts.length} projection(s) for ${d.body.holders.length} holders`);
    else if (pts.some((p) => p.y >= FIELD_P)) fail('consistency', v.final!, 'a projection is not a field element');
    else {
      const t = P.threshold;
      const base = pts.slice(0, t);
      const interp = (at: bigint) => valueAt(base.map((p) => p.x), base.map((p) => p.y), at);
      const off = pts.slice(t).filter((p) => interp(p.x) !== p.y).map((p) => p.h);
      if (off.length) fail('consistency', v.final!, `the sealed projections of ${off.join(', ')} are not on the degree ${t - 1} polynomial through ${base.map((p) => p.h).join(', ')}`);
      else if (interp(0n) !== BigInt(b.value)) fail('consistency', v.final!, 'the projections interpolate at 0 to a value other than the recorded projection of the result');
      else v.notes.set('consistency', `${pts.length} sealed projections on one polynomial of degree ${t - 1} (Fiat-Shamir challenge ${b.challenge!.slice(0, 16)}…), value at 0 = the result's projection`);
    }
  } else if (b.ok && b.value === null) {
    v.notes.set('consistency', `checked by ${v.recorder} over ${b.used.join(', ')}; no Fiat-Shamir projections (not every holder's aggregate share was in)`);
  }
}

/** The `result` check of the result entry `r` against the decision and the parameters. */
function checkResult(r: Entry<'result'>, d: Entry<'decision'>, P: RoundParams, fail: ViewFail): void {
  const b = r.body;
  if (b.contributors.join() !== d.body.dealers.join()) fail('result', r, `contributors ${b.contributors.join(',')} differ from the decided dealers ${d.body.dealers.join(',')}`);
  if (b.holders.join() !== d.body.holders.join()) fail('result', r, `holders ${b.holders.join(',')} differ from the decided holders ${d.body.holders.join(',')}`);
  if (b.params !== P.params) fail('result', r, `result of ${b.params} values, the round has ${P.params}`);
  if (bytesToHex(resultDigest(hexToBytes(b.sum), hexToBytes(b.mean), b.totalWeight)) !== b.digest) fail('result', r, 'the result digest does not match its sum and mean digests and total weight');
}

/** The `sealed` check: the transcript ends in a seal of the recorded result by every holder. */
function checkSealed(v: View, fail: ViewFail): void {
  const f = v.file;
  const d = v.decision;
  const r = v.result;
  const fin = v.final;
  const lastE = f.entries[f.entries.length - 1]!;
  if (!f.complete) fail('sealed', null, 'not checked: the transcript did not decode');
  else if (!fin) fail('sealed', lastE, `the transcript ends at seq ${lastE.seq} (${lastE.kind}) without a final entry: the round is unfinished or the node crashed`);
  else if (fin.kind === 'abort') {
    const a = fin.body as EntryBodies['abort'];
    fail('sealed', fin, `the round was aborted by ${a.by} (${a.code}: ${a.reason})`);
  } else if (fin.kind === 'unsealed') {
    const u = fin.body as EntryBodies['unsealed'];
    fail('sealed', fin, `unsealed: ${u.reason}`);
  } else if (d && r) {
    const seals = (fin.body as EntryBodies['sealed']).seals;
    if (seals.map((s) => s.holder).join() !== d.body.holders.join()) fail('sealed', fin, `seals by ${seals.map((s) => s.holder).join(',')}, the holders are ${d.body.holders.join(',')}`);
    for (const s of seals) if (s.result !== r.body.digest) fail('sealed', fin, `${s.holder} sealed result ${s.result.slice(0, 16)}…, the recorded result is ${r.body.digest.slice(0, 16)}…`);
    v.notes.set('sealed', `sealed by ${seals.map((s) => s.holder).join(', ')} over result ${r.body.digest.slice(0, 16)}…`);
  }
}
