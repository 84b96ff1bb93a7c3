/**
 * What every phase of the step shares: the other participants, who is down or stalled and whom
 * a step waits for, signing an outgoing message and checking an incoming signature, the receipt
 * table, and aborting the round (recorded, and broadcast when this node is the one that aborts).
 * @module
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { ProtocolError } from '../errors.js';
import { MAX_ABORT_REASON, signedBytes, type PeerMessage, type Signed, type Unsigned } from './messages.js';
import { versionOf, xOf } from './params.js';
import type { Effect, Mut, RoundState, StepContext, V2State } from './state.js';

export const hex = bytesToHex;

export function others(s: RoundState): string[] {
  return s.params.participants.filter((p) => p !== s.self);
}

/** A version-2 round's own state (state.ts V2State). @throws in a version-1 round (a bug). */
export function v2Of(s: RoundState): V2State {
  if (!s.v2) throw new Error('a version-2 step in a version-1 round');
  return s.v2;
}

/** Whether the link to `peer` is down at this node (see the `peer-down` event). */
export function isDown(s: RoundState, peer: string): boolean {
  return s.down?.includes(peer) ?? false;
}

/** Whether the link to `peer` is stalled at this node (see the `peer-stalled` event). */
export function isStalled(s: RoundState, peer: string): boolean {
  return s.stalled?.includes(peer) ?? false;
}

/**
 * Whether a step must still wait for `awaited` (the participants whose answer it lacks): yes
 * unless at most one is, and that one is stalled. A stalled participant is not waited for once
 * every other one has answered (docs/protocol.md "Dropouts and aborts": a hung peer costs no more
 * than a dead one); two stalled at once are both waited for (one of them may only be slow).
 */
export function waitsFor(s: RoundState, awaited: Iterable<string>): boolean {
  const [first, ...more] = awaited;
  return more.length > 0 || (first !== undefined && !isStalled(s, first));
}

/** This node and the peers whose parameters matched and whose link is up: the ones worth waiting for. */
export function live(s: RoundState): string[] {
  return [s.self, ...s.matched.filter((p) => !isDown(s, p))];
}

/** Our parameters as a `params` message, with our federation summary when there is one. */
export function paramsMessage(s: RoundState, ctx: StepContext): PeerMessage {
  return { type: 'params', round: s.params.round, params: s.params, ...(ctx.summary ? { summary: ctx.summary } : {}), ...(ctx.manifest ? { tensors: ctx.manifest.text } : {}) };
}

/** `regions` sorted by share x-coordinate (the order reconstruction and the transcript use). */
export function byX(s: RoundState, regions: readonly string[]): string[] {
  return [...regions].sort((a, b) => xOf(s.params, a) - xOf(s.params, b));
}

/** Signs `m` under the round's protocol version (its label, messages.ts signedBytes). */
export function signed<T extends Unsigned>(s: RoundState, ctx: StepContext, m: T): T & { sig: Uint8Array } {
  return { ...m, sig: ctx.sign(signedBytes(m, versionOf(s.params))) } as T & { sig: Uint8Array };
}

/** @throws {ProtocolError} PROTOCOL_BAD_SIGNATURE naming `region` as the culprit. */
export function verifySig(s: RoundState, ctx: StepContext, region: string, m: Signed): void {
  if (!ctx.verify(region, signedBytes(m, versionOf(s.params)), m.sig)) {
    throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `${m.type} signature by ${region} does not verify`, { culprits: [region] });
  }
}

export function mapHex(d: Readonly<Record<string, Uint8Array>>): Record<string, string> {
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, hex(v)]));
}

export function addReceipt(s: Mut, dealer: string, holder: string, digest: string): void {
  s.receipts = { ...s.receipts, [dealer]: { ...(s.receipts[dealer] ?? {}), [holder]: digest } };
}

/**
 * Ends the round as aborted (once): an `abort` record, the broadcast if this node is the one
 * that aborts, the effect. `by` is the region that found the cause (this node, or the peer whose
 * abort arrived) and `reason` its own words; what this node reports is the cause's code and
 * `reason (found by <by>)`, so every region tells its trainers the same.
 */
export function abort(s: Mut, fx: Effect[], e: ProtocolError, broadcast: boolean, by = s.self, reason = e.message): void {
  if (s.phase === 'done' || s.phase === 'aborted') return;
  const culprits = [...(e.culprits ?? [])];
  const reported = new ProtocolError(e.code, `${reason} (found by ${by})`, {
    culprits, cause: e, ...(e.expected !== undefined ? { expected: e.expected } : {}), ...(e.found !== undefined ? { found: e.found } : {}),
  });
  s.phase = 'aborted';
  s.error = { code: e.code, message: reported.message, culprits };
  fx.push({ kind: 'record', record: { kind: 'abort', body: { by, code: e.code, reason, culprits } } });
  if (broadcast) {
    const sent = reason.length > MAX_ABORT_REASON ? `${reason.slice(0, MAX_ABORT_REASON - 1)}…` : reason;
    for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: { type: 'abort', round: s.params.round, code: e.code, reason: sent, culprits } });
  }
  fx.push({ kind: 'aborted', error: reported });
}
