/**
 * The round protocol at one region node, as a state machine: `step(state, event, ctx)` returns
 * the next state and the effects to carry out (send, deal, publish, result, abort). It opens no
 * socket, reads no clock (time comes in `tick` events) and draws randomness only through `ctx`.
 * Vectors are held by `ctx.vectors` (RoundVectors), which the state machine drives but never
 * copies. Spec and rationale: docs/protocol.md.
 *
 * Phases (closed set):
 *   collect -> deal -> decide -> combine -> done
 *   any phase -> aborted
 * @module
 */
import { ProtocolError, type ErrorCode } from '../errors.js';
import * as R from '../field/reference.js';
import type { RandomFill } from '../field/random.js';
import { signedBytes, type MessageType, type PeerMessage, type Signed, type Unsigned } from './messages.js';
import { coordinatorOf, paramsDigestHex, paramsMismatch, xOf, type RoundParams } from './params.js';
import { challengeOf, resultDigests } from './commitments.js';
import { messageRecord, type RecordBody } from './records.js';
import type { RoundResult, RoundVectors } from './vectors.js';
import { checkPointsOnPolynomial } from '../sharing/shamir.js';
import { allowedHolders, checkMinContributors, checkMinTrainers, type PolicyDecision, type PolicySubject } from '../policy/index.js';

export type Phase = 'collect' | 'deal' | 'decide' | 'combine' | 'done' | 'aborted';

/** Which message kinds each phase accepts; every other pair is PROTOCOL_UNEXPECTED_MESSAGE. */
export const ACCEPTS: Readonly<Record<Phase, readonly MessageType[]>> = {
  collect: ['params', 'share', 'commits', 'receipt', 'decision', 'abort'],
  deal: ['params', 'share', 'commits', 'receipt', 'decision', 'abort'],
  decide: ['params', 'share', 'commits', 'receipt', 'decision', 'abort'],
  combine: ['decision', 'agg', 'agg-done', 'abort', 'seal'],
  done: ['seal'],
  aborted: [],
};

export interface RoundTiming {
  /** After opening, how long to wait for every peer's parameters before dealing without them. */
  peerWaitMs: number;
  /** Dealing, receipts and the decision must be done this long after opening. */
  decideMs: number;
  /** The whole round must end this long after opening. */
  roundMs: number;
  /** After the result, how long to wait for every holder's seal (default 5000). */
  sealMs?: number;
}

export interface RoundState {
  readonly phase: Phase;
  readonly self: string;
  readonly params: RoundParams;
  readonly timing: RoundTiming;
  readonly openedAt: number;
  /** Peers whose parameters equal ours. */
  readonly matched: readonly string[];
  /** null until the local collection closed; then whether this region contributes. */
  readonly input: { contributes: boolean; trainers: number } | null;
  readonly dealtTo: readonly string[] | null;
  readonly commits: Readonly<Record<string, { contributes: boolean; trainers: number; digests: Readonly<Record<string, string>> }>>;
  /** receipts[dealer][holder] = hex digest */
  readonly receipts: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly decision: { coordinator: string; dealers: readonly string[]; holders: readonly string[]; sig?: Uint8Array } | null;
  readonly aggDone: readonly string[];
  readonly error: { code: ErrorCode; message: string; culprits: readonly string[] } | null;
  /** The params entry is recorded (on open). */
  readonly opened?: boolean;
  /** After the result: its digest (hex), the Fiat-Shamir challenge and <result, r> (null without every agg-done). */
  readonly sealing?: { digest: string; challenge: string | null; value: bigint | null; doneAt: number; state: 'pending' | 'sealed' | 'unsealed' };
  /** Seals received (and our own), by holder. */
  readonly seals?: Readonly<Record<string, { result: string; projection: string; sig: string }>>;
  /** Dealers whose shares to this node the policy refused (recorded and counted once each). */
  readonly policyRefused?: readonly string[];
}

