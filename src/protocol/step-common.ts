/**
 * What every phase of the step shares: the other participants, signing an outgoing message and
 * checking an incoming signature, the receipt table, and aborting the round (recorded, and
 * broadcast when this node is the one that aborts).
 * @module
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { ProtocolError } from '../errors.js';
import { signedBytes, type Signed, type Unsigned } from './messages.js';
import { xOf } from './params.js';
import type { Effect, Mut, RoundState, StepContext } from './state.js';

export const hex = bytesToHex;

export function others(s: RoundState): string[] {
  return s.params.participants.filter((p) => p !== s.self);
}

/** `regions` sorted by share x-coordinate (the order reconstruction and the transcript use). */
export function byX(s: RoundState, regions: readonly string[]): string[] {
  return [...regions].sort((a, b) => xOf(s.params, a) - xOf(s.params, b));
}

export function signed<T extends Unsigned>(ctx: StepContext, m: T): T & { sig: Uint8Array } {
  return { ...m, sig: ctx.sign(signedBytes(m)) } as T & { sig: Uint8Array };
}

/** @throws {ProtocolError} PROTOCOL_BAD_SIGNATURE naming `region` as the culprit. */
export function verifySig(ctx: StepContext, region: string, m: Signed): void {
  if (!ctx.verify(region, signedBytes(m), m.sig)) {
    throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `${m.type} signature by ${region} does not verify`, { culprits: [region] });
  }
}

export function mapHex(d: Readonly<Record<string, Uint8Array>>): Record<string, string> {
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, hex(v)]));
}

export function addReceipt(s: Mut, dealer: string, holder: string, digest: string): void {
  s.receipts = { ...s.receipts, [dealer]: { ...(s.receipts[dealer] ?? {}), [holder]: digest } };
}

/** Ends the round as aborted (once): an `abort` record, the broadcast if `by` is this node, the effect. */
export function abort(s: Mut, fx: Effect[], e: ProtocolError, broadcast: boolean, by = s.self): void {
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
