/**
 * The decision: the coordinator picks the dealers D whose shares enough live holders received
 * intact and the live holders R that received from every dealer in D, checks the policy's
 * minimums, and signs `decision`; every node checks the decision it receives (signature, sizes,
 * the policy of every flow it uses) and enters the combine phase with the Lagrange coefficients
 * of the first t holders.
 * @module
 */
import { ProtocolError } from '../errors.js';
import { lagrangeCoefficients } from '../field/reference.js';
import { checkMinContributors, checkMinTrainers } from '../policy/index.js';
import type { PeerMessage } from './messages.js';
import { coordinatorOf, regionOfX, xOf } from './params.js';
import { checkPointsOnPolynomial } from '../sharing/shamir.js';
import { onDecisionV2 } from './combine-v2.js';
import { messageRecord } from './records.js';
import { decided, flowDecision } from './locality.js';
import { tryFinish } from './finish.js';
import { byX, isDown, isStalled, live, others, signed, verifySig, waitsFor } from './step-common.js';
import type { Effect, Mut, StepContext } from './state.js';

export function tryDecide(s: Mut, fx: Effect[], now: number, ctx: StepContext, force: boolean): void {
  if (s.self !== coordinatorOf(s.params) || s.decision || !(s.phase === 'decide' || (force && s.phase !== 'combine'))) return;
  const t = s.params.threshold;
  // one policy decision per (dealer, holder) for this step: the D/R search below asks many times
  const flows = new Map<string, boolean>();
  const flowAllowed = (d: string, h: string): boolean => {
    let ok = flows.get(`${d}>${h}`);
    if (ok === undefined) flows.set(`${d}>${h}`, (ok = flowDecision(ctx.policy, d, h, now).outcome === 'allowed'));
    return ok;
  };
  // wait for commits from every live participant, and a receipt from every live holder for
  // every committed share, a dead dealer's included (its receipts come from the live holders);
  // a stalled one only while someone else is awaited too, and one then left is no holder
  const awaited = new Set(live(s).filter((p) => !s.commits[p]));
  for (const [p, c] of Object.entries(s.commits)) {
    for (const h of Object.keys(c.digests)) if (!s.receipts[p]?.[h] && !isDown(s, h) && flowAllowed(p, h)) awaited.add(h);
  }
  if (!force && waitsFor(s, awaited)) return;
  const left = [...awaited].filter((p) => isStalled(s, p));
  // valid receipt: its digest equals the dealer's commitment to that holder
  const valid = (d: string, h: string): boolean => {
    const c = s.commits[d];
    return !!c && c.contributes && c.digests[h] !== undefined && s.receipts[d]?.[h] === c.digests[h] && flowAllowed(d, h);
  };
  // a holder must be live: its parameters matched, its own commits arrived (it got through
  // dealing) and its link is up. One that received shares and then died is no holder: in R it
  // would be waited for until the round's deadline (docs/protocol.md, "Dropouts and aborts").
  const liveHolder = (h: string): boolean => h === s.self || (s.matched.includes(h) && s.commits[h] !== undefined && !isDown(s, h) && !left.includes(h));
  const candidates = s.params.participants.filter((h) => (h === s.self || Object.keys(s.receipts).some((d) => s.receipts[d]![h] !== undefined)) && liveHolder(h));
  // version 2: holders whose share of some dealer is off that dealer's polynomial are no holders
  const checks: Effect[] = []; // its records, kept until the decision is certain to be made now
  const holdersAll = s.v2 ? consistentHolders(s, checks, candidates, valid) : candidates;
  let D = s.params.participants.filter((d) => s.commits[d]?.contributes && holdersAll.filter((h) => valid(d, h)).length >= t);
  let R: string[] = [];
  for (;;) {
    R = holdersAll.filter((h) => D.every((d) => valid(d, h)));
    if (R.length >= t || D.length === 0) break;
    // drop the dealer that fewest holders received from, and try again
    const counts = D.map((d) => holdersAll.filter((h) => valid(d, h)).length);
    D = D.filter((_, i) => i !== counts.indexOf(Math.min(...counts)));
  }
  const contributors = D.length;
  const trainers = D.reduce((n, d) => n + s.commits[d]!.trainers, 0);
  // going on without a stalled participant only pays if the round then completes: else it is
  // waited for on (it may only be slow; its drain timeout or the deadline settles it)
  if (!force && left.length && (contributors < s.params.minContributors || trainers < s.params.minTrainers || R.length < t)) return;
  fx.push(...checks);
  if (ctx.policy) {
    // recorded before anything is revealed; a refusal aborts below
    decided(fx, checkMinContributors(ctx.policy, s.params.round, D), now);
    if (contributors >= s.params.minContributors) decided(fx, checkMinTrainers(ctx.policy, s.params.round, trainers), now);
  }
  if (contributors < s.params.minContributors) {
    throw new ProtocolError('PROTOCOL_BELOW_MIN_CONTRIBUTORS', `only ${contributors} region(s) contributed (${D.join(', ') || 'none'}), the policy requires ${s.params.minContributors}: nothing is revealed`);
  }
  if (trainers < s.params.minTrainers) {
    throw new ProtocolError('POLICY_MIN_TRAINERS', `only ${trainers} trainer(s) contributed, the policy requires ${s.params.minTrainers}: nothing is revealed`);
  }
  if (R.length < t) {
    throw new ProtocolError('PROTOCOL_BELOW_THRESHOLD', `only ${R.length} region(s) hold shares from every contributor, threshold is ${t}`);
  }
  // a region that took part after dealing (committed or receipted) and then went down
  const tookPart = (p: string): boolean => s.commits[p] !== undefined || Object.values(s.receipts).some((r) => r[p] !== undefined);
  for (const p of s.matched) {
    if (isDown(s, p) && tookPart(p)) fx.push({ kind: 'record', record: { kind: 'dropout', body: { region: p, phase: 'decide', reason: 'its link went down before the decision: no holder' } } });
    else if (left.includes(p)) fx.push({ kind: 'record', record: { kind: 'dropout', body: { region: p, phase: 'decide', reason: 'its link was stalled when every other participant had answered: no holder' } } });
  }
  const decision = signed(s, ctx, { type: 'decision', round: s.params.round, coordinator: s.self, dealers: D, holders: R });
  fx.push({ kind: 'log', event: 'decision', detail: { round: s.params.round, dealers: D, holders: R, ...(left.length ? { stalled: left } : {}) } });
  onDecision(s, fx, decision, ctx, now);
}