export type RoundEvent =
  | { kind: 'open'; now: number }
  | { kind: 'input'; contributes: boolean; trainers: number; now: number }
  | { kind: 'message'; from: string; msg: PeerMessage; now: number }
  | { kind: 'dealt'; digests: ReadonlyMap<string, Uint8Array>; now: number }
  | { kind: 'published'; digest: Uint8Array; now: number }
  | { kind: 'tick'; now: number }
  /** The link to `peer` (re)connected: messages sent while it was down are lost. */
  | { kind: 'peer-up'; peer: string; now: number };

export type Effect =
  | { kind: 'send'; to: string; msg: PeerMessage }
  /** Stream shares of the regional input to `holders` (self included), then report `dealt`. */
  | { kind: 'deal'; holders: readonly string[] }
  /** Stream the aggregate share to `to` (after the relayed decision), then report `published`. */
  | { kind: 'publish'; to: readonly string[]; decision: PeerMessage }
  | { kind: 'result'; result: RoundResult; contributors: readonly string[]; holders: readonly string[] }
  | { kind: 'aborted'; error: ProtocolError }
  /** A message that was refused; the round goes on. */
  | { kind: 'refused'; from: string; error: ProtocolError }
  | { kind: 'log'; event: string; detail: Record<string, unknown> }
  /** Append an entry to this round's transcript (chain, sign, write: the node edge). */
  | { kind: 'record'; record: RecordBody }
  /** The transcript's final entry is recorded: sealed (every holder's seal) or unsealed. */
  | { kind: 'sealed'; complete: boolean }
  /** A refused policy decision (also recorded as a `policy` entry): count it, log it at once. */
  | { kind: 'violation'; decision: PolicyDecision };

export interface StepContext {
  vectors: RoundVectors;
  sign(bytes: Uint8Array): Uint8Array;
  verify(region: string, bytes: Uint8Array, sig: Uint8Array): boolean;
  /** Fresh projection stream for the consistency check; every call must return the same stream. */
  projectionRng(): RandomFill;
  /**
   * The federation's locality policy (docs/policy.md). With it, every share flow is decided by
   * `allowedHolders` at the event's time and each decision is recorded as a `policy` entry;
   * without it (unit tests, the vector harness) every flow is allowed and nothing is recorded.
   */
  policy?: PolicySubject;
}

type Out = { state: RoundState; effects: Effect[] };
type Mut = { -readonly [K in keyof RoundState]: RoundState[K] };

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** Memo of single-flow decisions (grant checks verify a signature): per policy, per second. */
const flowMemo = new WeakMap<PolicySubject, Map<string, PolicyDecision>>();

/** The policy decision for the flow dealer -> holder at `now` (allowed when there is no policy). */
function flowDecision(policy: PolicySubject | undefined, dealer: string, holder: string, now: number): PolicyDecision {
  if (!policy) return { rule: 'open', subject: `${dealer}->${holder}`, outcome: 'allowed', reason: 'no policy given', grant: null };
  let m = flowMemo.get(policy);
  if (!m) flowMemo.set(policy, (m = new Map()));
  const key = `${dealer}>${holder}>${Math.floor(now / 1000)}`;
  let d = m.get(key);
  if (!d) {
    try {
      d = allowedHolders(policy, dealer, [holder], now, policy.policy.grants).decisions[0]!;
    } catch (e) {
      d = { rule: 'unknown-region', subject: `${dealer}->${holder}`, outcome: 'refused', reason: (e as Error).message, grant: null };
    }
    if (m.size > 10_000) m.clear();
    m.set(key, d);
  }
  return d;
}

/** Records a policy decision (with the event time); a refused one is also a violation. */
function decided(fx: Effect[], d: PolicyDecision, now: number): void {
  fx.push({ kind: 'record', record: { kind: 'policy', body: { rule: d.rule, subject: d.subject, outcome: d.outcome, reason: d.reason, grant: d.grant, at: new Date(now).toISOString() } } });
  if (d.outcome === 'refused') fx.push({ kind: 'violation', decision: d });
}

