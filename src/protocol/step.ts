/**
 * The round's single transition function: `step(state, event, ctx)` copies the state, hands the
 * event to the phase it concerns (dealing, a peer message, a deadline), and returns the next state
 * and the effects. A ProtocolError thrown anywhere below aborts the round here.
 * @module
 */
import { ProtocolError } from '../errors.js';
import { coordinatorOf, paramsDigestHex } from './params.js';
import { messageRecord } from './records.js';
import { onDealt, tryDeal } from './deal.js';
import { tryDecide } from './decide.js';
import { tryFinish, trySeal, unseal } from './finish.js';
import { onMessage } from './receive.js';
import { onStreamedV2 } from './shares-v2.js';
import { abort, isDown, isStalled, others, paramsMessage, signed } from './step-common.js';
import type { Effect, Mut, Out, RoundEvent, RoundState, StepContext } from './state.js';

/** The single transition function. Pure apart from driving `ctx.memory` (the round's secret memory). */
export function step(state: RoundState, ev: RoundEvent, ctx: StepContext): Out {
  const s: Mut = { ...state };
  const fx: Effect[] = [];
  try {
    switch (ev.kind) {
      case 'open':
        if (s.phase === 'collect' && !s.opened) {
          s.opened = true;
          fx.push({ kind: 'record', record: { kind: 'params', body: { params: s.params, digest: paramsDigestHex(s.params), policy: s.params.policy } } });
        }
        if (s.phase === 'collect' && s.matched.length === 0) {
          for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: paramsMessage(s, ctx) });
        }
        break;
      case 'input':
        if (s.phase !== 'collect' || s.input) break;
        s.input = { contributes: ev.contributes, trainers: ev.trainers };
        if (ev.trainerIds) fx.push({ kind: 'record', record: { kind: 'trainers', body: { count: ev.trainers, ids: [...ev.trainerIds] } } });
        tryDeal(s, fx, ev.now, ctx);
        break;
      case 'dealt':
        onDealt(s, fx, ev.digests, ev.now, ctx);
        break;
      case 'streamed':
        if (s.v2) onStreamedV2(s, fx, ev.projection, ev.now, ctx);
        break;
      case 'published': {
        // version 2 committed before publishing: nothing to send when the stream ends
        if (s.phase !== 'combine' || !s.decision || s.v2) break;
        const msg = signed(s, ctx, { type: 'agg-done', round: s.params.round, holder: s.self, digest: ev.digest });
        fx.push({ kind: 'record', record: messageRecord(msg) });
        // not to a peer whose aggregate stream was left unfinished (stalled): it would take the
        // short stream for a wrong share
        for (const p of others(s)) if (!ev.left?.includes(p)) fx.push({ kind: 'send', to: p, msg });
        const held = s.deferred ?? [];
        s.publishing = false;
        s.deferred = [];
        for (const d of held) onMessage(s, fx, d.from, d.msg, ev.now, ctx);
        tryFinish(s, fx, ctx, ev.now, false); // a holder lost while we published is not waited for
        break;
      }
      case 'tick':
        onTick(s, fx, ev.now, ctx);
        break;
      case 'peer-up':
        if (isDown(s, ev.peer)) s.down = s.down!.filter((p) => p !== ev.peer);
        if (isStalled(s, ev.peer)) s.stalled = s.stalled!.filter((p) => p !== ev.peer); // a new link
        // our parameters may have been sent before the link was up: send them again (public,
        // idempotent at the receiver). Later messages are not replayed: deadlines handle them.
        if ((s.phase === 'collect' || s.phase === 'deal' || s.phase === 'decide') && others(s).includes(ev.peer)) {
          fx.push({ kind: 'send', to: ev.peer, msg: paramsMessage(s, ctx) });
        }
        break;
      case 'peer-down':
        if (!others(s).includes(ev.peer) || isDown(s, ev.peer)) break;
        s.down = [...(s.down ?? []), ev.peer];
        onPeerDown(s, fx, ev.peer, ev.now, ctx);
        break;
      case 'peer-stalled':
        // its link is up but takes nothing (hung?): not waited for once it is the only one left
        if (!others(s).includes(ev.peer) || isDown(s, ev.peer) || isStalled(s, ev.peer)) break;
        s.stalled = [...(s.stalled ?? []), ev.peer];
        if (s.phase === 'collect') tryDeal(s, fx, ev.now, ctx);
        else if (s.phase === 'deal' || s.phase === 'decide') tryDecide(s, fx, ev.now, ctx, false);
        break;
      case 'peer-flowing':
        // it moves again: waited for again (until the decision)
        if (isStalled(s, ev.peer)) s.stalled = s.stalled!.filter((p) => p !== ev.peer);
        break;
      case 'message':
        // While our aggregate share is still streaming out, a peer's agg-done could complete the
        // round before our own agg-done is sent (and before our stream ends): hold agg-done and
        // everything after it from that peer until `published`. A held vector chunk is copied
        // (the node hands over views of a reused receive buffer).
        if (s.publishing && (ev.msg.type === 'agg-done' || s.deferred?.some((d) => d.from === ev.from))) {
          const msg = ev.msg.type === 'share' || ev.msg.type === 'agg' ? { ...ev.msg, data: new Uint8Array(ev.msg.data) } : ev.msg;
          s.deferred = [...(s.deferred ?? []), { from: ev.from, msg }];
          break;
        }
        onMessage(s, fx, ev.from, ev.msg, ev.now, ctx);
        break;
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    // a lost link is this node's own view (a killed peer's links all drop, so every node sees it
    // itself): not broadcast, so a link that broke between two live nodes ends only this one
    abort(s, fx, e, e.code !== 'PROTOCOL_PEER_LOST');
  }
  return { state: s, effects: fx };
}

