/**
 * Dealing: once the local collection has closed and every peer's parameters matched or its link
 * went down (or the wait for them ran out), pick the live holders this region may deal to under
 * the locality policy, ask the node to stream the shares, and when they are out commit to their digests (the `commits`
 * message) and receipt our own share.
 * @module
 */
import { ProtocolError } from '../errors.js';
import { allowedHolders } from '../policy/index.js';
import { messageRecord } from './records.js';
import { decided } from './locality.js';
import { tryDecide } from './decide.js';
import { onDealtV2 } from './shares-v2.js';
import { addReceipt, byX, hex, isDown, isStalled, live, mapHex, others, signed, waitsFor } from './step-common.js';
import type { Effect, Mut, StepContext } from './state.js';

export function tryDeal(s: Mut, fx: Effect[], now: number, ctx: StepContext): void {
  if (s.phase !== 'collect' || !s.input) return;
  // wait for every peer's parameters, except from a peer whose link went down, and from a
  // stalled one once every other peer's are in (if the round can go on without it)
  const awaited = others(s).filter((p) => !s.matched.includes(p) && !isDown(s, p));
  const holders = byX(s, live(s));
  if (awaited.length && now < s.openedAt + s.timing.peerWaitMs && (waitsFor(s, awaited) || holders.length < s.params.threshold)) return;
  if (holders.length < s.params.threshold) {
    throw new ProtocolError('PROTOCOL_BELOW_THRESHOLD', `only ${holders.length} region(s) reachable with matching parameters (${holders.join(', ')}), threshold is ${s.params.threshold}: nothing was dealt`);
  }
  for (const p of s.params.participants) {
    if (holders.includes(p)) continue;
    const reason = isDown(s, p) ? 'its link went down before dealing' : isStalled(s, p) ? 'its link was stalled when every other region\'s parameters were in' : `no matching parameters within ${s.timing.peerWaitMs} ms`;
    fx.push({ kind: 'record', record: { kind: 'dropout', body: { region: p, phase: 'collect', reason } } });
  }
  if (s.input.contributes) {
    let allowed = holders;
    if (ctx.policy) {
      // the locality policy at this moment: deal only to holders this region may deal to
      const a = allowedHolders(ctx.policy, s.self, holders, now, ctx.policy.policy.grants);
      for (const d of a.decisions) decided(fx, d, now);
      allowed = a.allowed;
      if (allowed.length < s.params.threshold) {
        throw new ProtocolError(
          'PROTOCOL_BELOW_THRESHOLD',
          `the locality policy lets ${s.self} deal to only ${allowed.length} of the reachable regions (${allowed.join(', ') || 'none'}), threshold is ${s.params.threshold}: nothing was dealt. ` +
            a.refused.map((r) => r.reason).join('; '),
        );
      }
    }
    s.phase = 'deal';
    s.dealtTo = allowed;
    fx.push({ kind: 'deal', holders: allowed });
  } else {
    s.dealtTo = [];
    onDealt(s, fx, new Map(), now, ctx);
  }
}

export function onDealt(s: Mut, fx: Effect[], digests: ReadonlyMap<string, Uint8Array>, now: number, ctx: StepContext): void {
  if (s.phase !== 'deal' && !(s.phase === 'collect' && s.dealtTo)) return;
  if (s.v2) return onDealtV2(s, fx, digests, now, ctx); // version 2: commit before streaming
  const contributes = s.input?.contributes ?? false;
  const d: Record<string, Uint8Array> = {};
  for (const [h, dg] of digests) d[h] = dg;
  const trainers = contributes ? s.input!.trainers : 0;
  const msg = signed(s, ctx, { type: 'commits', round: s.params.round, dealer: s.self, contributes, trainers, digests: d });
  fx.push({ kind: 'record', record: messageRecord(msg) });
  for (const p of others(s)) fx.push({ kind: 'send', to: p, msg });
  s.phase = 'decide';
  // our own commitment and our own receipt of our own share
  s.commits = { ...s.commits, [s.self]: { contributes, trainers, digests: mapHex(d) } };
  if (contributes && d[s.self]) {
    ctx.memory.recordOwnShare(s.self, d[s.self]!);
    addReceipt(s, s.self, s.self, hex(d[s.self]!));
    const receipt = signed(s, ctx, { type: 'receipt', round: s.params.round, dealer: s.self, holder: s.self, digest: d[s.self]! });
    fx.push({ kind: 'record', record: messageRecord(receipt) });
    for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: receipt });
  }
  tryDecide(s, fx, now, ctx, false);
}
