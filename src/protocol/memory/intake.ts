/**
 * Incoming vector streams: the position and running digest of one peer's stream (a share
 * stream or an aggregate-share stream), and the one scratch chunk every received chunk is
 * copied into and checked in (position, size, every element < p) before any sum sees it.
 *
 * Lifetime: the scratch is born with the first chunk received and wiped when the round ends.
 * secret: the scratch holds the last chunk received (a share or an aggregate share).
 * @module
 */
import { FieldError } from '../../errors.js';
import { CHUNK_ELEMS } from '../../field/fixed-point.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';
import type { HashFactory, Hasher } from '../../core/crypto.js';

/** One incoming stream: the next expected element offset and the digest of what came so far. */
export interface Stream {
  next: number;
  hash: Hasher;
  /** Set once, when the digest has been taken (or given, for the node's own streams). */
  digest?: Uint8Array;
}

/** A stream expecting element 0. */
export function openStream(hash: HashFactory): Stream {
  return { next: 0, hash: hash() };
}

/** The stream's digest once all `length` elements are in (taken once, then kept); undefined before. */
export function streamDigest(s: Stream | undefined, length: number): Uint8Array | undefined {
  if (!s || s.next !== length) return undefined;
  return (s.digest ??= s.hash.digest());
}

/**
 * The receive scratch of one round. Chunks of any size up to CHUNK_ELEMS elements are taken
 * (senders use smaller ones: WIRE_CHUNK_ELEMS, share-streams.ts).
 */
export class ChunkIntake {
  /** min(CHUNK_ELEMS, length) elements, allocated at the first `take`. */
  private scratch: FieldVec | null = null;
  private wiped = false;

  constructor(
    private readonly K: WasmKernels,
    /** Elements in every stream of the round. */
    private readonly length: number,
  ) {}

  /**
   * Copies a chunk into the scratch after checking its position in `s`, its size and its
   * range, and returns it there (valid until the next `take`). The caller consumes it, then
   * calls `advance`.
   * @throws {FieldError} SHARING_BAD_POINTS on a gap or overlap; FIELD_LENGTH_MISMATCH on an odd,
   *   empty, over-long or overrunning chunk; FIELD_OUT_OF_RANGE on an element >= p.
   */
  take(s: Stream, offset: number, data: Uint8Array, what: string): FieldVec {
    if (this.wiped) throw new Error('chunk received after the round vectors were wiped');
    if (offset !== s.next) throw new FieldError('SHARING_BAD_POINTS', `${what}: chunk at element ${offset}, expected ${s.next}`);
    if (data.length % 8 !== 0 || data.length === 0 || data.length > CHUNK_ELEMS * 8) {
      throw new FieldError('FIELD_LENGTH_MISMATCH', `${what}: chunk of ${data.length} bytes (must be 8..${CHUNK_ELEMS * 8}, a multiple of 8)`);
    }
    const m = data.length / 8;
    if (offset + m > this.length) throw new FieldError('FIELD_LENGTH_MISMATCH', `${what}: ${offset + m} elements, round has ${this.length}`);
    const v = { ptr: (this.scratch ??= this.K.alloc(Math.min(CHUNK_ELEMS, this.length))).ptr, length: m };
    this.K.bytes(v.ptr, data.length).set(data);
    this.K.assertCanonical(v, what);
    return v;
  }

  /** Wipes and frees the scratch. Idempotent. */
  zeroize(): void {
    this.wiped = true;
    if (!this.scratch) return;
    this.K.free(this.scratch); // wipes
    this.scratch = null;
  }
}

/** Counts a consumed chunk into its stream: digest, then position. */
export function advance(s: Stream, data: Uint8Array): void {
  s.hash.update(data);
  s.next += data.length / 8;
}