export function initialState(self: string, params: RoundParams, timing: RoundTiming, now: number): RoundState {
  if (!params.participants.includes(self)) throw new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `${self} is not a participant of round ${params.round}`);
  return {
    phase: 'collect', self, params, timing, openedAt: now, matched: [], input: null, dealtTo: null,
    commits: {}, receipts: {}, decision: null, aggDone: [], error: null,
  };
}

/** The event time of the step in progress (every event carries one): for deadlines set inside helpers. */
let stepNow = 0;

/** The single transition function. Pure apart from driving `ctx.vectors`. */
export function step(state: RoundState, ev: RoundEvent, ctx: StepContext): Out {
  const s: Mut = { ...state };
  const fx: Effect[] = [];
  stepNow = ev.now;
  try {
    switch (ev.kind) {
      case 'open':
        if (s.phase === 'collect' && !s.opened) {
          s.opened = true;
          fx.push({ kind: 'record', record: { kind: 'params', body: { params: s.params, digest: paramsDigestHex(s.params), policy: s.params.policy } } });
        }
        if (s.phase === 'collect' && s.matched.length === 0) {
          for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: { type: 'params', round: s.params.round, params: s.params } });
        }
        break;
      case 'input':
        if (s.phase !== 'collect' || s.input) break;
        s.input = { contributes: ev.contributes, trainers: ev.trainers };
        tryDeal(s, fx, ev.now, ctx);
        break;
      case 'dealt':
        onDealt(s, fx, ev.digests, ev.now, ctx);
        break;
      case 'published':
        if (s.phase !== 'combine' || !s.decision) break;
        {
          const msg = signed(ctx, { type: 'agg-done', round: s.params.round, holder: s.self, digest: ev.digest });
          fx.push({ kind: 'record', record: messageRecord(msg) });
          for (const p of others(s)) fx.push({ kind: 'send', to: p, msg });
        }
        break;
      case 'tick':
        onTick(s, fx, ev.now, ctx);
        break;
      case 'peer-up':
        // our parameters may have been sent before the link was up: send them again (public,
        // idempotent at the receiver). Later messages are not replayed: deadlines handle them.
        if ((s.phase === 'collect' || s.phase === 'deal' || s.phase === 'decide') && others(s).includes(ev.peer)) {
          fx.push({ kind: 'send', to: ev.peer, msg: { type: 'params', round: s.params.round, params: s.params } });
        }
        break;
      case 'message':
        onMessage(s, fx, ev.from, ev.msg, ev.now, ctx);
        break;
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    abort(s, fx, e, true);
  }
  return { state: s, effects: fx };
}

function others(s: RoundState): string[] {
  return s.params.participants.filter((p) => p !== s.self);
}

function signed<T extends Unsigned>(ctx: StepContext, m: T): T & { sig: Uint8Array } {
  return { ...m, sig: ctx.sign(signedBytes(m)) } as T & { sig: Uint8Array };
}

function abort(s: Mut, fx: Effect[], e: ProtocolError, broadcast: boolean, by = s.self): void {
  if (s.phase === 'done' || s.phase === 'aborted') return;
  s.phase = 'aborted';
  s.error = { code: e.code, message: e.message, culprits: e.culprits ?? [] };
  const reason = by === s.self ? e.message : e.message.replace(/^region \S+ aborted round \S+: /, '');
  fx.push({ kind: 'record', record: { kind: 'abort', body: { by, code: by === s.self ? e.code : (e.found ?? e.code), reason, culprits: [...(e.culprits ?? [])] } } });
  if (broadcast) {
    for (const p of others(s)) {
      fx.push({ kind: 'send', to: p, msg: { type: 'abort', round: s.params.round, code: e.code, reason: e.message, culprits: [...(e.culprits ?? [])] } });
    }
  }
  fx.push({ kind: 'aborted', error: e });
}

