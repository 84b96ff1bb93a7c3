/**
 * The rounds a node has open, the uploads of rounds not open yet, and a bounded memory of the
 * ones that ended (so a trainer who comes late learns why, and late peer traffic of an ended
 * round is dropped quietly). A round is live while the registry holds that very object: every
 * asynchronous step (an upload, a share stream) checks `isLive` before it touches the round's
 * memory again. Uploads are pending while their round has not opened at this node (it opens when
 * the first of them commits, or at a peer's matching params): they are no round, hold no
 * transcript, and leave nothing once the last of them settles uncommitted.
 * @module
 */
import type { ErrorCode } from '../errors.js';
import type { RoundState } from '../protocol/round.js';
import type { RoundMemory } from '../protocol/memory/index.js';
import type { Reservation } from '../protocol/memory/budget.js';
import type { AggregateAnswer, RoundManifest } from './node-options.js';
import type { RoundTranscript } from './round-transcript.js';

/** A trainer waiting for the round's aggregate. */
export interface Waiter {
  reduce: 'sum' | 'mean';
  resolve(a: AggregateAnswer): void;
  reject(e: Error): void;
}

/**
 * A round's trainer uploads at this node and the memory they stream into, from the first
 * request's headers (before the round opens) until the round ends.
 */
export interface Uploads {
  readonly id: string;
  readonly params: number;
  /** The round's secret memory: only trainers' stagings before the round opens, all of it after. */
  readonly memory: RoundMemory;
  /** The round's peak memory, reserved against the node's budget until the round ends or the uploads come to nothing. */
  readonly reservation: Reservation;
  /** Uploads begun and not yet committed or aborted (they count against maxTrainersPerRound). */
  uploading: number;
  /** Commits waiting for the in-place first update to settle (`RoundMemory.sumBusy`). */
  sumWaiters: (() => void)[];
  /** The open round, once opened; undefined while pending. */
  round: Round | undefined;
  /** Set when pending uploads were given up (the last settled uncommitted, or the round could not open). */
  dropped: boolean;
  /**
   * The round's named-tensor manifest (docs/api.md "Named tensors"): its first update's, or the
   * one of the peer whose params opened it; undefined for a round of plain float32 vectors.
   */
  manifest: RoundManifest | undefined;
}

/** One open round at this node: the protocol state, its secret memory, and the node's bookkeeping. */
export interface Round {
  id: string;
  state: RoundState;
  memory: RoundMemory;
  /** The trainer uploads of this round at this node (`uploads.memory` is `memory`). */
  uploads: Uploads;
  waiters: Waiter[];
  trainers: number;
  /** The pseudonymous ids of the trainers whose updates are in (SubmitRequest.trainer). */
  trainerIds: Set<string>;
  expect: number | undefined;
  collectTimer: NodeJS.Timeout | undefined;
  /** collectMs has passed while uploads were in flight: close once they settle (see TrainerIntake). */
  collectDue: boolean;
  projSeed: Uint8Array;
  startedAt: number;
  /** This round's transcript (null without transcriptsDir). */
  tx: RoundTranscript | null;
}

/** How a round ended, remembered for a while after. */
export interface Ended {
  outcome: 'done' | 'aborted';
  at: number;
  detail?: string;
  code?: ErrorCode;
}

/** Ended rounds remembered at most (the oldest are forgotten first)... */
export const ENDED_MEMORY = 1000;
/** ...and for at most this long. */
export const ENDED_MEMORY_MS = 3_600_000;

export class RoundRegistry {
  private readonly open = new Map<string, Round>();
  private readonly pending = new Map<string, Uploads>();
  private readonly ended = new Map<string, Ended>();

  /** Uploads of round `id` while it has not opened at this node. */
  pendingOf(id: string): Uploads | undefined {
    return this.pending.get(id);
  }

  /** A snapshot of the pending uploads, by round. */
  pendingList(): Uploads[] {
    return [...this.pending.values()];
  }

  addPending(u: Uploads): void {
    this.pending.set(u.id, u);
  }

  /** The pending uploads `u` are no longer pending (their round opened, or they were given up). */
  dropPending(u: Uploads): void {
    if (this.pending.get(u.id) === u) this.pending.delete(u.id);
  }

  get size(): number {
    return this.open.size;
  }

  get(id: string): Round | undefined {
    return this.open.get(id);
  }

  /** True while `r` itself (not a later round of the same id) is open. */
  isLive(r: Round): boolean {
    return this.open.get(r.id) === r;
  }

  /** A snapshot of the open rounds (safe to end rounds while iterating it). */
  list(): Round[] {
    return [...this.open.values()];
  }

  add(r: Round): void {
    this.open.set(r.id, r);
  }

  /** Removes `r` from the open rounds and remembers how it ended. */
  end(r: Round, how: Omit<Ended, 'at'>, now: number): void {
    if (!this.isLive(r)) return;
    this.open.delete(r.id);
    this.ended.set(r.id, { ...how, at: now });
  }

  endedOf(id: string): Ended | undefined {
    return this.ended.get(id);
  }

  /** Forgets ended rounds older than ENDED_MEMORY_MS, and the oldest beyond ENDED_MEMORY. */
  forget(now: number): void {
    for (const [id, e] of this.ended) if (now - e.at > ENDED_MEMORY_MS || this.ended.size > ENDED_MEMORY) this.ended.delete(id);
  }
}
