/**
 * Trainer intake: a trainer's submission from its request to the regional sum. It checks what
 * can be checked before the body arrives (round id, weight, length, the round still collecting,
 * room for one more trainer, the round's memory within the node's budget), streams the body into
 * the round's secret memory, commits it, and closes the region's collection when `expect`
 * updates are in or collectMs is up (extended for uploads still streaming in, up to peerWaitMs
 * after the round opened).
 *
 * A round opens at this node when its first update has committed (the whole body arrived and was
 * valid), or at a peer's matching params, never at a request's headers: until then its uploads
 * are pending (round-registry.ts `Uploads`), and a refused, stalled or truncated upload leaves no
 * round, no transcript and no memory behind.
 * @module
 */
import { MpcError, ProtocolError } from '../errors.js';
import { isRoundId, ROUND_ID_RULE } from '../core/ids.js';
import type { Federation, RoundConfig } from '../federation/index.js';
import type { RoundEvent } from '../protocol/round.js';
import type { UpdateStaging } from '../protocol/memory/index.js';
import type { Reservation } from '../protocol/memory/budget.js';
import type { AggregateAnswer, Logger, SubmitRequest, UpdateUpload } from './node-options.js';
import type { Round, RoundRegistry, Uploads } from './round-registry.js';
import { Submissions } from './submissions.js';

/** The largest update body in bytes (float32 values): round.maxParams x 4. */
export function maxUpdateBytes(cfg: Pick<RoundConfig, 'maxParams'>): number {
  return cfg.maxParams * 4;
}

/** True if a round of `params` values fits round.maxParams (trainer updates and peers' rounds alike). */
export function fitsMaxParams(cfg: Pick<RoundConfig, 'maxParams'>, params: number): boolean {
  return Number.isSafeInteger(params) && params >= 1 && params <= cfg.maxParams;
}

/**
 * The one check of an update's length against round.maxParams (the HTTP edge calls it on the
 * announced length before reading the body, the node again on every submission).
 * @throws {MpcError} WIRE_TOO_LARGE above maxParams, API_BAD_REQUEST for no values or a non-integer.
 */
export function checkUpdateLength(cfg: Pick<RoundConfig, 'maxParams'>, params: number): void {
  if (fitsMaxParams(cfg, params)) return;
  if (!Number.isSafeInteger(params) || params < 1) throw new MpcError('API_BAD_REQUEST', `update must have 1..${cfg.maxParams} values (round.maxParams), got ${params}`);
  if (params > cfg.maxParams) throw new MpcError('WIRE_TOO_LARGE', `update of ${params} values exceeds round.maxParams = ${cfg.maxParams} (${maxUpdateBytes(cfg)} bytes)`);
}

/** What the intake needs from its node. */
export interface IntakeHost {
  readonly federation: Federation;
  readonly rounds: RoundRegistry;
  /** After opening, how long the other regions wait for this one's parameters (RoundTiming.peerWaitMs). */
  readonly peerWaitMs: number;
  readonly log: Logger;
  closing(): boolean;
  /**
   * Pending uploads for a round not open yet: room for one more round in flight, its memory
   * reserved against the budget (nothing allocated yet).
   * @throws {MpcError} POLICY_ROUNDS_IN_FLIGHT, RESOURCE_MEMORY_BUDGET (counted by the node).
   */
  prepare(id: string, params: number): Uploads;
  /** Reserves the memory of an update staged beside the round's first. @throws {MpcError} RESOURCE_MEMORY_BUDGET. */
  reserveStaging(id: string, params: number): Reservation;
  /** Opens the round of pending `uploads` (its first update is in). @throws as RegionNode.openRound. */
  openRound(uploads: Uploads): Round;
  /** Gives pending uploads up: wipes their memory, releases their reservation. Idempotent. */
  dropPending(uploads: Uploads): void;
  apply(r: Round, ev: RoundEvent): void;
  /** An update is in the regional sum, scaled by `clipFactor` (1: not clipped). */
  updateAccepted(clipFactor: number): void;
}

export class TrainerIntake {
  /** Which trainer sent what to which round: retries join, never count twice. */
  private readonly submissions = new Submissions();
  constructor(private readonly host: IntakeHost) {}

