/**
 * Version 2, from the decision to the result (docs/protocol.md "Version 2"): every decided
 * holder commits to its aggregate share (`agg-done`, before sending it); once every commitment
 * is in, the round's challenge fixes a public random form r and every holder publishes its
 * signed projection on r (`agg-proj`); every node checks the projections lie on one polynomial
 * of degree t-1, names the holders that do not (unique decoding) and leaves them out; then each
 * holder streams its whole aggregate share only to the nodes whose sources it is (fan-in.ts),
 * each stream preceded by every commitment and projection so the receiver can check it, and
 * every node combines its t sources, checking each against its commitment and projection.
 * @module
 */
import { ProtocolError } from '../errors.js';
import { lagrangeCoefficients } from '../field/reference.js';
import { checkPointsOnPolynomial } from '../sharing/shamir.js';
import type { PeerMessage } from './messages.js';
import { challengeOf, resultDigests } from './commitments.js';
import { fanInSources, fanInTargets } from './fan-in.js';
import { regionOfX, xOf } from './params.js';
import { messageRecord } from './records.js';
import { projBytes } from './shares-v2.js';
import { checkServable } from './decide.js';
import { trySeal } from './finish.js';
import { byX, hex, isDown, others, signed, v2Of, verifySig } from './step-common.js';
import type { Effect, Mut, StepContext } from './state.js';

type Decision = Extract<PeerMessage, { type: 'decision' }>;
type AggDone = Extract<PeerMessage, { type: 'agg-done' }>;
type AggProj = Extract<PeerMessage, { type: 'agg-proj' }>;

const u64 = (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);

/** The decision arrived (checked and recorded): a decided holder commits to its aggregate share. */
export function onDecisionV2(s: Mut, fx: Effect[], msg: Decision, ctx: StepContext, now: number): void {
  ctx.memory.startFanIn(new Map());
  if (msg.holders.includes(s.self)) {
    checkServable(s, msg, ctx);
    const digest = ctx.memory.acceptOwnAgg(s.self);
    const commit = signed(s, ctx, { type: 'agg-done', round: s.params.round, holder: s.self, digest });
    fx.push({ kind: 'record', record: messageRecord(commit) });
    s.aggDone = [...s.aggDone, s.self];
    s.v2 = { ...v2Of(s), aggCommits: { ...v2Of(s).aggCommits, [s.self]: commit } };
    // the decision is relayed (a coordinator that died after sending it to some still reaches all)
    for (const p of others(s)) fx.push({ kind: 'send', to: p, msg }, { kind: 'send', to: p, msg: commit });
  }
  tryChallenge(s, fx, ctx, now);
}

/**
 * Keeps a decided holder's signed `agg-done` (under `aggCommits`) or `agg-proj` (under `aggProj`),
 * from the holder or relayed by a source (signed by the holder either way), once: a second,
 * different one is equivocation. @returns false for a duplicate.
 */
function keepSigned(s: Mut, fx: Effect[], from: string, msg: AggDone | AggProj, ctx: StepContext): boolean {
  const h = msg.holder;
  const [key, what, bytes] = msg.type === 'agg-done' ? (['aggCommits', 'commitment', msg.digest] as const) : (['aggProj', 'projection', msg.projection] as const);
  if (!s.decision!.holders.includes(h)) throw new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `aggregate ${what} of ${h} (from ${from}), not a decided holder`, { culprits: [from] });
  verifySig(s, ctx, h, msg);
  const had = v2Of(s)[key][h] as AggDone | AggProj | undefined;
  if (had) {
    const old = had.type === 'agg-done' ? had.digest : had.projection;
    if (hex(old) !== hex(bytes)) throw new ProtocolError('PROTOCOL_EQUIVOCATION', `${h} signed two different ${what}s of its aggregate share`, { culprits: [h] });
    return false;
  }
  s.v2 = { ...v2Of(s), [key]: { ...v2Of(s)[key], [h]: msg } };
  fx.push({ kind: 'record', record: messageRecord(msg) });
  return true;
}

/** A decided holder's commitment to its aggregate share. */
export function onAggDoneV2(s: Mut, fx: Effect[], from: string, msg: AggDone, ctx: StepContext, now: number): void {
  if (!keepSigned(s, fx, from, msg, ctx)) return;
  s.aggDone = [...s.aggDone, msg.holder];
  tryChallenge(s, fx, ctx, now);
}

/** A decided holder's projection on the challenge. */
export function onAggProjV2(s: Mut, fx: Effect[], from: string, msg: AggProj, ctx: StepContext, now: number): void {
  if (keepSigned(s, fx, from, msg, ctx)) tryCheck(s, fx, ctx, now);
}

