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
import { tryFinish, unseal } from './finish.js';
import { onMessage } from './receive.js';
import { abort, others, signed } from './step-common.js';
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
          for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: { type: 'params', round: s.params.round, params: s.params } });
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
      case 'published': {
        if (s.phase !== 'combine' || !s.decision) break;
        const msg = signed(ctx, { type: 'agg-done', round: s.params.round, holder: s.self, digest: ev.digest });
        fx.push({ kind: 'record', record: messageRecord(msg) });
        for (const p of others(s)) fx.push({ kind: 'send', to: p, msg });
        const held = s.deferred ?? [];
        s.publishing = false;
        s.deferred = [];
        for (const d of held) onMessage(s, fx, d.from, d.msg, ev.now, ctx);
        break;
      }
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
    abort(s, fx, e, true);
  }
  return { state: s, effects: fx };
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