/**
 * A peer's link went down: it is not waited for from now on. Before the decision that can let
 * dealing or the decision go ahead at once (the peer is then no holder); after it, the round
 * finishes without the peer if it was not needed for the result, or aborts (PROTOCOL_PEER_LOST);
 * after the result, its missing seal ends the transcript unsealed.
 */
function onPeerDown(s: Mut, fx: Effect[], peer: string, now: number, ctx: StepContext): void {
  if (s.phase === 'aborted' || (s.phase === 'done' && s.sealing?.state !== 'pending')) return;
  fx.push({ kind: 'log', event: 'peer-lost', detail: { round: s.params.round, peer, phase: s.phase } });
  if (s.phase === 'collect') tryDeal(s, fx, now, ctx);
  else if (s.phase === 'deal' || s.phase === 'decide') tryDecide(s, fx, now, ctx, false);
  else if (s.phase === 'combine') tryFinish(s, fx, ctx, now, false);
  else trySeal(s, fx);
}

function onTick(s: Mut, fx: Effect[], now: number, ctx: StepContext): void {
  if (s.phase === 'done' && s.sealing?.state === 'pending' && now >= s.sealing.doneAt + (s.timing.sealMs ?? 5000)) {
    const unsealedBy = s.decision!.holders.filter((h) => !s.seals?.[h]);
    unseal(s, fx, unsealedBy, `no seal from ${unsealedBy.join(', ')} within ${s.timing.sealMs ?? 5000} ms of the result`);
  }
  if (s.phase === 'done' || s.phase === 'aborted') return;
  if (now >= s.openedAt + s.timing.roundMs) {
    tryFinish(s, fx, ctx, now, true);
    if ((s as RoundState).phase !== 'done') {
      throw new ProtocolError('PROTOCOL_TIMEOUT', `round ${s.params.round} did not finish within ${s.timing.roundMs} ms (phase ${s.phase}${waitingFor(s)})`);
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

/** What a round in combine still waits for, for the timeout message. */
function waitingFor(s: RoundState): string {
  if (s.phase === 'combine' && s.decision) {
    const waiting = s.decision.holders.filter((h) => !s.aggDone.includes(h));
    return waiting.length ? `; no aggregate share from ${waiting.join(', ')}` : '';
  }
  return '';
}