/** A chunk of a source's aggregate share. One from a holder left out or not a source is refused. */
export function onAggV2(s: Mut, fx: Effect[], from: string, msg: Extract<PeerMessage, { type: 'agg' }>, ctx: StepContext, now: number): void {
  if (!ctx.memory.isAggSource(from)) {
    fx.push({ kind: 'refused', from, error: new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `aggregate share from ${from}, not a source of ${s.self}${v2Of(s).checked ? '' : ' (before the consistency check)'}`) });
    return;
  }
  try {
    ctx.memory.acceptAgg(from, msg.offset, msg.data);
  } catch (e) {
    throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `bad aggregate share stream from ${from}: ${(e as Error).message}`, { culprits: [from], cause: e });
  }
  tryFinishV2(s, fx, ctx, now);
}

/** With every decided holder's commitment in, fix the challenge; a holder projects and publishes. */
function tryChallenge(s: Mut, fx: Effect[], ctx: StepContext, now: number): void {
  if (s.phase !== 'combine' || v2Of(s).challenge !== null) return;
  const R = s.decision!.holders;
  const missing = R.filter((h) => !v2Of(s).aggCommits[h]);
  if (missing.length) {
    const lost = missing.filter((h) => isDown(s, h));
    if (lost.length) {
      throw new ProtocolError('PROTOCOL_PEER_LOST', `the link to ${lost.join(', ')} went down before ${lost.length > 1 ? 'their commitments' : 'its commitment'} to the aggregate share arrived: the round's challenge cannot be fixed, nothing is revealed`);
    }
    return;
  }
  const d = s.decision!;
  const decision: Decision = { type: 'decision', round: s.params.round, coordinator: d.coordinator, dealers: [...d.dealers], holders: [...d.holders], sig: d.sig! };
  const digests = new Map(R.map((h) => [h, (v2Of(s).aggCommits[h] as AggDone).digest] as const));
  const challenge = challengeOf(s.params, decision, digests);
  s.v2 = { ...v2Of(s), challenge: hex(challenge) };
  const holder = R.includes(s.self);
  ctx.memory.aggChallenge(challenge, holder);
  if (holder) {
    const proj = signed(s, ctx, { type: 'agg-proj', round: s.params.round, holder: s.self, projection: projBytes(ctx.memory.ownAggProjection()!) });
    s.v2 = { ...v2Of(s), aggProj: { ...v2Of(s).aggProj, [s.self]: proj } };
    fx.push({ kind: 'record', record: messageRecord(proj) });
    for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: proj });
  }
  tryCheck(s, fx, ctx, now);
}

/**
 * With the challenge fixed and every decided holder's projection in (or its link down), check
 * that they lie on one polynomial of degree t-1; name and leave out the ones that do not; pick
 * this node's sources; a holder left in streams its share to the nodes it is a source of.
 */
export function tryCheck(s: Mut, fx: Effect[], ctx: StepContext, now: number): void {
  const v = v2Of(s);
  if (s.phase !== 'combine' || v.challenge === null) return;
  if (v.checked) return tryFinishV2(s, fx, ctx, now);
  const t = s.params.threshold;
  const R = byX(s, s.decision!.holders);
  const have = R.filter((h) => v.aggProj[h]);
  const missing = R.filter((h) => !v.aggProj[h]);
  if (missing.some((h) => !isDown(s, h))) return; // still coming
  if (have.length < t) {
    throw new ProtocolError('PROTOCOL_PEER_LOST', `the link to ${missing.join(', ')} went down before ${missing.length > 1 ? 'their projections' : 'its projection'} arrived: fewer than t = ${t} decided holders remain, nothing is revealed`);
  }
  const xs = have.map((h) => BigInt(xOf(s.params, h)));
  const c = checkPointsOnPolynomial(xs, have.map((h) => u64((v.aggProj[h] as AggProj).projection)), t);
  if (!c.ok && !c.bad) {
    fx.push({ kind: 'record', record: { kind: 'check', body: { ok: false, used: have, culprits: [], challenge: v.challenge, value: null } } });
    throw new ProtocolError('PROTOCOL_INCONSISTENT_AGGREGATE', `the decided holders' projections (${have.join(', ')}) lie on no polynomial of degree ${t - 1} and the wrong ones cannot be identified (too few extra shares); no result is returned`);
  }
  const culprits = c.ok ? [] : c.bad!.map((x) => regionOfX(s.params, x));
  const excluded = [...culprits, ...missing];
  const sources = fanInSources(s.params, R, s.self, excluded);
  const self = R.includes(s.self) && !excluded.includes(s.self);
  if (sources.length + (self ? 1 : 0) < t) {
    fx.push({ kind: 'record', record: { kind: 'check', body: { ok: false, used: have, culprits, challenge: v.challenge, value: null } } });
    throw new ProtocolError('PROTOCOL_INCONSISTENT_AGGREGATE', `${culprits.join(', ')} published a wrong aggregate share and fewer than t = ${t} correct ones remain; no result is returned`, { culprits });
  }
  if (culprits.length) fx.push({ kind: 'log', event: 'aggregate-corrected', detail: { round: s.params.round, culprits } });
  // a source the no-dropout rule would not give this node (one whose link went down was
  // replaced) may not push to it: ask it (a source that pushes anyway ignores the pull)
  const usual = fanInSources(s.params, R, s.self, culprits);
  for (const j of sources) if (!usual.includes(j)) fx.push({ kind: 'send', to: j, msg: { type: 'agg-pull', round: s.params.round } });
  const used = byX(s, self ? [...sources, s.self] : sources);
  const lambda = lagrangeCoefficients(used.map((h) => BigInt(xOf(s.params, h))), 0n);
  ctx.memory.restartFanIn(s.self, new Map(used.map((h, i) => [h, lambda[i]!] as const)), self);
  s.v2 = { ...v, checked: { culprits, sources } };
  if (self) serve(s, fx, [...fanInTargets(s.params, R, s.self, excluded), ...v.pulls]);
  tryFinishV2(s, fx, ctx, now);
}