/**
 * A decided holder must hold complete shares from exactly the decided dealers (its held sum
 * cannot take a dealer's share out again).
 * @throws {ProtocolError} PROTOCOL_BELOW_THRESHOLD saying what it holds.
 */
export function checkServable(s: Mut, msg: Extract<PeerMessage, { type: 'decision' }>, ctx: StepContext): void {
  const touched = ctx.memory.touchedDealers();
  const extra = touched.filter((d) => !msg.dealers.includes(d));
  const incomplete = msg.dealers.filter((d) => !ctx.memory.shareDigest(d));
  if (extra.length || incomplete.length) {
    throw new ProtocolError('PROTOCOL_BELOW_THRESHOLD', `${s.self} cannot serve as holder: ` + (incomplete.length ? `incomplete shares from ${incomplete.join(', ')}` : `holds shares from ${extra.join(', ')}, which ${extra.length > 1 ? 'are not decided dealers' : 'is not a decided dealer'} (its shares cannot be taken out of the sum)`));
  }
}

/**
 * Version 2, the dealer-consistency check (docs/protocol.md "Dealer consistency"): for every
 * contributing dealer with more than t valid receipts, the holders' projections must lie on one
 * polynomial of degree t-1. Holders whose points disagree (unique decoding) are left out of R,
 * with a `dealer-check` entry; when they cannot be identified the round aborts naming the dealer.
 */