  /**
   * Starts one trainer's update for its round (the round opens once its first update commits).
   * @throws {MpcError} API_BAD_REQUEST, WIRE_TOO_LARGE, FIELD_LENGTH_MISMATCH, PROTOCOL_*, POLICY_ROUNDS_IN_FLIGHT, RESOURCE_MEMORY_BUDGET at once on a bad request.
   */
  submit(req: SubmitRequest): UpdateUpload {
    const h = this.host;
    if (h.closing()) throw new MpcError('PROTOCOL_ABORTED', 'node is shutting down');
    // a retry of an upload this trainer already sent: hashed only, then joins the first one
    const retry = this.submissions.retryOf(req);
    if (retry) return retry;
    const cfg = h.federation.round;
    if (!isRoundId(req.round)) throw new MpcError('API_BAD_REQUEST', ROUND_ID_RULE);
    if (!(req.weight > 0) || !Number.isFinite(req.weight) || req.weight > cfg.maxWeight) {
      throw new MpcError('API_BAD_REQUEST', `weight must be a number in (0, ${cfg.maxWeight}] (round.maxWeight), got ${req.weight}`);
    }
    checkUpdateLength(cfg, req.params);
    this.checkNotEnded(req.round);
    const open = h.rounds.get(req.round);
    let u: Uploads;
    if (open) {
      this.checkAccepting(open, req.params);
      u = open.uploads;
    } else {
      const pending = h.rounds.pendingOf(req.round);
      if (pending && pending.params !== req.params) throw new MpcError('FIELD_LENGTH_MISMATCH', `update has ${req.params} values, round ${req.round} has ${pending.params} (another trainer's update is uploading)`);
      u = pending ?? h.prepare(req.round, req.params);
    }
    if ((u.round?.trainers ?? 0) + u.uploading >= cfg.maxTrainersPerRound) {
      if (u.uploading === 0 && !u.round) h.dropPending(u);
      throw new MpcError('API_BAD_REQUEST', `round ${req.round} already has ${cfg.maxTrainersPerRound} updates (round.maxTrainersPerRound)`);
    }
    // an update staged beside the first one needs memory of its own: reserved before it is allocated
    const extra = u.memory.hasInput || u.memory.sumBusy ? h.reserveStaging(req.round, req.params) : null;
    const staging = u.memory.beginUpdate();
    u.uploading++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      u.uploading--;
      u.memory.abortUpdate(staging); // wipes; a no-op after a commit
      extra?.release();
      if (staging.inPlace) this.wakeSumWaiters(u);
      const r = u.round;
      if (!r) {
        if (u.uploading === 0) h.dropPending(u); // nothing committed: no round, no memory left
      } else if (u.uploading === 0 && r.collectDue) this.closeCollection(r);
    };
    let clipFactor: number | undefined;
    const tracked = this.submissions.track(req, {
      get clipFactor() {
        return clipFactor;
      },
      write: (chunk) => {
        if (settled || u.dropped || (u.round && !h.rounds.isLive(u.round))) throw new MpcError('PROTOCOL_ABORTED', `round ${req.round} ended while the update was uploading`);
        u.memory.writeUpdate(staging, chunk);
      },
      commit: async () => {
        // the upload is settled once its update is in the sum (or refused), not when the round
        // ends: a committed trainer counts once (in `trainers`), and does not hold the
        // collection open as if it were still uploading
        let committed: { answer: Promise<AggregateAnswer>; clipFactor: number };
        try {
          committed = await this.commitUpload(u, staging, req, (w) => tracked.committed(w));
          clipFactor = committed.clipFactor;
        } finally {
          settle();
        }
        return committed.answer;
      },
      abort: settle,
    });
    return tracked.upload;
  }

  /** Starts the collection clock of a round that has just opened. */
  startCollection(r: Round): void {
    r.collectTimer = setTimeout(() => this.collectionTimeUp(r), this.host.federation.round.collectMs);
    r.collectTimer.unref();
  }

  /** Round `r` has ended at this node: waiting commits find it ended, retries no longer find its answer (src/node/submissions.ts). */
  roundEnded(r: Round): void {
    this.wakeSumWaiters(r.uploads);
    this.submissions.roundEnded(r.id);
  }

  /** Wakes commits waiting for the round's in-place first update (also when the round ends). */
  wakeSumWaiters(u: Uploads): void {
    const w = u.sumWaiters;
    u.sumWaiters = [];
    for (const f of w) f();
  }

  /** @throws {MpcError} when round `id` has ended at this node, saying how. */
  private checkNotEnded(id: string): void {
    const ended = this.host.rounds.endedOf(id);
    if (!ended) return;
    // say why: a trainer that arrives after the round aborted gets the round's own reason
    if (ended.outcome === 'aborted') throw new ProtocolError(ended.code ?? 'PROTOCOL_ABORTED', `round ${id} has already ended: ${ended.detail ?? 'aborted'}`);
    throw new MpcError('API_BAD_REQUEST', `round ${id} has already ended with a result; use a new round id`);
  }

  /** @throws {MpcError} when round `r` no longer takes updates of this region, or of this length. */
  private checkAccepting(r: Round, params: number): void {
    if (r.state.phase !== 'collect' || r.state.input) {
      throw new MpcError('API_BAD_REQUEST', `round ${r.id} no longer accepts updates from this region (collection closed); use a new round id`);
    }
    if (r.state.params.params !== params) {
      throw new MpcError('FIELD_LENGTH_MISMATCH', `update has ${params} values, round ${r.id} has ${r.state.params.params}`);
    }
  }

  /**
   * Adds the staged update to the regional sum, opening the round if it is the first; resolves
   * (wrapped, so it is not awaited) with the trainer's answer to come and the update's clipping
   * factor. `counted` gets a second waiter for the answer when the upload has a slot (kept for retries).
   */
  private async commitUpload(u: Uploads, staging: UpdateStaging, req: SubmitRequest, counted: (keep: Promise<AggregateAnswer>) => void): Promise<{ answer: Promise<AggregateAnswer>; clipFactor: number }> {
    const h = this.host;
    // the round's first update is staged inside the regional sum: later ones wait for it
    const gone = (): boolean => u.dropped || (u.round !== undefined && !h.rounds.isLive(u.round));
    while (!staging.inPlace && u.memory.sumBusy && !gone()) await new Promise<void>((res) => u.sumWaiters.push(res));
    if (gone()) {
      const ended = h.rounds.endedOf(u.id);
      throw new ProtocolError(ended?.code ?? 'PROTOCOL_ABORTED', `round ${u.id} ended while the update was uploading${ended?.detail ? `: ${ended.detail}` : ''}`);
    }
    let r = u.round;
    if (r) {
      this.checkAccepting(r, req.params);
      r.tx?.keep(); // a round a peer opened keeps its transcript once this node's trainers take part
    } else {
      // a round of another length opened meanwhile (a peer's params), or ended
      this.checkNotEnded(u.id);
      const other = h.rounds.get(u.id);
      if (other) this.checkAccepting(other, req.params);
    }
    // validates (NaN, bound, length) before touching the regional sum, and before the round opens:
    // a refused update opens no round
    const clipFactor = u.memory.commitUpdate(staging, req.weight, h.federation.round);
    if (!r) {
      try {
        r = h.openRound(u);
      } catch (e) {
        h.dropPending(u); // wipes the update just added
        throw e;
      }
    }
    r.trainers++;
    if (req.trainer) r.trainerIds.add(req.trainer.id);
    h.updateAccepted(clipFactor);
    if (req.expect !== undefined) r.expect = req.expect;
    const answer = this.waitFor(r, req);
    if (req.trainer?.slot !== undefined) counted(this.waitFor(r, req));
    // clipped: the trainer is told too (x-mpc-clip-factor); the factor, never the values
    h.log({ event: 'update-accepted', round: r.id, trainers: r.trainers, ...(clipFactor < 1 ? { clipped: true, clipFactor: Number(clipFactor.toPrecision(6)) } : {}) });
    if (r.expect !== undefined && r.trainers >= r.expect) this.closeCollection(r);
    return { answer, clipFactor };
  }

  /** A waiter for the round's answer in `req`'s reduction. */
  private waitFor(r: Round, req: SubmitRequest): Promise<AggregateAnswer> {
    return new Promise<AggregateAnswer>((resolve, reject) => r.waiters.push({ reduce: req.reduce, resolve, reject }));
  }

  /**
   * collectMs is over. Uploads that began in time (their headers arrived) may still be streaming
   * in: a large model takes a while. Keep the collection open until they settle, but no longer
   * than peerWaitMs after the round opened (the time the other regions give this one before
   * they deal without it), then close whatever is in.
   */
  private collectionTimeUp(r: Round): void {
    r.collectTimer = undefined;
    if (r.uploads.uploading === 0) return this.closeCollection(r);
    r.collectDue = true;
    this.host.log({ event: 'collection-extended', round: r.id, uploading: r.uploads.uploading });
    r.collectTimer = setTimeout(() => this.closeCollection(r), Math.max(0, r.startedAt + this.host.peerWaitMs - Date.now()));
    r.collectTimer.unref();
  }

  private closeCollection(r: Round): void {
    if (r.collectTimer) clearTimeout(r.collectTimer);
    r.collectTimer = undefined;
    if (r.state.input || !this.host.rounds.isLive(r)) return;
    this.host.apply(r, { kind: 'input', contributes: r.trainers > 0, trainers: r.trainers, ...this.trainerIdsOf(r), now: Date.now() });
  }

  /** The pseudonymous ids of the round's trainers, for the transcript; none when an update came without one. */
  private trainerIdsOf(r: Round): { trainerIds?: string[] } {
    return r.trainers === 0 || r.trainerIds.size > 0 ? { trainerIds: [...r.trainerIds].sort() } : {};
  }
}
