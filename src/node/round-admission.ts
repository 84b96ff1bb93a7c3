/**
 * Whether a round may open at this node, and the memory it may hold: rounds in flight
 * (policy.maxRoundsInFlight), the node's memory budget (every round reserves its peak,
 * `roundMemoryBytes`, before anything of it is allocated), the rate bound on rounds peers open
 * (peer-round-gate.ts), and the pending uploads of rounds not open yet, which are given up
 * without a trace when they come to nothing. Refusals are counted in metrics.
 * @module
 */
import { PolicyError } from '../errors.js';
import type { Federation } from '../federation/index.js';
import { aesCtrRandom } from '../field/random-node.js';
import type { WasmKernels } from '../field/wasm.js';
import type { HashFactory } from '../core/crypto.js';
import { checkRoundsInFlight, type PolicyDecision } from '../policy/index.js';
import { RoundMemory } from '../protocol/memory/index.js';
import { roundMemoryBytes, stagingBytes, type MemoryBudget, type Reservation } from '../protocol/memory/budget.js';
import { extraElems, vectorLength } from '../protocol/params.js';
import type { NodeMetrics } from './metrics.js';
import type { Logger } from './node-options.js';
import { PEER_ROUNDS_PER_SECOND, PeerRoundGate } from './peer-round-gate.js';
import type { RoundRegistry, Uploads } from './round-registry.js';
import { fitsMaxParams } from './trainer-intake.js';

export interface AdmissionHost {
  readonly federation: Federation;
  readonly rounds: RoundRegistry;
  readonly kernels: WasmKernels;
  readonly hash: HashFactory;
  readonly budget: MemoryBudget;
  readonly metrics: NodeMetrics;
  readonly log: Logger;
  /** A round refused under policy.maxRoundsInFlight: count it, report the violation. */
  refusedRound(d: PolicyDecision, context: Record<string, unknown>): void;
  wakeSumWaiters(u: Uploads): void;
  /** Test faults for every round's memory (RegionNodeOptions.testFaults). */
  readonly testFaults?: { corruptShareTo?: string; corruptAggregate?: boolean } | undefined;
}

/** Who asked for a round's memory. */
type Source = 'trainer' | 'peer';

export class RoundAdmission {
  readonly budget: MemoryBudget;
  private readonly gate: PeerRoundGate;

  constructor(private readonly h: AdmissionHost) {
    this.budget = h.budget;
    this.gate = new PeerRoundGate(h.federation.policy.maxRoundsInFlight, PEER_ROUNDS_PER_SECOND);
  }

  /** @throws {PolicyError} POLICY_ROUNDS_IN_FLIGHT beyond policy.maxRoundsInFlight (counted as a refused round and a violation). */
  checkInFlight(id: string, from?: string): void {
    const d = checkRoundsInFlight(this.h.federation, id, this.h.rounds.size);
    if (d.outcome === 'allowed') return;
    this.h.metrics.roundEnded('refused', 0);
    this.h.refusedRound(d, { round: id, ...(from ? { from } : {}) });
    throw new PolicyError('POLICY_ROUNDS_IN_FLIGHT', `round ${id} refused: ${d.reason}`, { rule: d.rule });
  }

  /**
   * Uploads of round `id` with nothing allocated yet: the round's peak memory reserved.
   * @throws {MpcError} RESOURCE_MEMORY_BUDGET (counted by `source`).
   */
  newUploads(id: string, params: number, source: Source): Uploads {
    const version = { protocol: this.h.federation.round.protocol === 2 ? (2 as const) : undefined };
    const reservation = this.reserve(roundMemoryBytes(params, this.h.federation.regions.length, version.protocol ?? 1), `round ${id} of ${params} parameters`, source);
    const memory = new RoundMemory(this.h.kernels, vectorLength({ params, ...version }), this.h.hash, aesCtrRandom, extraElems(version));
    const tf = this.h.testFaults;
    if (tf?.corruptShareTo) memory.testFaults.corruptShareToX = [...this.h.federation.regions.map((r) => r.id)].sort().indexOf(tf.corruptShareTo) + 1;
    if (tf?.corruptAggregate) memory.testFaults.corruptAggregate = true;
    return { id, params, memory, reservation, uploading: 0, sumWaiters: [], round: undefined, dropped: false, manifest: undefined };
  }

