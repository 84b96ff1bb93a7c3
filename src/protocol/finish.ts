/**
 * Finishing: once every decided holder's aggregate share is in (or the first t at the round's
 * deadline, or all but those of holders whose link went down, none of them among the first t),
 * reconstruct and check the result, record `check` and `result`, and seal: each holder signs the
 * result digest with its share of the Fiat-Shamir projection, and the transcript ends
 * `sealed` when every holder's seal agrees (or `unsealed`, saying why).
 * @module
 */
import { ProtocolError } from '../errors.js';
import { checkPointsOnPolynomial, valueAt } from '../sharing/shamir.js';
import { xOf } from './params.js';
import { challengeOf, resultDigests } from './commitments.js';
import { byX, hex, isDown, others, signed } from './step-common.js';
import { tryCheck } from './combine-v2.js';
import type { Effect, Mut, StepContext } from './state.js';

export function tryFinish(s: Mut, fx: Effect[], ctx: StepContext, now: number, deadline: boolean): void {
  if (s.phase !== 'combine' || !s.decision) return;
  if (s.v2) return tryCheck(s, fx, ctx, now); // version 2: combine-v2.ts
  const holders = s.decision.holders;
  const all = holders.every((h) => s.aggDone.includes(h));
  const t = s.params.threshold;
  const S = byX(s, holders).slice(0, t);
  // holders whose link went down before their aggregate share was in: it never will be
  const lost = holders.filter((h) => !s.aggDone.includes(h) && isDown(s, h));
  const lostS = S.filter((h) => lost.includes(h));
  if (lostS.length) {
    throw new ProtocolError(
      'PROTOCOL_PEER_LOST',
      `the link to ${lostS.join(', ')} went down before ${lostS.length > 1 ? 'their aggregate shares' : 'its aggregate share'} arrived; the result is interpolated from ${S.join(', ')} (the first ${t} decided holders): nothing is revealed`,
    );
  }
  const inS = S.every((h) => s.aggDone.includes(h));
  // without a lost holder: every holder's share; with one, every other (not while ours streams out)
  const rest = lost.length > 0 && !s.publishing && holders.every((h) => s.aggDone.includes(h) || lost.includes(h));
  if (!all && !(inS && (deadline || rest))) return;
  const res = ctx.memory.finish((h) => xOf(s.params, h), t, s.params.scaleBits, s.aggDone);
  if (!res.ok) {
    fx.push({ kind: 'record', record: { kind: 'check', body: { ok: false, used: [...s.aggDone], culprits: res.culprits ?? [], challenge: null, value: null } } });
    throw new ProtocolError(
      'PROTOCOL_INCONSISTENT_AGGREGATE',
      res.culprits ? `aggregate shares are inconsistent: ${res.culprits.join(', ')} published a wrong aggregate share; no result is returned` : 'aggregate shares are inconsistent and the culprit cannot be identified (too few extra shares); no result is returned',
      { culprits: res.culprits ?? [] },
    );
  }
  s.phase = 'done';
  // Fiat-Shamir: with every holder's aggregate share committed, the challenge fixes r
  let challenge: Uint8Array | null = null;
  let proj: { share: bigint; result: bigint } | null = null;
  if (all && s.decision.sig) {
    const digests = new Map(holders.map((h) => [h, ctx.memory.aggDigest(h)!] as const));
    const decision = { type: 'decision' as const, round: s.params.round, coordinator: s.decision.coordinator, dealers: [...s.decision.dealers], holders: [...s.decision.holders], sig: s.decision.sig };
    challenge = challengeOf(s.params, decision, digests);
    proj = ctx.memory.fsProjections(challenge);
  }
  const dg = resultDigests(res.result, ctx.memory.hash);
  fx.push({ kind: 'record', record: { kind: 'check', body: { ok: true, used: byX(s, s.aggDone), culprits: [], challenge: challenge ? hex(challenge) : null, value: proj ? proj.result.toString() : null } } });
  fx.push({
    kind: 'record',
    record: { kind: 'result', body: { contributors: [...s.decision.dealers], holders: [...s.decision.holders], params: s.params.params, totalWeight: res.result.totalWeight, sum: hex(dg.sum), mean: hex(dg.mean), digest: hex(dg.digest) } },
  });
  fx.push({ kind: 'result', result: res.result, contributors: s.decision.dealers, holders });
  s.sealing = { digest: hex(dg.digest), challenge: challenge ? hex(challenge) : null, value: proj ? proj.result : null, doneAt: now, state: 'pending' };
  if (holders.includes(s.self)) {
    const projection = new Uint8Array(proj ? 8 : 0);
    if (proj) new DataView(projection.buffer).setBigUint64(0, proj.share);
    const seal = signed(s, ctx, { type: 'seal', round: s.params.round, holder: s.self, result: dg.digest, projection });
    s.seals = { ...(s.seals ?? {}), [s.self]: { result: hex(seal.result), projection: hex(projection), sig: hex(seal.sig) } };
    for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: seal });
  }
  trySeal(s, fx);
}

/** Records the final entry once every holder's seal is in (or unsealed if one disagrees). */
export function trySeal(s: Mut, fx: Effect[]): void {
  if (s.phase !== 'done' || !s.decision || s.sealing?.state !== 'pending') return;
  // version 2: holders found to publish a wrong aggregate share do not seal the corrected result
  const culprits = s.v2?.checked?.culprits ?? [];
  const holders = s.decision.holders.filter((h) => !culprits.includes(h));
  const missing = holders.filter((h) => !s.seals?.[h]);
  if (missing.length) {
    // a holder whose link went down will not seal: end unsealed now rather than at the deadline
    if (missing.every((h) => isDown(s, h))) unseal(s, fx, missing, `no seal from ${missing.join(', ')}: the link went down before it arrived`);
    return;
  }
  const seals = holders.map((h) => ({ holder: h, ...s.seals![h]! }));
  const wrong = seals.filter((x) => x.result !== s.sealing!.digest).map((x) => x.holder);
  if (wrong.length) return unseal(s, fx, [], `${wrong.join(', ')} sealed a different result digest`);
  if (s.sealing.value !== null) {
    const ordered = [...seals].sort((a, b) => xOf(s.params, a.holder) - xOf(s.params, b.holder));
    if (ordered.some((x) => x.projection.length !== 16)) return unseal(s, fx, [], 'a seal lacks its projection');
    const xs = ordered.map((x) => BigInt(xOf(s.params, x.holder)));
    const ys = ordered.map((x) => BigInt('0x' + x.projection));
    const t = s.params.threshold;
    const on = checkPointsOnPolynomial(xs, ys, t);
    if (!on.ok || valueAt(xs.slice(0, t), ys.slice(0, t), 0n) !== s.sealing.value) return unseal(s, fx, [], 'the sealed projections are not consistent with the reconstructed result');
  }
  s.sealing = { ...s.sealing, state: 'sealed' };
  fx.push({ kind: 'record', record: { kind: 'sealed', body: { seals } } });
  fx.push({ kind: 'sealed', complete: true });
}

export function unseal(s: Mut, fx: Effect[], missing: readonly string[], reason: string): void {
  s.sealing = { ...s.sealing!, state: 'unsealed' };
  fx.push({ kind: 'record', record: { kind: 'unsealed', body: { missing: [...missing], reason } } });
  fx.push({ kind: 'sealed', complete: false });
}