function tryDeal(s: Mut, fx: Effect[], now: number, ctx: StepContext): void {
  if (s.phase !== 'collect' || !s.input) return;
  const everyone = s.matched.length === others(s).length;
  if (!everyone && now < s.openedAt + s.timing.peerWaitMs) return;
  const holders = [s.self, ...s.matched].sort((a, b) => xOf(s.params, a) - xOf(s.params, b));
  if (holders.length < s.params.threshold) {
    throw new ProtocolError('PROTOCOL_BELOW_THRESHOLD', `only ${holders.length} region(s) reachable with matching parameters (${holders.join(', ')}), threshold is ${s.params.threshold}: nothing was dealt`);
  }
  for (const p of s.params.participants) {
    if (!holders.includes(p)) fx.push({ kind: 'record', record: { kind: 'dropout', body: { region: p, phase: 'collect', reason: `no matching parameters within ${s.timing.peerWaitMs} ms` } } });
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

function onDealt(s: Mut, fx: Effect[], digests: ReadonlyMap<string, Uint8Array>, now: number, ctx: StepContext): void {
  if (s.phase !== 'deal' && !(s.phase === 'collect' && s.dealtTo)) return;
  const contributes = s.input?.contributes ?? false;
  const d: Record<string, Uint8Array> = {};
  for (const [h, dg] of digests) d[h] = dg;
  const trainers = contributes ? s.input!.trainers : 0;
  const msg = signed(ctx, { type: 'commits', round: s.params.round, dealer: s.self, contributes, trainers, digests: d });
  fx.push({ kind: 'record', record: messageRecord(msg) });
  for (const p of others(s)) fx.push({ kind: 'send', to: p, msg });
  s.phase = 'decide';
  // our own commitment and our own receipt of our own share
  s.commits = { ...s.commits, [s.self]: { contributes, trainers, digests: mapHex(d) } };
  if (contributes && d[s.self]) {
    ctx.vectors.recordOwnShare(s.self, d[s.self]!);
    addReceipt(s, s.self, s.self, hex(d[s.self]!));
    const receipt = signed(ctx, { type: 'receipt', round: s.params.round, dealer: s.self, holder: s.self, digest: d[s.self]! });
    fx.push({ kind: 'record', record: messageRecord(receipt) });
    for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: receipt });
  }
  tryDecide(s, fx, now, ctx, false);
}

function mapHex(d: Record<string, Uint8Array>): Record<string, string> {
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, hex(v)]));
}

function addReceipt(s: Mut, dealer: string, holder: string, digest: string): void {
  s.receipts = { ...s.receipts, [dealer]: { ...(s.receipts[dealer] ?? {}), [holder]: digest } };
}

function onTick(s: Mut, fx: Effect[], now: number, ctx: StepContext): void {
  if (s.phase === 'done' && s.sealing?.state === 'pending' && now >= s.sealing.doneAt + (s.timing.sealMs ?? 5000)) {
    const missing = s.decision!.holders.filter((h) => !s.seals?.[h]);
    unseal(s, fx, missing, `no seal from ${missing.join(', ')} within ${s.timing.sealMs ?? 5000} ms of the result`);
  }
  if (s.phase === 'done' || s.phase === 'aborted') return;
  if (now >= s.openedAt + s.timing.roundMs) {
    tryFinish(s, fx, ctx, true);
    if ((s as RoundState).phase !== 'done') {
      throw new ProtocolError('PROTOCOL_TIMEOUT', `round ${s.params.round} did not finish within ${s.timing.roundMs} ms (phase ${s.phase}${missing(s)})`);
    }
    return;
  }
  tryDeal(s, fx, now, ctx);
  if (now >= s.openedAt + s.timing.decideMs && !s.decision) {
    if (s.self === coordinatorOf(s.params)) tryDecide(s, fx, now, ctx, true);
    else if (now >= s.openedAt + s.timing.decideMs * 1.5) {
      throw new ProtocolError('PROTOCOL_TIMEOUT', `no decision from the coordinator ${coordinatorOf(s.params)} within ${Math.round(s.timing.decideMs * 1.5)} ms`);
    }
  }
}