function consistentHolders(s: Mut, fx: Effect[], holders: readonly string[], valid: (d: string, h: string) => boolean): string[] {
  const t = s.params.threshold;
  const off = new Set<string>();
  for (const d of s.params.participants) {
    if (!s.commits[d]?.contributes) continue;
    const hs = byX(s, holders.filter((h) => valid(d, h) && s.v2!.receiptProj[d]?.[h] !== undefined));
    if (hs.length <= t) continue;
    const c = checkPointsOnPolynomial(hs.map((h) => BigInt(xOf(s.params, h))), hs.map((h) => BigInt('0x' + s.v2!.receiptProj[d]![h]!)), t);
    if (c.ok) continue;
    if (!c.bad) {
      throw new ProtocolError('PROTOCOL_INCONSISTENT_DEALER', `the shares ${d} dealt to ${hs.join(', ')} lie on no polynomial of degree ${t - 1} (by their signed projections), and the holders that disagree cannot be identified: nothing is revealed`, { culprits: [d] });
    }
    const bad = c.bad.map((x) => regionOfX(s.params, x));
    fx.push({ kind: 'record', record: { kind: 'dealer-check', body: { dealer: d, holders: hs, off: bad } } });
    fx.push({ kind: 'log', event: 'dealer-inconsistent', detail: { round: s.params.round, dealer: d, off: bad } });
    for (const h of bad) off.add(h);
  }
  return holders.filter((h) => !off.has(h));
}

export function onDecision(s: Mut, fx: Effect[], msg: Extract<PeerMessage, { type: 'decision' }>, ctx: StepContext, now: number): void {
  const coord = coordinatorOf(s.params);
  if (msg.coordinator !== coord) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `decision by ${msg.coordinator}, the coordinator is ${coord}`);
  verifySig(s, ctx, coord, msg);
  if (s.decision) {
    // relayed copies must be identical
    if (msg.dealers.join() !== s.decision.dealers.join() || msg.holders.join() !== s.decision.holders.join()) {
      throw new ProtocolError('PROTOCOL_EQUIVOCATION', `${coord} signed two different decisions for round ${s.params.round}`, { culprits: [coord] });
    }
    return;
  }
  const t = s.params.threshold;
  const known = (r: string) => s.params.participants.includes(r);
  if (!msg.dealers.every(known) || !msg.holders.every(known) || msg.holders.length < t || msg.dealers.length < s.params.minContributors) {
    throw new ProtocolError('PROTOCOL_BELOW_THRESHOLD', `decision with ${msg.dealers.length} dealers and ${msg.holders.length} holders is invalid (t = ${t}, minContributors = ${s.params.minContributors})`, { culprits: [coord] });
  }
  if (ctx.policy) {
    // every decided flow must be one the dealers' policies allow (the coordinator could be wrong or lying)
    for (const d of msg.dealers) {
      for (const h of msg.holders) {
        const pd = flowDecision(ctx.policy, d, h, now);
        if (pd.outcome === 'refused') {
          decided(fx, pd, now);
          throw new ProtocolError('POLICY_FLOW_REFUSED', `decision by ${coord} uses the flow ${d} -> ${h}, which the locality policy refuses: ${pd.reason}`, { culprits: [coord] });
        }
      }
    }
  }
  s.decision = { coordinator: coord, dealers: [...msg.dealers], holders: [...msg.holders], sig: msg.sig };
  fx.push({ kind: 'record', record: messageRecord(msg) });
  s.phase = 'combine';
  if (s.v2) return onDecisionV2(s, fx, msg, ctx, now);
  const holders = byX(s, msg.holders);
  const S = holders.slice(0, t);
  const lambda = lagrangeCoefficients(S.map((h) => BigInt(xOf(s.params, h))), 0n);
  const coeffs = new Map<string, bigint | null>(holders.map((h) => [h, S.includes(h) ? lambda[S.indexOf(h)]! : null]));
  ctx.memory.startReconstruction(coeffs, ctx.projectionRng);
  if (holders.includes(s.self)) {
    checkServable(s, msg, ctx);
    ctx.memory.acceptOwnAgg(s.self);
    s.aggDone = [...s.aggDone, s.self];
    s.publishing = true;
    fx.push({ kind: 'publish', to: others(s), relay: [msg] });
  }
  tryFinish(s, fx, ctx, now, false);
}
