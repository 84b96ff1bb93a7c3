/**
 * The round state machine's vocabulary: its phases and what each accepts, the state, the events
 * that drive it, the effects it asks the node to carry out, and the context it computes with.
 * Types only, plus the initial state. Spec and rationale: docs/protocol.md.
 * @module
 */
import { ProtocolError, type ErrorCode } from '../errors.js';
import type { RandomFill } from '../field/random.js';
import type { MessageType, PeerMessage } from './messages.js';
import type { TensorManifest } from '../core/tensor-manifest.js';
import type { RoundParams } from './params.js';
import type { FederationSummary, RoundConfig } from '../federation/index.js';
import type { RecordBody } from './records.js';
import type { RoundResult, RoundMemory } from './memory/index.js';

/**
 * What the step may do with the round's secret memory: take shares and aggregate shares in and
 * digest them, start and finish the reconstruction. Dealing and publishing stream from the
 * memory at the node's edge (the `deal` and `publish` effects), never inside the step.
 */
export type StepMemory = Pick<
  RoundMemory,
  | 'recordOwnShare' | 'acceptShare' | 'shareDigest' | 'acceptAgg' | 'aggDigest' | 'acceptOwnAgg' | 'touchedDealers' | 'startReconstruction' | 'finish' | 'fsProjections' | 'hash'
  // version 2
  | 'expectShare' | 'acceptSeed' | 'shareProjection' | 'startFanIn' | 'aggChallenge' | 'ownAggProjection' | 'aggReceived' | 'isAggSource' | 'restartFanIn' | 'finishFanIn' | 'resultProjection'
>;
import type { PolicyDecision, PolicySubject } from '../policy/index.js';

export type Phase = 'collect' | 'deal' | 'decide' | 'combine' | 'done' | 'aborted';

/** Which message kinds each phase accepts; every other pair is PROTOCOL_UNEXPECTED_MESSAGE. */
export const ACCEPTS: Readonly<Record<Phase, readonly MessageType[]>> = {
  collect: ['params', 'share', 'seed', 'commits', 'receipt', 'decision', 'abort'],
  deal: ['params', 'share', 'seed', 'commits', 'receipt', 'decision', 'abort'],
  decide: ['params', 'share', 'seed', 'commits', 'receipt', 'decision', 'abort'],
  combine: ['decision', 'agg', 'agg-done', 'agg-proj', 'agg-pull', 'abort', 'seal'],
  done: ['seal', 'agg-pull'],
  aborted: [],
};

/** What phase `phase` accepts in a round of protocol `version` (version 1 has no `seed`, `agg-proj`, `agg-pull`). */
export function acceptsIn(phase: Phase, version: 1 | 2): readonly MessageType[] {
  return version === 2 ? ACCEPTS[phase] : ACCEPTS[phase].filter((t) => t !== 'seed' && t !== 'agg-proj' && t !== 'agg-pull');
}

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
  /** True from the `publish` effect until the `published` event: our aggregate share is streaming out. */
  readonly publishing?: boolean;
  /** Peer messages held back while publishing, in arrival order (see `step`); replayed on `published`. */
  readonly deferred?: readonly { readonly from: string; readonly msg: PeerMessage }[];
  /** Peers whose link is down (a `peer-down` event, cleared by `peer-up`): not waited for, never made holders. */
  readonly down?: readonly string[];
  /**
   * Peers whose link is stalled (a `peer-stalled` event, cleared by `peer-flowing` or `peer-up`):
   * not waited for once every other participant awaited has answered, and then no holders.
   */
  readonly stalled?: readonly string[];
  /** Version 2 (docs/protocol.md "Version 2"); absent in version 1. */
  readonly v2?: V2State;
}

/** What a version-2 round keeps beyond version 1's state. */
export interface V2State {
  /** receiptProj[dealer][holder] = the holder's projection of its share on the dealer's challenge (hex u64). */
  readonly receiptProj: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Dealers whose share to this node is expected, and how: a seed or a share stream. */
  readonly expecting: Readonly<Record<string, 'seed' | 'share'>>;
  /** The decided holders' commitments to their aggregate shares, as signed (relayed to fan-in targets). */
  readonly aggCommits: Readonly<Record<string, PeerMessage>>;
  /** The round's challenge (hex), once every decided holder committed. */
  readonly challenge: string | null;
  /** The decided holders' signed projections on the challenge, as received (relayed to fan-in targets). */
  readonly aggProj: Readonly<Record<string, PeerMessage>>;
  /** After the consistency check: the holders found to publish a wrong aggregate share, and this node's sources. */
  readonly checked: { readonly culprits: readonly string[]; readonly sources: readonly string[] } | null;
  /** Nodes this holder's aggregate share was sent to (pushed by the rule, or pulled). */
  readonly servedTo: readonly string[];
  /** Nodes that asked for this holder's aggregate share before its check ran (served after it). */
  readonly pulls: readonly string[];
}

