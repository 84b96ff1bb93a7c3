/**
 * The rounds a node has open, and a bounded memory of the ones that ended (so a trainer who
 * comes late learns why, and late peer traffic of an ended round is dropped quietly). A round is
 * live while the registry holds that very object: every asynchronous step (an upload, a share
 * stream) checks `isLive` before it touches the round's memory again.
 * @module
 */
import type { ErrorCode } from '../errors.js';
import type { RoundState } from '../protocol/round.js';
import type { RoundMemory } from '../protocol/memory/index.js';
import type { AggregateAnswer } from './node-options.js';
import type { TranscriptFile } from './transcript-file.js';

/** A trainer waiting for the round's aggregate. */
export interface Waiter {
  reduce: 'sum' | 'mean';
  resolve(a: AggregateAnswer): void;
  reject(e: Error): void;
}

/** One open round at this node: the protocol state, its secret memory, and the node's bookkeeping. */
export interface Round {
  id: string;
  state: RoundState;
  memory: RoundMemory;
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
  /** This round's transcript file (null without transcriptsDir). */
  tx: TranscriptFile | null;
  /** Uploads begun and not yet committed or aborted (they count against maxTrainersPerRound). */
  uploading: number;
  /** Commits waiting for the in-place first update to settle (`RoundMemory.sumBusy`). */
  sumWaiters: (() => void)[];
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
  private readonly ended = new Map<string, Ended>();

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
