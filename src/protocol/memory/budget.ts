/**
 * The node's memory budget for rounds: how many bytes of WASM memory a round can hold at its peak
 * (`roundMemoryBytes`, the one definition, next to the vectors it counts), and the budget those
 * bytes are reserved from before any of them is allocated (`MemoryBudget`). A round that does
 * not fit is refused with RESOURCE_MEMORY_BUDGET, never half-allocated. No I/O, no clock.
 * @module
 */
import { MpcError } from '../../errors.js';
import { CHUNK_ELEMS } from '../../field/fixed-point.js';
import { EXTRA_ELEMS } from '../params.js';
import { WIRE_CHUNK_ELEMS } from './share-streams.js';

/** The most WASM memory a node's rounds may reserve: 3.5 GiB of the 4 GiB wasm32 limit (the rest: kernels' scratch, fragmentation). */
export const WASM_BUDGET_LIMIT = 3.5 * 1024 ** 3;

/** Share of the machine's memory the default budget takes (the rest: the JavaScript heap, buffers, other processes). */
export const DEFAULT_BUDGET_SHARE = 0.5;

/** The default budget on a machine with `totalMem` bytes: min(WASM_BUDGET_LIMIT, DEFAULT_BUDGET_SHARE of it). */
export function defaultMemoryBudget(totalMem: number): number {
  return Math.floor(Math.min(WASM_BUDGET_LIMIT, totalMem * DEFAULT_BUDGET_SHARE));
}

/**
 * Peak bytes of one round of `params` parameters among `parties` regions at one node: two
 * model-sized field vectors at a time (the regional sum and the sum of held shares, then the held
 * sum and the result, which reuses the regional sum's memory), the dealing's output chunks, the
 * receive scratch, the projection's vector and scalars, and the kernels' chunk-sized
 * temporaries. A trainer update staged beside the first one needs `stagingBytes` more.
 */
export function roundMemoryBytes(params: number, parties: number, version: 1 | 2 = 1): number {
  const L = params + (version === 2 ? EXTRA_ELEMS + 1 : EXTRA_ELEMS);
  const chunk = Math.min(CHUNK_ELEMS, L);
  const wire = Math.min(WIRE_CHUNK_ELEMS, L);
  // version 2 projects every share it holds on its dealer's challenge while it arrives: one form each
  const forms = version === 2 ? parties * chunk : 0;
  return 8 * (2 * L + parties * wire + 4 * chunk + forms + Math.ceil(L / CHUNK_ELEMS)) + 4 * chunk;
}

/** Bytes of a trainer update staged in memory of its own (every update but a round's first): 4 x params. */
export function stagingBytes(params: number): number {
  return 4 * params;
}

/**
 * Bytes held against the budget until `release` (idempotent) and every `hold` has been let go:
 * a round's result outlives the round while trainers' answers are still being written.
 */
export interface Reservation {
  readonly bytes: number;
  release(): void;
  /** Keeps the bytes reserved past `release` until the returned function is called (idempotent). */
  hold(): () => void;
}

const MiB = (b: number): string => `${(b / 1024 ** 2).toFixed(1)} MiB`;

/** Reserved bytes against a fixed limit. */
export class MemoryBudget {
  private held = 0;
  constructor(
    /** The budget in bytes. */
    readonly limit: number,
  ) {
    if (!(limit > 0) || !Number.isSafeInteger(limit)) throw new RangeError(`memory budget must be a positive whole number of bytes, got ${limit}`);
  }

  /** Bytes reserved right now. */
  get reserved(): number {
    return this.held;
  }

  /**
   * Reserves `bytes` for `what` (e.g. "round r1 of 1000000 parameters").
   * @throws {MpcError} RESOURCE_MEMORY_BUDGET when they do not fit, saying the figures and the knob.
   */
  reserve(bytes: number, what: string): Reservation {
    if (this.held + bytes > this.limit) {
      throw new MpcError(
        'RESOURCE_MEMORY_BUDGET',
        `${what} needs ${MiB(bytes)} of memory; ${MiB(this.held)} of this node's ${MiB(this.limit)} budget are in use by other rounds: retry when one ends, or raise the budget (mpc-node start --memory-budget SIZE)`,
      );
    }
    this.held += bytes;
    let released = false;
    let holds = 0;
    let returned = false;
    const settle = (): void => {
      if (returned || !released || holds > 0) return;
      returned = true;
      this.held -= bytes;
    };
    return {
      bytes,
      release: () => {
        released = true;
        settle();
      },
      hold: () => {
        holds++;
        let letGo = false;
        return () => {
          if (letGo) return;
          letGo = true;
          holds--;
          settle();
        };
      },
    };
  }
}