export type RoundEvent =
  | { kind: 'open'; now: number }
  /**
   * The region's collection closed. `trainerIds`: the pseudonymous ids of its trainers (sorted,
   * distinct), recorded as the `trainers` entry when given (docs/transcript.md).
   */
  | { kind: 'input'; contributes: boolean; trainers: number; trainerIds?: readonly string[]; now: number }
  | { kind: 'message'; from: string; msg: PeerMessage; now: number }
  /** The dealing's digests: in version 1 once the shares are out, in version 2 before anything is sent. */
  | { kind: 'dealt'; digests: ReadonlyMap<string, Uint8Array>; now: number }
  /** Version 2: the seeds and share streams are out; `projection`: the own share's, on this dealer's challenge. */
  | { kind: 'streamed'; projection: bigint | null; now: number }
  /** `left`: peers whose aggregate stream was ended unfinished because their link stalled (version 1 sends them no agg-done). */
  | { kind: 'published'; digest: Uint8Array; now: number; left?: readonly string[] }
  | { kind: 'tick'; now: number }
  /** The link to `peer` (re)connected: messages sent while it was down are lost. */
  | { kind: 'peer-up'; peer: string; now: number }
  /** The link to `peer` went down (the peer died, or its link broke): what it sends now is lost. */
  | { kind: 'peer-down'; peer: string; now: number }
  /** The link to `peer` is up but takes nothing: frames queued, no write completed and nothing received for the transport's stall bound. */
  | { kind: 'peer-stalled'; peer: string; now: number }
  /** The stalled link to `peer` moves again. */
  | { kind: 'peer-flowing'; peer: string; now: number };

export type Effect =
  | { kind: 'send'; to: string; msg: PeerMessage }
  /**
   * Stream shares of the regional input to `holders` (self included), then report `dealt` (in
   * version 1 with no digest for a holder whose stream was ended unfinished, its link stalled:
   * it was not dealt to).
   */
  | { kind: 'deal'; holders: readonly string[] }
  /**
   * Stream the aggregate share to `to`, each preceded by `relay` (version 1: the decision;
   * version 2: every decided holder's commitment and projection), then report `published`.
   */
  | { kind: 'publish'; to: readonly string[]; relay: readonly PeerMessage[] }
  /**
   * Version 2, after the commitments went out: send the seeds to `seeded`, stream the computed
   * shares to `full`, add and project the own share on `challenge`, then report `streamed`.
   */
  | { kind: 'stream-shares'; seeded: readonly string[]; full: readonly string[]; challenge: Uint8Array }
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
  /** The round's secret memory, through the narrow interface the step needs. */
  memory: StepMemory;
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
  /**
   * This node's federation summary (src/federation/summary.ts), sent with our parameters and
   * compared with a peer's when the digests differ; without it a mismatch names the digests.
   */
  summary?: FederationSummary | null;
  /** The round's named-tensor manifest at this node (its digest is `params.manifest`), sent with our parameters. */
  manifest?: { readonly text: string; readonly parsed: TensorManifest } | undefined;
}

/** What one step returns: the next state and the effects, in order. */
export type Out = { state: RoundState; effects: Effect[] };
/** The state as the step functions build it (the step copies the state it was given first). */
export type Mut = { -readonly [K in keyof RoundState]: RoundState[K] };

export function initialState(self: string, params: RoundParams, timing: RoundTiming, now: number): RoundState {
  if (!params.participants.includes(self)) throw new ProtocolError('PROTOCOL_UNEXPECTED_MESSAGE', `${self} is not a participant of round ${params.round}`);
  return {
    phase: 'collect', self, params, timing, openedAt: now, matched: [], input: null, dealtTo: null,
    commits: {}, receipts: {}, decision: null, aggDone: [], error: null,
    ...(params.protocol === 2 ? { v2: { receiptProj: {}, expecting: {}, aggCommits: {}, challenge: null, aggProj: {}, checked: null, servedTo: [], pulls: [] } } : {}),
  };
}

/**
 * The deadlines of a round, from the federation's round settings: peers' parameters are awaited
 * until the collection closes plus min(phaseTimeoutMs, 5 s); dealing, receipts and the decision get
 * one more phase; seals get one phase after the result; the whole round gets roundTimeoutMs.
 */
export function roundTiming(r: Pick<RoundConfig, 'collectMs' | 'phaseTimeoutMs' | 'roundTimeoutMs'>): RoundTiming {
  const peerWaitMs = r.collectMs + Math.min(r.phaseTimeoutMs, 5000);
  return { peerWaitMs, decideMs: peerWaitMs + r.phaseTimeoutMs, roundMs: r.roundTimeoutMs, sealMs: r.phaseTimeoutMs };
}