function missing(s: RoundState): string {
  if (s.phase === 'combine' && s.decision) {
    const waiting = s.decision.holders.filter((h) => !s.aggDone.includes(h));
    return waiting.length ? `; no aggregate share from ${waiting.join(', ')}` : '';
  }
  return '';
}

function verifySig(ctx: StepContext, region: string, m: Signed): void {
  if (!ctx.verify(region, signedBytes(m), m.sig)) {
    throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `${m.type} signature by ${region} does not verify`, { culprits: [region] });
  }
}

function onMessage(s: Mut, fx: Effect[], from: string, msg: PeerMessage, now: number, ctx: StepContext): void {
  // 1. phase guard: names what was expected and what arrived
  const ok = ACCEPTS[s.phase];
  if (!ok.includes(msg.type)) {
    fx.push({
      kind: 'refused', from,
      error: new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `unexpected ${msg.type} from ${from} in phase ${s.phase}`, { expected: ok.join('|') || 'nothing', found: msg.type }),
    });
    return;
  }
  if (msg.round !== s.params.round) throw new Error('message routed to the wrong round'); // the node routes by round
  if (!s.params.participants.includes(from) || from === s.self) {
    fx.push({ kind: 'refused', from, error: new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `${from} is not a participant of round ${s.params.round}`) });
    return;
  }
  switch (msg.type) {
    case 'params': {
      const mm = paramsMismatch(s.params, msg.params);
      if (mm) {
        throw new ProtocolError('PROTOCOL_PARAMS_MISMATCH', `round ${s.params.round}: region ${from} has ${mm.key} = ${mm.found}, ${s.self} has ${mm.expected}; align the federation files / trainer updates and retry`, { expected: mm.expected, found: mm.found, culprits: [from] });
      }
      if (!s.matched.includes(from)) s.matched = [...s.matched, from];
      tryDeal(s, fx, now, ctx);
      return;
    }
    case 'share':
      if (!s.matched.includes(from)) {
        throw new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `share from ${from} before its parameters were agreed`, { culprits: [from] });
      }
      if (ctx.policy) {
        const d = flowDecision(ctx.policy, from, s.self, now);
        if (d.outcome === 'refused') {
          // the dealer's policy does not allow this node as holder: refuse its shares
          if (!s.policyRefused?.includes(from)) {
            s.policyRefused = [...(s.policyRefused ?? []), from];
            decided(fx, d, now);
          }
          fx.push({ kind: 'refused', from, error: new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `share from ${from} refused: ${d.reason}`, { culprits: [from] }) });
          return;
        }
      }
      try {
        ctx.vectors.acceptShare(from, msg.offset, msg.data);
      } catch (e) {
        throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `bad share stream from ${from}: ${(e as Error).message}`, { culprits: [from], cause: e });
      }
      return;
    case 'commits': {
      if (msg.dealer !== from) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `commits from ${from} claim dealer ${msg.dealer}`, { culprits: [from] });
      verifySig(ctx, from, msg);
      if (s.commits[from]) return; // duplicate: ignore
      s.commits = { ...s.commits, [from]: { contributes: msg.contributes, trainers: msg.trainers, digests: mapHex(msg.digests) } };
      fx.push({ kind: 'record', record: messageRecord(msg) });
      const mine = msg.digests[s.self];
      if (msg.contributes && mine && ctx.policy && flowDecision(ctx.policy, from, s.self, now).outcome === 'refused') {
        // committed to a share for us that its policy forbids: no receipt (the shares were refused)
        if (!s.policyRefused?.includes(from)) {
          s.policyRefused = [...(s.policyRefused ?? []), from];
          decided(fx, flowDecision(ctx.policy, from, s.self, now), now);
        }
      } else if (msg.contributes && mine) {
        const got = ctx.vectors.shareDigest(from);
        if (!got || hex(got) !== hex(mine)) {
          throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `share from ${from} does not match its commitment (${got ? 'digest differs' : 'incomplete'})`, { culprits: [from] });
        }
        addReceipt(s, from, s.self, hex(mine));
        const receipt = signed(ctx, { type: 'receipt', round: s.params.round, dealer: from, holder: s.self, digest: mine });
        fx.push({ kind: 'record', record: messageRecord(receipt) });
        for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: receipt });
      }
      tryDecide(s, fx, now, ctx, false);
      return;
    }
    case 'receipt':
      if (msg.holder !== from) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `receipt from ${from} claims holder ${msg.holder}`, { culprits: [from] });
      verifySig(ctx, from, msg);
      if (s.receipts[msg.dealer]?.[from] === undefined) fx.push({ kind: 'record', record: messageRecord(msg) });
      addReceipt(s, msg.dealer, from, hex(msg.digest));
      tryDecide(s, fx, now, ctx, false);
      return;
    case 'decision':
      onDecision(s, fx, msg, ctx, now);
      return;
    case 'agg':
      if (!s.decision!.holders.includes(from)) throw new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `aggregate share from ${from}, not a decided holder`, { culprits: [from] });
      ctx.vectors.acceptAgg(from, msg.offset, msg.data);
      return;
    case 'agg-done': {
      if (msg.holder !== from) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `agg-done from ${from} claims holder ${msg.holder}`, { culprits: [from] });
      verifySig(ctx, from, msg);
      const got = ctx.vectors.aggDigest(from);
      if (!got || hex(got) !== hex(msg.digest)) {
        throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `aggregate share from ${from} does not match its digest (${got ? 'differs' : 'incomplete'})`, { culprits: [from] });
      }
      if (!s.aggDone.includes(from)) {
        s.aggDone = [...s.aggDone, from];
        fx.push({ kind: 'record', record: messageRecord(msg) });
      }
      tryFinish(s, fx, ctx, false);
      return;
    }
    case 'abort':
      abort(s, fx, new ProtocolError('PROTOCOL_ABORTED', `region ${from} aborted round ${s.params.round}: ${msg.reason}`, { culprits: msg.culprits, found: msg.code }), false, from);
      return;
    case 'seal': {
      if (msg.holder !== from) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `seal from ${from} claims holder ${msg.holder}`, { culprits: [from] });
      if (!s.decision!.holders.includes(from)) {
        fx.push({ kind: 'refused', from, error: new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `seal from ${from}, not a decided holder`) });
        return;
      }
      verifySig(ctx, from, msg);
      if (s.seals?.[from]) return; // duplicate
      s.seals = { ...(s.seals ?? {}), [from]: { result: hex(msg.result), projection: hex(msg.projection), sig: hex(msg.sig) } };
      trySeal(s, fx);
      return;
    }
  }
}