  /**
   * Pending uploads of a round not open yet (see TrainerIntake): refused at once if no round
   * could open now (rounds in flight) or its memory does not fit the budget.
   * @throws {MpcError} POLICY_ROUNDS_IN_FLIGHT, RESOURCE_MEMORY_BUDGET.
   */
  prepare(id: string, params: number): Uploads {
    this.checkInFlight(id);
    const u = this.newUploads(id, params, 'trainer');
    this.h.rounds.addPending(u);
    return u;
  }

  /** The memory of an update staged beside the round's first. @throws {MpcError} RESOURCE_MEMORY_BUDGET. */
  reserveStaging(id: string, params: number): Reservation {
    return this.reserve(stagingBytes(params), `an update of round ${id} (${params} parameters) staged beside another`, 'trainer');
  }

  /** Gives pending uploads up: their memory wiped, their reservation released. Idempotent; a no-op once their round opened. */
  dropPending(u: Uploads): void {
    if (u.dropped || u.round) return;
    u.dropped = true;
    this.h.rounds.dropPending(u);
    u.memory.zeroize();
    u.reservation.release();
    this.h.wakeSumWaiters(u);
  }

  /**
   * May `from`'s params of `params` values open round `round` now? Refused: beyond round.maxParams
   * (`limit`: PROTOCOL_LIMIT_EXCEEDED, for the caller to log), or beyond the per-peer rate bound
   * (`throttled`: counted here each time and logged once per burst, so a flood does not flood
   * the log too).
   * @returns null when it may, else the refusal.
   */
  peerMayOpen(from: string, round: string, params: number, now: number): { refused: 'limit' | 'throttled'; reason: string } | null {
    const cfg = this.h.federation.round;
    if (!fitsMaxParams(cfg, params)) return { refused: 'limit', reason: `round of ${params} parameters is outside 1..${cfg.maxParams} (round.maxParams)` };
    const g = this.gate.take(from, now);
    if (g.ok) return null;
    this.h.metrics.peerRoundThrottled(from);
    const reason = `${from} opens rounds faster than ${PEER_ROUNDS_PER_SECOND} per second (after a burst of policy.maxRoundsInFlight = ${this.h.federation.policy.maxRoundsInFlight}): its params are refused until it slows down`;
    if (g.firstOfBurst) this.h.log({ event: 'peer-rounds-throttled', from, round, reason });
    return { refused: 'throttled', reason };
  }

  /**
   * The memory and transcript of a round about to open: `uploads` (pending, of this node's
   * trainers) or new ones reserved now for `from`'s params; `transcript` is made after the
   * reservation, which is released again if it throws.
   * @throws {MpcError} RESOURCE_MEMORY_BUDGET, and what `transcript` throws.
   */
  withMemory<T>(id: string, params: number, from: string | undefined, uploads: Uploads | undefined, transcript: () => T): { u: Uploads; tx: T } {
    const u = uploads ?? this.newUploads(id, params, from ? 'peer' : 'trainer');
    try {
      return { u, tx: transcript() };
    } catch (e) {
      if (!uploads) u.reservation.release();
      throw e;
    }
  }

  /** The memory figures of GET /v1/status, in bytes: the budget, what open and pending rounds reserve of it, WASM linear memory (it never shrinks) and the part of it allocated. */
  memoryStatus(): { budget: number; reserved: number; wasm: number; wasmInUse: number } {
    return { budget: this.budget.limit, reserved: this.budget.reserved, wasm: this.h.kernels.memoryBytes, wasmInUse: this.h.kernels.usedBytes };
  }

  /** The same for the metrics snapshot. */
  memoryFigures(): { memoryBudgetBytes: number; memoryReservedBytes: number; wasmMemoryBytes: number } {
    return { memoryBudgetBytes: this.budget.limit, memoryReservedBytes: this.budget.reserved, wasmMemoryBytes: this.h.kernels.memoryBytes };
  }

  private reserve(bytes: number, what: string, source: Source): Reservation {
    try {
      return this.budget.reserve(bytes, what);
    } catch (e) {
      this.h.metrics.memoryRefused(source);
      throw e;
    }
  }
}