/** Streams this holder's aggregate share to those of `to` not served yet, each after the commitments and projections. */
function serve(s: Mut, fx: Effect[], to: readonly string[]): void {
  const v = v2Of(s);
  const R = byX(s, s.decision!.holders);
  const fresh = [...new Set(to)].filter((p) => p !== s.self && !v.servedTo.includes(p) && !isDown(s, p));
  if (!fresh.length) return;
  s.v2 = { ...v, servedTo: [...v.servedTo, ...fresh] };
  const relay = [...R.map((h) => v.aggCommits[h]!), ...R.filter((h) => v.aggProj[h]).map((h) => v.aggProj[h]!)];
  fx.push({ kind: 'publish', to: fresh, relay });
}

/** A node asks for this holder's aggregate share: served now, or once the check has run. */
export function onAggPullV2(s: Mut, fx: Effect[], from: string): void {
  const v = v2Of(s);
  if (!s.decision!.holders.includes(s.self) || v.checked?.culprits.includes(s.self)) {
    fx.push({ kind: 'refused', from, error: new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `agg-pull from ${from}: ${s.self} is no decided holder${v.checked?.culprits.includes(s.self) ? ' it can serve' : ''}`) });
    return;
  }
  if (!v.checked) s.v2 = { ...v, pulls: [...v.pulls, from] };
  else serve(s, fx, [from]);
}

/** Every source's aggregate share is in and matches its commitment and projection: the result. */
function tryFinishV2(s: Mut, fx: Effect[], ctx: StepContext, now: number): void {
  const v = v2Of(s);
  if (s.phase !== 'combine' || !v.checked) return;
  for (const j of v.checked.sources) {
    const got = ctx.memory.aggReceived(j);
    if (!got) {
      if (isDown(s, j)) {
        throw new ProtocolError('PROTOCOL_PEER_LOST', `the link to ${j} went down before its aggregate share arrived; ${s.self} combines ${v.checked.sources.join(', ')}: nothing is revealed`);
      }
      return;
    }
    if (hex(got.digest) !== hex((v.aggCommits[j] as AggDone).digest)) {
      throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `aggregate share from ${j} does not match its commitment`, { culprits: [j] });
    }
    if (got.projection !== u64((v.aggProj[j] as AggProj).projection)) {
      throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `aggregate share from ${j} does not match its signed projection`, { culprits: [j] });
    }
  }
  const res = ctx.memory.finishFanIn(s.params.scaleBits);
  s.phase = 'done';
  const challenge = v.challenge!;
  const proj = { share: ctx.memory.ownAggProjection() ?? 0n, result: ctx.memory.resultProjection() };
  const self = s.decision!.holders.includes(s.self) && !v.checked.culprits.includes(s.self);
  const used = byX(s, self ? [...v.checked.sources, s.self] : [...v.checked.sources]);
  const dg = resultDigests(res, ctx.memory.hash);
  fx.push({ kind: 'record', record: { kind: 'check', body: { ok: true, used, culprits: [...v.checked.culprits], challenge, value: proj.result.toString() } } });
  fx.push({
    kind: 'record',
    record: { kind: 'result', body: { contributors: [...s.decision!.dealers], holders: [...s.decision!.holders], params: s.params.params, totalWeight: res.totalWeight, sum: hex(dg.sum), mean: hex(dg.mean), digest: hex(dg.digest) } },
  });
  fx.push({ kind: 'result', result: res, contributors: s.decision!.dealers, holders: s.decision!.holders });
  s.sealing = { digest: hex(dg.digest), challenge, value: proj.result, doneAt: now, state: 'pending' };
  if (self) {
    const projection = projBytes(proj.share);
    const seal = signed(s, ctx, { type: 'seal', round: s.params.round, holder: s.self, result: dg.digest, projection });
    s.seals = { ...(s.seals ?? {}), [s.self]: { result: hex(seal.result), projection: hex(projection), sig: hex(seal.sig) } };
    for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: seal });
  }
  trySeal(s, fx);
}