function tryDecide(s: Mut, fx: Effect[], now: number, ctx: StepContext, force: boolean): void {
  if (s.self !== coordinatorOf(s.params) || s.decision || !(s.phase === 'decide' || (force && s.phase !== 'combine'))) return;
  const t = s.params.threshold;
  const alive = [s.self, ...s.matched];
  if (!force) {
    // wait for commits from every live participant and a receipt for every committed share
    for (const p of alive) {
      const c = s.commits[p];
      if (!c) return;
      for (const h of Object.keys(c.digests)) if (!s.receipts[p]?.[h] && flowDecision(ctx.policy, p, h, now).outcome === 'allowed') return;
    }
  }
  // valid receipt: its digest equals the dealer's commitment to that holder
  const valid = (d: string, h: string): boolean => {
    const c = s.commits[d];
    return !!c && c.contributes && c.digests[h] !== undefined && s.receipts[d]?.[h] === c.digests[h] && flowDecision(ctx.policy, d, h, now).outcome === 'allowed';
  };
  const holdersAll = s.params.participants.filter((h) => Object.keys(s.receipts).some((d) => s.receipts[d]![h] !== undefined) || h === s.self);
  let D = s.params.participants.filter((d) => s.commits[d]?.contributes && holdersAll.filter((h) => valid(d, h)).length >= t);
  let Rset: string[] = [];
  for (;;) {
    Rset = holdersAll.filter((h) => D.every((d) => valid(d, h)));
    if (Rset.length >= t || D.length === 0) break;
    // drop the dealer that fewest holders received from, and try again
    const counts = D.map((d) => holdersAll.filter((h) => valid(d, h)).length);
    D = D.filter((_, i) => i !== counts.indexOf(Math.min(...counts)));
  }
  const contributors = D.length;
  if (ctx.policy) {
    // recorded before anything is revealed; a refusal aborts below
    decided(fx, checkMinContributors(ctx.policy, s.params.round, D), now);
    if (contributors >= s.params.minContributors) decided(fx, checkMinTrainers(ctx.policy, s.params.round, D.reduce((n, d) => n + s.commits[d]!.trainers, 0)), now);
  }
  if (contributors < s.params.minContributors) {
    throw new ProtocolError('PROTOCOL_BELOW_MIN_CONTRIBUTORS', `only ${contributors} region(s) contributed (${D.join(', ') || 'none'}), the policy requires ${s.params.minContributors}: nothing is revealed`);
  }
  const trainers = D.reduce((n, d) => n + s.commits[d]!.trainers, 0);
  if (trainers < s.params.minTrainers) {
    throw new ProtocolError('PROTOCOL_BELOW_MIN_CONTRIBUTORS', `only ${trainers} trainer(s) contributed, the policy requires ${s.params.minTrainers}: nothing is revealed`);
  }
  if (Rset.length < t) {
    throw new ProtocolError('PROTOCOL_BELOW_THRESHOLD', `only ${Rset.length} region(s) hold shares from every contributor, threshold is ${t}`);
  }
  const decision = signed(ctx, { type: 'decision', round: s.params.round, coordinator: s.self, dealers: D, holders: Rset });
  fx.push({ kind: 'log', event: 'decision', detail: { round: s.params.round, dealers: D, holders: Rset } });
  onDecision(s, fx, decision, ctx, now);
}

