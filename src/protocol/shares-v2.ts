/**
 * Version 2, dealing and receipts (docs/protocol.md "Version 2"): a dealer commits to every
 * holder's share before it sends any (`onDealtV2`), then sends seeds and computed share vectors
 * (`stream-shares`); a holder projects the share it receives on the dealer's challenge, checks
 * it against the commitment and receipts it with the projection (`onShareCompleteV2`); every
 * receipt's projection is kept for the coordinator's dealer-consistency check (decide.ts).
 * @module
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { ProtocolError } from '../errors.js';
import type { PeerMessage } from './messages.js';
import { dealChallengeOf } from './commitments.js';
import { seededHolders } from './fan-in.js';
import { messageRecord } from './records.js';
import { decided, flowDecision } from './locality.js';
import { tryDecide } from './decide.js';
import { addReceipt, hex, mapHex, others, signed, v2Of, verifySig } from './step-common.js';
import type { Effect, Mut, StepContext } from './state.js';

type Commits = Extract<PeerMessage, { type: 'commits' }>;

/** A projection as 8 bytes, u64 big-endian (the wire form) and back. */
export function projBytes(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v);
  return b;
}

function setReceiptProj(s: Mut, dealer: string, holder: string, projection: string): void {
  const st = v2Of(s);
  s.v2 = { ...st, receiptProj: { ...st.receiptProj, [dealer]: { ...(st.receiptProj[dealer] ?? {}), [holder]: projection } } };
}

/**
 * The first pass is done: every holder's digest is known. Commit (the `commits` message to
 * everyone), then ask the node to send the seeds and stream the computed shares.
 */
export function onDealtV2(s: Mut, fx: Effect[], digests: ReadonlyMap<string, Uint8Array>, now: number, ctx: StepContext): void {
  const contributes = s.input?.contributes ?? false;
  const d: Record<string, Uint8Array> = {};
  for (const [h, dg] of digests) d[h] = dg;
  const msg = signed(s, ctx, { type: 'commits', round: s.params.round, dealer: s.self, contributes, trainers: contributes ? s.input!.trainers : 0, digests: d });
  fx.push({ kind: 'record', record: messageRecord(msg) });
  for (const p of others(s)) fx.push({ kind: 'send', to: p, msg });
  s.phase = 'decide';
  s.commits = { ...s.commits, [s.self]: { contributes, trainers: msg.trainers, digests: mapHex(d) } };
  if (contributes && digests.size) {
    const holders = [...digests.keys()];
    const seeded = seededHolders(s.params, s.self, holders);
    const full = holders.filter((h) => h !== s.self && !seeded.includes(h));
    fx.push({ kind: 'stream-shares', seeded, full, challenge: dealChallengeOf(s.params, msg) });
  }
  tryDecide(s, fx, now, ctx, false);
}

/** The seeds and streams are out and the own share is in the held sum: receipt it, with its projection. */
export function onStreamedV2(s: Mut, fx: Effect[], projection: bigint | null, now: number, ctx: StepContext): void {
  const mine = s.commits[s.self]?.digests[s.self];
  if (s.phase !== 'decide' || mine === undefined || projection === null) return;
  const digest = hexToBytes(mine);
  ctx.memory.recordOwnShare(s.self, digest, projection);
  receipt(s, fx, s.self, digest, projection, ctx);
  tryDecide(s, fx, now, ctx, false);
}

function receipt(s: Mut, fx: Effect[], dealer: string, digest: Uint8Array, projection: bigint, ctx: StepContext): void {
  const proj = projBytes(projection);
  addReceipt(s, dealer, s.self, hex(digest));
  setReceiptProj(s, dealer, s.self, hex(proj));
  const r = signed(s, ctx, { type: 'receipt', round: s.params.round, dealer, holder: s.self, digest, projection: proj });
  fx.push({ kind: 'record', record: messageRecord(r) });
  for (const p of others(s)) fx.push({ kind: 'send', to: p, msg: r });
}

/**
 * A dealer's commitments: recorded; if they name a share for this node that the policy allows,
 * the node expects it (a seed or a share stream, by `seededHolders`) and projects it on the
 * dealer's challenge as it arrives.
 */
