/**
 * One peer message in a round: the phase guard (what this phase accepts), then per message type
 * the checks (sender, signature, commitment, policy) and what it changes. Every fault is either a
 * `refused` effect (the round goes on) or a thrown ProtocolError (the step aborts the round).
 * @module
 */
import { ProtocolError } from '../errors.js';
import { isAbortCause, type PeerMessage } from './messages.js';
import { onCommitsV2, onReceiptV2, onSeedV2, onShareV2 } from './shares-v2.js';
import { onAggDoneV2, onAggProjV2, onAggPullV2, onAggV2 } from './combine-v2.js';
import { paramsMismatch } from './params.js';
import { parseManifest } from '../core/tensor-manifest.js';
import { messageRecord } from './records.js';
import { decided, flowDecision } from './locality.js';
import { tryDeal } from './deal.js';
import { onDecision, tryDecide } from './decide.js';
import { tryFinish, trySeal } from './finish.js';
import { abort, addReceipt, hex, mapHex, others, signed, verifySig } from './step-common.js';
import { acceptsIn, type Effect, type Mut, type StepContext } from './state.js';

export function onMessage(s: Mut, fx: Effect[], from: string, msg: PeerMessage, now: number, ctx: StepContext): void {
  // 1. phase guard: names what was expected and what arrived
  const ok = acceptsIn(s.phase, s.v2 ? 2 : 1);
  if (!ok.includes(msg.type)) {
    fx.push({
      kind: 'refused', from,
      error: new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `unexpected ${msg.type} from ${from} in phase ${s.phase}`, { expected: ok.join('|') || 'nothing', found: msg.type }),
    });
    return;
  }
  if (msg.round !== s.params.round) {
    // the node routes by round, so this is a node bug; refuse rather than let it touch the round
    fx.push({ kind: 'refused', from, error: new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `${msg.type} for round ${msg.round} handed to round ${s.params.round}`) });
    return;
  }
  if (!s.params.participants.includes(from) || from === s.self) {
    fx.push({ kind: 'refused', from, error: new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `${from} is not a participant of round ${s.params.round}`) });
    return;
  }
  if (s.v2 && handledV2(s, fx, from, msg, now, ctx)) return;
  switch (msg.type) {
    case 'params': {
      const manifests = { ours: ctx.manifest?.parsed, theirs: msg.tensors === undefined ? undefined : parseManifest(new TextEncoder().encode(msg.tensors)) };
      const mm = paramsMismatch(s.params, msg.params, s.self, from, { ours: ctx.summary, theirs: msg.summary, manifests });
      if (mm) {
        throw new ProtocolError('PROTOCOL_PARAMS_MISMATCH', `round ${s.params.round}: parameters differ, ${mm.detail}; align the federation files / trainer updates and retry`, { expected: mm.expected, found: mm.found, culprits: [from] });
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
          fx.push({ kind: 'refused', from, error: new ProtocolError('POLICY_FLOW_REFUSED', `share from ${from} refused: ${d.reason}`, { culprits: [from] }) });
          return;
        }
      }
      try {
        ctx.memory.acceptShare(from, msg.offset, msg.data);
      } catch (e) {
        throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `bad share stream from ${from}: ${(e as Error).message}`, { culprits: [from], cause: e });
      }
      return;
    case 'commits': {
      if (msg.dealer !== from) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `commits from ${from} claim dealer ${msg.dealer}`, { culprits: [from] });
      verifySig(s, ctx, from, msg);
      if (s.commits[from]) return; // duplicate: ignore
      s.commits = { ...s.commits, [from]: { contributes: msg.contributes, trainers: msg.trainers, digests: mapHex(msg.digests) } };
      fx.push({ kind: 'record', record: messageRecord(msg) });
      const mine = msg.digests[s.self];
      const flow = msg.contributes && mine && ctx.policy ? flowDecision(ctx.policy, from, s.self, now) : null;
      if (flow?.outcome === 'refused') {
        // committed to a share for us that its policy forbids: no receipt (the shares were refused)
        if (!s.policyRefused?.includes(from)) {
          s.policyRefused = [...(s.policyRefused ?? []), from];
          decided(fx, flow, now);
        }
      } else if (msg.contributes && mine) {
        const got = ctx.memory.shareDigest(from);
        if (!got || hex(got) !== hex(mine)) {
          throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `share from ${from} does not match its commitment (${got ? 'digest differs' : 'incomplete'})`, { culprits: [from] });
        }
        addReceipt(s, from, s.self, hex(mine));
        const receipt = signed(s, ctx, { type: 'receipt', round: s.params.round, dealer: from, holder: s.self, digest: mine });
        fx.push({ kind: 'record', record: messageRecord(receipt) });
        for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: receipt });
      }
      tryDecide(s, fx, now, ctx, false);
      return;
    }
    case 'receipt':
      if (msg.holder !== from) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `receipt from ${from} claims holder ${msg.holder}`, { culprits: [from] });
      verifySig(s, ctx, from, msg);
      if (s.receipts[msg.dealer]?.[from] === undefined) fx.push({ kind: 'record', record: messageRecord(msg) });
      addReceipt(s, msg.dealer, from, hex(msg.digest));
      tryDecide(s, fx, now, ctx, false);
      return;
    case 'decision':
      onDecision(s, fx, msg, ctx, now);
      return;
    case 'agg':
      if (!s.decision!.holders.includes(from)) throw new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `aggregate share from ${from}, not a decided holder`, { culprits: [from] });
      ctx.memory.acceptAgg(from, msg.offset, msg.data);
      return;
    case 'agg-done': {
      if (msg.holder !== from) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `agg-done from ${from} claims holder ${msg.holder}`, { culprits: [from] });
      verifySig(s, ctx, from, msg);
      const got = ctx.memory.aggDigest(from);
      if (!got || hex(got) !== hex(msg.digest)) {
        throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `aggregate share from ${from} does not match its digest (${got ? 'differs' : 'incomplete'})`, { culprits: [from] });
      }
      if (!s.aggDone.includes(from)) {
        s.aggDone = [...s.aggDone, from];
        fx.push({ kind: 'record', record: messageRecord(msg) });
      }
      tryFinish(s, fx, ctx, now, false);
      return;
    }
    case 'abort':
      // the cause's own code, from the fixed set a round aborts with: a peer cannot make this
      // node report any other code
      abort(s, fx, new ProtocolError(isAbortCause(msg.code) ? msg.code : 'PROTOCOL_ABORTED', msg.reason, { culprits: msg.culprits }), false, from);
      return;
    case 'seal': {
      if (msg.holder !== from) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `seal from ${from} claims holder ${msg.holder}`, { culprits: [from] });
      if (!s.decision!.holders.includes(from)) {
        fx.push({ kind: 'refused', from, error: new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `seal from ${from}, not a decided holder`) });
        return;
      }
      verifySig(s, ctx, from, msg);
      if (s.seals?.[from]) return; // duplicate
      s.seals = { ...(s.seals ?? {}), [from]: { result: hex(msg.result), projection: hex(msg.projection), sig: hex(msg.sig) } };
      trySeal(s, fx);
      return;
    }
  }
}

/** Version 2's own handling of a message (shares-v2.ts, combine-v2.ts); false for the ones both versions handle alike. */
function handledV2(s: Mut, fx: Effect[], from: string, msg: PeerMessage, now: number, ctx: StepContext): boolean {
  if ((msg.type === 'share' || msg.type === 'seed') && !s.matched.includes(from)) {
    throw new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `${msg.type} from ${from} before its parameters were agreed`, { culprits: [from] });
  }
  switch (msg.type) {
    case 'share':
      onShareV2(s, fx, from, msg, now, ctx);
      return true;
    case 'seed':
      onSeedV2(s, fx, from, msg, now, ctx);
      return true;
    case 'commits':
      onCommitsV2(s, fx, from, msg, now, ctx);
      return true;
    case 'receipt':
      onReceiptV2(s, fx, from, msg, now, ctx);
      return true;
    case 'agg-done':
      onAggDoneV2(s, fx, from, msg, ctx, now);
      return true;
    case 'agg-proj':
      onAggProjV2(s, fx, from, msg, ctx, now);
      return true;
    case 'agg':
      onAggV2(s, fx, from, msg, ctx, now);
      return true;
    case 'agg-pull':
      onAggPullV2(s, fx, from);
      return true;
    default:
      return false;
  }
}