function onDecision(s: Mut, fx: Effect[], msg: Extract<PeerMessage, { type: 'decision' }>, ctx: StepContext, now: number): void {
  const coord = coordinatorOf(s.params);
  if (msg.coordinator !== coord) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `decision by ${msg.coordinator}, the coordinator is ${coord}`);
  verifySig(ctx, coord, msg);
  if (s.decision) {
    // relayed copies must be identical
    if (msg.dealers.join() !== s.decision.dealers.join() || msg.holders.join() !== s.decision.holders.join()) {
      throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', 'two different decisions for one round', { culprits: [coord] });
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
          throw new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `decision by ${coord} uses the flow ${d} -> ${h}, which the locality policy refuses: ${pd.reason}`, { culprits: [coord] });
        }
      }
    }
  }
  s.decision = { coordinator: coord, dealers: [...msg.dealers], holders: [...msg.holders], sig: msg.sig };
  fx.push({ kind: 'record', record: messageRecord(msg) });
  s.phase = 'combine';
  const holders = [...msg.holders].sort((a, b) => xOf(s.params, a) - xOf(s.params, b));
  const S = holders.slice(0, t);
  const lambda = R.lagrangeCoefficients(S.map((h) => BigInt(xOf(s.params, h))), 0n);
  const coeffs = new Map<string, bigint | null>(holders.map((h) => [h, S.includes(h) ? lambda[S.indexOf(h)]! : null]));
  ctx.vectors.startReconstruction(coeffs, ctx.projectionRng);
  if (holders.includes(s.self)) {
    // we must hold complete shares from exactly the decided dealers
    const touched = ctx.vectors.touchedDealers();
    const extra = touched.filter((d) => !msg.dealers.includes(d));
    const incomplete = msg.dealers.filter((d) => !ctx.vectors.shareDigest(d));
    if (extra.length || incomplete.length) {
      throw new ProtocolError('PROTOCOL_BELOW_THRESHOLD', `${s.self} cannot serve as holder: ` + (incomplete.length ? `incomplete shares from ${incomplete.join(', ')}` : `holds shares from excluded ${extra.join(', ')}`));
    }
    ctx.vectors.acceptOwnAgg(s.self);
    s.aggDone = [...s.aggDone, s.self];
    fx.push({ kind: 'publish', to: others(s), decision: msg });
  }
  tryFinish(s, fx, ctx, false);
}

