/**
 * What a region node is given and what it hands out: its options, a trainer's submission request,
 * the upload a trainer streams its update into, and the answer it gets back. Types only.
 * @module
 */
import type { Federation } from '../federation/index.js';
import type { WasmKernels } from '../field/wasm.js';
import type { PolicyDecision } from '../policy/index.js';
import type { Identity } from '../transport/identity.js';
import type { RoundManifest } from '../core/tensor-manifest.js';

export type Logger = (event: Record<string, unknown>) => void;

export interface RegionNodeOptions {
  federation: Federation;
  identity: Identity;
  kernels: WasmKernels;
  /** Override the peer listen address (default: host and port of this region's endpoint). */
  peerListen?: { host: string; port: number };
  log?: Logger;
  /**
   * Called the moment a policy decision is refused (start.ts passes logger.violation); default:
   * a `policy-violation` event on `log`. Also counted in metrics and recorded in the transcript.
   */
  violation?: (decision: PolicyDecision, context: Record<string, unknown>) => void;
  /** Test hook: every decrypted peer message (as the protocol layer receives it). */
  onDecrypted?: (from: string, plaintext: Uint8Array) => void;
  /** Where round transcripts are written (<dataDir>/transcripts); none are written without it. */
  transcriptsDir?: string;
  /**
   * Bytes of WASM memory this node's rounds may reserve at once (each round its peak,
   * `roundMemoryBytes`); a round that does not fit is refused with RESOURCE_MEMORY_BUDGET.
   * Default: `defaultMemoryBudget(os.totalmem())` (src/protocol/memory/budget.ts).
   */
  memoryBudgetBytes?: number;
  /** Tick period for deadlines (ms). */
  tickMs?: number;
  /** Fault injection for the multi-process tests (MPC_TEST_FAULT): never set in production. */
  testFaults?: {
    afterDeal?: () => void;
    /** Version 2: this dealer deals `corruptShareTo` a share off its polynomial (committed as dealt). */
    corruptShareTo?: string;
    /** Version 2: this holder publishes a wrong aggregate share (consistent with its commitment and projection). */
    corruptAggregate?: boolean;
  };
}

export interface SubmitRequest {
  round: string;
  /** Number of float32 values the update will have. */
  params: number;
  weight: number;
  reduce: 'sum' | 'mean';
  /** Close this region's collection once this many updates are in (else after collectMs). */
  expect?: number;
  /**
   * Who sends it: `id` is the trainer's pseudonymous id (src/node/credentials.ts), recorded in
   * the transcript; `slot`, when set, deduplicates its uploads to this round (src/node/submissions.ts).
   */
  trainer?: { id: string; slot?: string };
  /** The update's named-tensor manifest (docs/api.md "Named tensors"); absent for a plain float32 vector. */
  manifest?: RoundManifest;
}

export type { RoundManifest } from '../core/tensor-manifest.js';

/**
 * One trainer's update on its way into the node: its raw little-endian float32 bytes are
 * written straight into WASM memory as they arrive (no model-sized JavaScript array), then
 * committed. secret: the bytes are trainer input; they are wiped on commit and on abort.
 */
export interface UpdateUpload {
  /** Appends body bytes, in order. @throws {MpcError} past the announced length or after the round ended. */
  write(chunk: Uint8Array): void;
  /**
   * The body is complete: validates (length, finite values, norm), clips, encodes and adds it to
   * the regional sum, and resolves with the global aggregate when the round ends.
   * @throws {MpcError} API_BAD_REQUEST, ENCODE_*, FIELD_LENGTH_MISMATCH on bad input or a closed collection.
   */
  commit(): Promise<AggregateAnswer>;
  /**
   * Once the update is in the sum (before `commit` resolves): the clipping factor applied to it,
   * clipL2 / its L2 norm when the norm was above round.clipL2 (clipMode 'clip'), else 1.
   */
  readonly clipFactor: number | undefined;
  /** The upload failed: wipes and releases the staged bytes. Idempotent. */
  abort(): void;
}

/**
 * The global aggregate, read in pieces from the node's memory: call `release()` when done (the
 * round's result vector is wiped once every answer is released).
 */
export interface AggregateAnswer {
  /** Number of values. */
  params: number;
  totalWeight: number;
  contributors: readonly string[];
  holders: readonly string[];
  /** Decodes values [offset, offset + out.length) of the requested reduction (sum or mean) into `out`. */
  read(offset: number, out: Float32Array): void;
  release(): void;
}
