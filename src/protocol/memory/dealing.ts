/**
 * One dealing of the regional input, read by one cursor per holder, so that each holder's share
 * stream moves at its own link's pace: a slow or stopped holder delays only its own stream.
 *
 * Every chunk of WIRE_CHUNK_ELEMS elements is dealt with its own randomness, an AES-256-CTR
 * stream keyed by SHA-256 of the dealing's secret seed and the chunk's offset, so any chunk of
 * any holder's share can be dealt again, identically, when its cursor asks for it. The chunk at
 * the front (the lead) is dealt once for everyone: every holder's share of it is hashed into
 * that holder's digest and the own share is added to the held sum. A few recent chunks are kept
 * for the cursors just behind the lead; a cursor further behind deals its chunk again (one
 * chunk of work, nothing hashed or added twice). Memory: O(chunk) per holder, whatever the lag.
 *
 * Lifetime, all secret: the seed, the cached chunks and the dealing scratch are born with the
 * dealing and wiped by `close()` (when the dealing ends, finished or abandoned, or the round's
 * memory is wiped). A cursor resumed after that throws and touches nothing.
 * @module
 */
import { deal } from '../../sharing/shamir.js';
import type { RandomFill } from '../../field/random.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';
import type { HashFactory, Hasher } from '../../core/crypto.js';

/** Chunks kept for cursors just behind the lead (each: one chunk per participant). */
const CACHED_CHUNKS = 2;

/** Domain separation of the per-chunk keys. */
const CHUNK_KEY_LABEL = new TextEncoder().encode('mpc-node/v1/deal-chunk');

/** What a dealing reads and writes in the round's memory. */
export interface DealingTarget {
  /** The regional input (read only; alive until the dealing ends). */
  input: FieldVec;
  /** Adds the own share of elements offset.. to the held sum; throws once the sum is wiped. */
  addOwn(offset: number, share: FieldVec): void;
}

interface Cached {
  offset: number;
  /** One chunk per participant x (outs[x - 1]). */
  outs: FieldVec[];
}

/** One dealing: the lead, the cache, and the position of each holder's cursor. */
export class Dealing {
  readonly #K: WasmKernels;
  readonly #length: number;
  readonly #chunk: number;
  readonly #t: number;
  readonly #n: number;
  readonly #selfX: number;
  readonly #target: DealingTarget;
  readonly #stream: (key: Uint8Array) => RandomFill;
  readonly #hash: HashFactory;
  #seed: Uint8Array | null;
  /** Offset of the next chunk the lead deals. */
  #lead = 0;
  readonly #hashes = new Map<number, Hasher>();
  readonly #cursors = new Map<number, number>();
  readonly #cache: Cached[] = [];
  #closed = false;

  /**
   * @param holders - x of every holder, self included.
   * @param random - Draws the dealing's 32-byte seed (secret).
   */
  constructor(K: WasmKernels, length: number, chunk: number, t: number, n: number, holders: readonly number[], selfX: number, target: DealingTarget, random: RandomFill, stream: (key: Uint8Array) => RandomFill, hash: HashFactory) {
    this.#K = K;
    this.#length = length;
    this.#chunk = chunk;
    this.#t = t;
    this.#n = n;
    this.#selfX = selfX;
    this.#target = target;
    this.#stream = stream;
    this.#hash = hash;
    this.#seed = new Uint8Array(32);
    random(this.#seed);
    for (const x of holders) {
      this.#hashes.set(x, hash());
      if (x !== selfX) this.#cursors.set(x, 0);
    }
  }

  /**
   * The next chunk of holder `x`'s share: a view into WASM memory, valid until the next call on
   * this dealing (encode or copy it first); null once `x`'s whole share has been read.
   * @throws {Error} after `close()` (the round ended: its vectors may belong to another round).
   */
  next(x: number): { offset: number; data: Uint8Array } | null {
    const off = this.#cursors.get(x);
    if (off === undefined) throw new Error(`no share stream for x = ${x}`);
    if (off >= this.#length) return null;
    const c = this.#at(off);
    this.#cursors.set(x, off + this.#chunk);
    const m = Math.min(this.#chunk, this.#length - off);
    return { offset: off, data: this.#K.bytes(c.outs[x - 1]!.ptr, m * 8) };
  }

  /**
   * Deals the chunk at the lead (hashed for every holder, the own share added), if any is left:
   * lets the caller finish a dealing whose streams all ended early a chunk at a time.
   * @returns whether chunks are left after it.
   */
  dealAhead(): boolean {
    if (this.#lead < this.#length) this.#at(this.#lead);
    return this.#lead < this.#length;
  }

  /**
   * Deals whatever the lead has not reached yet (holders whose streams ended early still get
   * their digest, the own share is complete) and returns every holder's digest, by x.
   */
  finish(): Map<number, Uint8Array> {
    while (this.#lead < this.#length) this.#at(this.#lead);
    return new Map([...this.#hashes].map(([x, h]) => [x, h.digest()]));
  }

  /** Wipes and frees the cache and forgets the seed. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#cache.splice(0)) this.#free(c);
    this.#seed?.fill(0);
    this.#seed = null;
  }

  /** The chunk at `off`: cached, dealt by the lead (hashed, own share added), or dealt again. */
  #at(off: number): Cached {
    if (this.#closed || !this.#seed) throw new Error('dealChunks resumed after the round vectors were wiped');
    const hit = this.#cache.find((c) => c.offset === off);
    if (hit) return hit;
    const c = this.#deal(off);
    if (off === this.#lead) {
      const m = Math.min(this.#chunk, this.#length - off);
      for (const [x, h] of this.#hashes) {
        const o = c.outs[x - 1]!;
        h.update(this.#K.bytes(o.ptr, m * 8));
        if (x === this.#selfX) this.#target.addOwn(off, { ptr: o.ptr, length: m });
      }
      this.#lead = off + this.#chunk;
    }
    this.#cache.push(c);
    if (this.#cache.length > CACHED_CHUNKS) this.#free(this.#cache.shift()!);
    return c;
  }

  /** Deals one chunk with the randomness of its offset. */
  #deal(off: number): Cached {
    const m = Math.min(this.#chunk, this.#length - off);
    const outs = Array.from({ length: this.#n }, () => this.#K.alloc(m));
    const h = this.#hash();
    const at = new Uint8Array(4);
    new DataView(at.buffer).setUint32(0, off / this.#chunk);
    h.update(CHUNK_KEY_LABEL);
    h.update(this.#seed!);
    h.update(at);
    const key = h.digest();
    try {
      deal(this.#K, { ptr: this.#target.input.ptr + off * 8, length: m }, this.#t, this.#n, outs, this.#stream(key));
    } catch (e) {
      this.#free({ offset: off, outs });
      throw e;
    } finally {
      key.fill(0);
    }
    return { offset: off, outs };
  }

  #free(c: Cached): void {
    for (const o of c.outs) this.#K.free(o); // wipes
  }
}