export function onCommitsV2(s: Mut, fx: Effect[], from: string, msg: Commits, now: number, ctx: StepContext): void {
  if (msg.dealer !== from) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `commits from ${from} claim dealer ${msg.dealer}`, { culprits: [from] });
  verifySig(s, ctx, from, msg);
  if (s.commits[from]) return; // duplicate: ignore
  s.commits = { ...s.commits, [from]: { contributes: msg.contributes, trainers: msg.trainers, digests: mapHex(msg.digests) } };
  fx.push({ kind: 'record', record: messageRecord(msg) });
  if (msg.contributes && msg.digests[s.self]) {
    const flow = ctx.policy ? flowDecision(ctx.policy, from, s.self, now) : null;
    if (flow?.outcome === 'refused') {
      if (!s.policyRefused?.includes(from)) {
        s.policyRefused = [...(s.policyRefused ?? []), from];
        decided(fx, flow, now);
      }
    } else {
      const how = seededHolders(s.params, from, Object.keys(msg.digests)).includes(s.self) ? 'seed' : 'share';
      ctx.memory.expectShare(from, dealChallengeOf(s.params, msg));
      const st = v2Of(s);
      s.v2 = { ...st, expecting: { ...st.expecting, [from]: how } };
    }
  }
  tryDecide(s, fx, now, ctx, false);
}

/** Refuses (the round goes on) a seed or share this node does not expect in that form. */
function expected(s: Mut, fx: Effect[], from: string, how: 'seed' | 'share'): boolean {
  if (s.policyRefused?.includes(from)) {
    fx.push({ kind: 'refused', from, error: new ProtocolError('POLICY_FLOW_REFUSED', `${how} from ${from} refused: the locality policy does not let it deal to ${s.self}`, { culprits: [from] }) });
    return false;
  }
  if (v2Of(s).expecting[from] !== how) {
    throw new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `${how} from ${from}, which ${s.commits[from] ? `committed to ${v2Of(s).expecting[from] === undefined ? 'no share for' : 'a ' + v2Of(s).expecting[from] + ' to'} ${s.self}` : 'has not sent its commitments'}`, { culprits: [from] });
  }
  return true;
}

export function onShareV2(s: Mut, fx: Effect[], from: string, msg: Extract<PeerMessage, { type: 'share' }>, now: number, ctx: StepContext): void {
  if (!expected(s, fx, from, 'share')) return;
  try {
    ctx.memory.acceptShare(from, msg.offset, msg.data);
  } catch (e) {
    throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `bad share stream from ${from}: ${(e as Error).message}`, { culprits: [from], cause: e });
  }
  if (ctx.memory.shareDigest(from)) shareComplete(s, fx, from, now, ctx);
}

export function onSeedV2(s: Mut, fx: Effect[], from: string, msg: Extract<PeerMessage, { type: 'seed' }>, now: number, ctx: StepContext): void {
  try {
    if (!expected(s, fx, from, 'seed')) return;
    ctx.memory.acceptSeed(from, msg.seed, { round: s.params.round, dealer: from, holder: s.self });
  } finally {
    msg.seed.fill(0); // secret: the share it expands to is in the held sum now
  }
  shareComplete(s, fx, from, now, ctx);
}

/** `dealer`'s share is all in: it must match the commitment; then the receipt goes out. */
function shareComplete(s: Mut, fx: Effect[], dealer: string, now: number, ctx: StepContext): void {
  const got = ctx.memory.shareDigest(dealer)!;
  if (hex(got) !== s.commits[dealer]!.digests[s.self]) {
    throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `share from ${dealer} does not match its commitment (digest differs)`, { culprits: [dealer] });
  }
  receipt(s, fx, dealer, got, ctx.memory.shareProjection(dealer)!, ctx);
  tryDecide(s, fx, now, ctx, false);
}

/** A peer's receipt: it must carry the projection; kept for the dealer-consistency check. */
export function onReceiptV2(s: Mut, fx: Effect[], from: string, msg: Extract<PeerMessage, { type: 'receipt' }>, now: number, ctx: StepContext): void {
  if (msg.holder !== from) throw new ProtocolError('PROTOCOL_BAD_SIGNATURE', `receipt from ${from} claims holder ${msg.holder}`, { culprits: [from] });
  if (!msg.projection) throw new ProtocolError('PROTOCOL_BAD_COMMITMENT', `receipt from ${from} without the projection version 2 requires`, { culprits: [from] });
  verifySig(s, ctx, from, msg);
  if (s.receipts[msg.dealer]?.[from] === undefined) fx.push({ kind: 'record', record: messageRecord(msg) });
  addReceipt(s, msg.dealer, from, hex(msg.digest));
  setReceiptProj(s, msg.dealer, from, hex(msg.projection));
  tryDecide(s, fx, now, ctx, false);
}
