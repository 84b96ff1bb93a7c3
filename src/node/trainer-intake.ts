/**
 * Trainer intake: a trainer's submission from its request to the regional sum. It checks what
 * can be checked before the body arrives (round id, weight, length, the round still collecting,
 * room for one more trainer), streams the body into the round's secret memory, commits it, and
 * closes the region's collection when `expect` updates are in or collectMs is up (extended for
 * uploads still streaming in, up to peerWaitMs after the round opened).
 * @module
 */
import { MpcError, ProtocolError } from '../errors.js';
import { isRoundId, ROUND_ID_RULE } from '../core/ids.js';
import type { Federation, RoundConfig } from '../federation/index.js';
import type { RoundEvent } from '../protocol/round.js';
import type { UpdateStaging } from '../protocol/memory/index.js';
import type { AggregateAnswer, Logger, SubmitRequest, UpdateUpload } from './node-options.js';
import type { Round, RoundRegistry } from './round-registry.js';

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
  /** Opens a round for this region's trainers. @throws as RegionNode.openRound. */
  openRound(id: string, params: number): Round;
  apply(r: Round, ev: RoundEvent): void;
  /** An update is in the regional sum, scaled by `clipFactor` (1: not clipped). */
  updateAccepted(clipFactor: number): void;
}

export class TrainerIntake {
  constructor(private readonly host: IntakeHost) {}

  /**
   * Starts one trainer's update for its round (opening the round if needed).
   * @throws {MpcError} API_BAD_REQUEST, WIRE_TOO_LARGE, FIELD_LENGTH_MISMATCH, PROTOCOL_*, POLICY_ROUNDS_IN_FLIGHT at once on a bad request.
   */
  submit(req: SubmitRequest): UpdateUpload {
    const h = this.host;
    if (h.closing()) throw new MpcError('PROTOCOL_ABORTED', 'node is shutting down');
    const cfg = h.federation.round;
    if (!isRoundId(req.round)) throw new MpcError('API_BAD_REQUEST', ROUND_ID_RULE);
    if (!(req.weight > 0) || !Number.isFinite(req.weight) || req.weight > cfg.maxWeight) {
      throw new MpcError('API_BAD_REQUEST', `weight must be a number in (0, ${cfg.maxWeight}] (round.maxWeight), got ${req.weight}`);
    }
    checkUpdateLength(cfg, req.params);
    const ended = h.rounds.endedOf(req.round);
    if (ended) {
      // say why: a trainer that arrives after the round aborted gets the round's own reason
      if (ended.outcome === 'aborted') throw new ProtocolError(ended.code ?? 'PROTOCOL_ABORTED', `round ${req.round} has already ended: ${ended.detail ?? 'aborted'}`);
      throw new MpcError('API_BAD_REQUEST', `round ${req.round} has already ended with a result; use a new round id`);
    }
    let r = h.rounds.get(req.round);
    if (r) this.checkAccepting(r, req.params);
    else r = h.openRound(req.round, req.params);
    if (r.trainers + r.uploading >= cfg.maxTrainersPerRound) throw new MpcError('API_BAD_REQUEST', `round ${req.round} already has ${cfg.maxTrainersPerRound} updates (round.maxTrainersPerRound)`);
    const round = r;
    const staging = round.memory.beginUpdate();
    round.uploading++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      round.uploading--;
      round.memory.abortUpdate(staging); // wipes; a no-op after a commit
      if (staging.inPlace) this.wakeSumWaiters(round);
      if (round.uploading === 0 && round.collectDue) this.closeCollection(round);
    };
    let clipFactor: number | undefined;
    return {
      get clipFactor() {
        return clipFactor;
      },
      write: (chunk) => {
        if (settled || !h.rounds.isLive(round)) throw new MpcError('PROTOCOL_ABORTED', `round ${round.id} ended while the update was uploading`);
        round.memory.writeUpdate(staging, chunk);
      },
      commit: async () => {
        // the upload is settled once its update is in the sum (or refused), not when the round
        // ends: a committed trainer counts once (in `trainers`), and does not hold the
        // collection open as if it were still uploading
        let committed: { answer: Promise<AggregateAnswer>; clipFactor: number };
        try {
          committed = await this.commitUpload(round, staging, req);
          clipFactor = committed.clipFactor;
        } finally {
          settle();
        }
        return committed.answer;
      },
      abort: settle,
    };
  }

  /** Starts the collection clock of a round that has just opened. */
  startCollection(r: Round): void {
    r.collectTimer = setTimeout(() => this.collectionTimeUp(r), this.host.federation.round.collectMs);
    r.collectTimer.unref();
  }

  /** Wakes commits waiting for the round's in-place first update (also when the round ends). */
  wakeSumWaiters(r: Round): void {
    const w = r.sumWaiters;
    r.sumWaiters = [];
    for (const f of w) f();
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

  /** Adds the staged update to the regional sum; resolves (wrapped, so it is not awaited) with the trainer's answer to come. */
  private async commitUpload(r: Round, staging: UpdateStaging, req: SubmitRequest): Promise<{ answer: Promise<AggregateAnswer>; clipFactor: number }> {
    const h = this.host;
    // the round's first update is staged inside the regional sum: later ones wait for it
    while (!staging.inPlace && r.memory.sumBusy && h.rounds.isLive(r)) await new Promise<void>((res) => r.sumWaiters.push(res));
    if (!h.rounds.isLive(r)) {
      const ended = h.rounds.endedOf(r.id);
      throw new ProtocolError(ended?.code ?? 'PROTOCOL_ABORTED', `round ${r.id} ended while the update was uploading${ended?.detail ? `: ${ended.detail}` : ''}`);
    }
    this.checkAccepting(r, req.params);
    // validates (NaN, bound, length) before touching the regional sum
    const clipFactor = r.memory.commitUpdate(staging, req.weight, h.federation.round);
    r.trainers++;
    h.updateAccepted(clipFactor);
    if (req.expect !== undefined) r.expect = req.expect;
    const answer = new Promise<AggregateAnswer>((resolve, reject) => r.waiters.push({ reduce: req.reduce, resolve, reject }));
    // clipped: the trainer is told too (x-mpc-clip-factor); the factor, never the values
    h.log({ event: 'update-accepted', round: r.id, trainers: r.trainers, ...(clipFactor < 1 ? { clipped: true, clipFactor: Number(clipFactor.toPrecision(6)) } : {}) });
    if (r.expect !== undefined && r.trainers >= r.expect) this.closeCollection(r);
    return { answer, clipFactor };
  }

  /**
   * collectMs is over. Uploads that began in time (their headers arrived) may still be streaming
   * in: a large model takes a while. Keep the collection open until they settle, but no longer
   * than peerWaitMs after the round opened (the time the other regions give this one before
   * they deal without it), then close whatever is in.
   */
  private collectionTimeUp(r: Round): void {
    r.collectTimer = undefined;
    if (r.uploading === 0) return this.closeCollection(r);
    r.collectDue = true;
    this.host.log({ event: 'collection-extended', round: r.id, uploading: r.uploading });
    r.collectTimer = setTimeout(() => this.closeCollection(r), Math.max(0, r.startedAt + this.host.peerWaitMs - Date.now()));
    r.collectTimer.unref();
  }

  private closeCollection(r: Round): void {
    if (r.collectTimer) clearTimeout(r.collectTimer);
    r.collectTimer = undefined;
    if (r.state.input || !this.host.rounds.isLive(r)) return;
    this.host.apply(r, { kind: 'input', contributes: r.trainers > 0, trainers: r.trainers, now: Date.now() });
  }
}