function tryFinish(s: Mut, fx: Effect[], ctx: StepContext, deadline: boolean): void {
  if (s.phase !== 'combine' || !s.decision) return;
  const holders = s.decision.holders;
  const all = holders.every((h) => s.aggDone.includes(h));
  const t = s.params.threshold;
  const S = [...holders].sort((a, b) => xOf(s.params, a) - xOf(s.params, b)).slice(0, t);
  if (!all && !(deadline && S.every((h) => s.aggDone.includes(h)))) return;
  const res = ctx.vectors.finish((h) => xOf(s.params, h), t, s.params.scaleBits, s.aggDone);
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
    const digests = new Map(holders.map((h) => [h, ctx.vectors.aggDigest(h)!] as const));
    const decision = { type: 'decision' as const, round: s.params.round, coordinator: s.decision.coordinator, dealers: [...s.decision.dealers], holders: [...s.decision.holders], sig: s.decision.sig };
    challenge = challengeOf(s.params, decision, digests);
    proj = ctx.vectors.fsProjections(challenge);
  }
  const dg = resultDigests(res.result, ctx.vectors.hash);
  fx.push({ kind: 'record', record: { kind: 'check', body: { ok: true, used: [...s.aggDone].sort((a, b) => xOf(s.params, a) - xOf(s.params, b)), culprits: [], challenge: challenge ? hex(challenge) : null, value: proj ? proj.result.toString() : null } } });
  fx.push({
    kind: 'record',
    record: { kind: 'result', body: { contributors: [...s.decision.dealers], holders: [...s.decision.holders], params: s.params.params, totalWeight: res.result.totalWeight, sum: hex(dg.sum), mean: hex(dg.mean), digest: hex(dg.digest) } },
  });
  fx.push({ kind: 'result', result: res.result, contributors: s.decision.dealers, holders });
  s.sealing = { digest: hex(dg.digest), challenge: challenge ? hex(challenge) : null, value: proj ? proj.result : null, doneAt: stepNow, state: 'pending' };
  if (holders.includes(s.self)) {
    const projection = new Uint8Array(proj ? 8 : 0);
    if (proj) new DataView(projection.buffer).setBigUint64(0, proj.share);
    const seal = signed(ctx, { type: 'seal', round: s.params.round, holder: s.self, result: dg.digest, projection });
    s.seals = { ...(s.seals ?? {}), [s.self]: { result: hex(seal.result), projection: hex(projection), sig: hex(seal.sig) } };
    for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: seal });
  }
  trySeal(s, fx);
}

/** Records the final entry once every holder's seal is in (or unsealed if one disagrees). */
function trySeal(s: Mut, fx: Effect[]): void {
  if (s.phase !== 'done' || !s.decision || s.sealing?.state !== 'pending') return;
  const holders = s.decision.holders;
  if (!holders.every((h) => s.seals?.[h])) return;
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
    const lam = R.lagrangeCoefficients(xs.slice(0, t), 0n);
    const at0 = lam.reduce((acc, l, i) => R.add(acc, R.mul(l, ys[i]!)), 0n);
    if (!on.ok || at0 !== s.sealing.value) return unseal(s, fx, [], 'the sealed projections are not consistent with the reconstructed result');
  }
  s.sealing = { ...s.sealing, state: 'sealed' };
  fx.push({ kind: 'record', record: { kind: 'sealed', body: { seals } } });
  fx.push({ kind: 'sealed', complete: true });
}

function unseal(s: Mut, fx: Effect[], missing: string[], reason: string): void {
  s.sealing = { ...s.sealing!, state: 'unsealed' };
  fx.push({ kind: 'record', record: { kind: 'unsealed', body: { missing, reason } } });
  fx.push({ kind: 'sealed', complete: false });
}
