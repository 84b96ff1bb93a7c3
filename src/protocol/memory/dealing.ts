/**
 * One dealing of the regional input, read by one cursor per holder, so that each holder's share
 * stream moves at its own link's pace: a slow or stopped holder delays only its own stream.
 *
 * Every chunk of WIRE_CHUNK_ELEMS elements is dealt by a `ChunkDealer` from randomness of its own
 * (version 1: forward differences under a per-chunk key, `forwardDifferenceDealer`; version 2:
 * seeded shares, seeded-dealing.ts), so any chunk of any holder's share can be dealt again,
 * identically, when its cursor asks for it. The chunk at the front (the lead) is dealt once for
 * everyone: every holder's share of it is hashed into that holder's digest (unless the digests
 * were taken before, `hashAtLead: false`) and the own share goes to `onOwn`. A few recent chunks
 * are kept for the cursors just behind the lead; a cursor further behind deals its chunk again
 * (one chunk of work, nothing hashed or added twice). Memory: O(chunk) per holder, whatever the lag.
 *
 * Lifetime, all secret: the chunk dealer's secrets, the cached chunks and the dealing scratch are
 * born with the dealing and wiped by `close()` (when the dealing ends, finished or abandoned, or
 * the round's memory is wiped). A cursor resumed after that throws and touches nothing.
 * @module
 */
import { deal } from '../../sharing/shamir.js';
import type { RandomFill } from '../../field/random.js';
import type { FieldVec, WasmKernels } from '../../field/wasm.js';
import type { HashFactory, Hasher } from '../../core/crypto.js';

/** A dealing in progress, as RoundMemory hands it out (see `RoundMemory.startDealing`). */
export interface ShareDealing {
  /** The next chunk of holder `x`'s share stream; null once it has all been read. */
  next(x: number): { offset: number; data: Uint8Array } | null;
  /** Deals one more chunk at the front, if any is left (see `Dealing.dealAhead`); whether more are left. */
  dealAhead(): boolean;
  /** Deals what is left; every holder's digest by x; wipes the regional sum. */
  finish(): Map<number, Uint8Array>;
  /** Abandons the dealing (idempotent). */
  close(): void;
}
/** Chunks kept for cursors just behind the lead (each: one chunk per participant). */
const CACHED_CHUNKS = 2;

/** Domain separation of the per-chunk keys. */
const CHUNK_KEY_LABEL = new TextEncoder().encode('mpc-node/v1/deal-chunk');

/** Deals chunks of the input: the same chunk always gets the same shares. */
export interface ChunkDealer {
  /** Writes every holder's share of elements off..off+m into `outs[x - 1]` (each of length m). */
  deal(off: number, m: number, outs: readonly FieldVec[]): void;
  /** Wipes the dealer's secrets (seeds). Idempotent. */
  close(): void;
}

/**
 * Version 1: Shamir by forward differences (docs/field.md), each chunk's t-1 random difference
 * vectors from the AES-256-CTR stream keyed by SHA-256("mpc-node/v1/deal-chunk" || seed || u32
 * big-endian chunk index), the seed 32 secret random bytes drawn here.
 */
export function forwardDifferenceDealer(K: WasmKernels, input: FieldVec, chunk: number, t: number, n: number, random: RandomFill, stream: (key: Uint8Array) => RandomFill, hash: HashFactory): ChunkDealer {
  let seed: Uint8Array | null = new Uint8Array(32);
  random(seed);
  return {
    deal(off, m, outs) {
      if (!seed) throw new Error('dealChunks resumed after the round vectors were wiped');
      const h = hash();
      const at = new Uint8Array(4);
      new DataView(at.buffer).setUint32(0, off / chunk);
      h.update(CHUNK_KEY_LABEL);
      h.update(seed);
      h.update(at);
      const key = h.digest();
      try {
        deal(K, { ptr: input.ptr + off * 8, length: m }, t, n, outs, stream(key));
      } finally {
        key.fill(0);
      }
    },
    close() {
      seed?.fill(0);
      seed = null;
    },
  };
}

/** What a dealing does with the own share and whether it takes the digests. */
export interface DealingTarget {
  /** Takes the own share of elements offset.. (adds it to the held sum); throws once the sum is wiped. */
  onOwn(offset: number, share: FieldVec): void;
  /** Hash every holder's share at the lead (false: the digests were taken before, `dealtDigests`). */
  hashAtLead: boolean;
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
  /** This node holds a share of its own dealing. */
  readonly #ownHeld: boolean;
  readonly #n: number;
  readonly #selfX: number;
  readonly #target: DealingTarget;
  readonly #dealer: ChunkDealer;
  /** Offset of the next chunk the lead deals. */
  #lead = 0;
  readonly #hashes = new Map<number, Hasher>();
  readonly #cursors = new Map<number, number>();
  readonly #cache: Cached[] = [];
  #closed = false;

  /**
   * @param holders - x of every holder, self included.
   * @param streamed - x of the holders that get a share stream (default: every holder but self).
   * @param dealer - Deals the chunks; closed with the dealing.
   */
  constructor(K: WasmKernels, length: number, chunk: number, n: number, holders: readonly number[], selfX: number, target: DealingTarget, dealer: ChunkDealer, hash: HashFactory, streamed?: readonly number[]) {
    this.#K = K;
    this.#length = length;
    this.#chunk = chunk;
    this.#n = n;
    this.#selfX = selfX;
    this.#target = target;
    this.#dealer = dealer;
    this.#ownHeld = holders.includes(selfX);
    for (const x of holders) {
      if (target.hashAtLead) this.#hashes.set(x, hash());
      if (x !== selfX && (streamed === undefined || streamed.includes(x))) this.#cursors.set(x, 0);
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
    this.#dealer.close();
  }

  /** The chunk at `off`: cached, dealt by the lead (hashed, own share added), or dealt again. */
  #at(off: number): Cached {
    if (this.#closed) throw new Error('dealChunks resumed after the round vectors were wiped');
    const hit = this.#cache.find((c) => c.offset === off);
    if (hit) return hit;
    const c = this.#deal(off);
    if (off === this.#lead) {
      const m = Math.min(this.#chunk, this.#length - off);
      for (const [x, h] of this.#hashes) h.update(this.#K.bytes(c.outs[x - 1]!.ptr, m * 8));
      if (this.#ownHeld) this.#target.onOwn(off, { ptr: c.outs[this.#selfX - 1]!.ptr, length: m });
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
    try {
      this.#dealer.deal(off, m, outs);
    } catch (e) {
      this.#free({ offset: off, outs });
      throw e;
    }
    return { offset: off, outs };
  }

  #free(c: Cached): void {
    for (const o of c.outs) this.#K.free(o); // wipes
  }
}

/**
 * Every holder's digest of a whole dealing, taken before anything is sent (version 2: the dealer
 * commits first, docs/protocol.md "Dealer consistency"): deals each chunk once, hashes each
 * holder's share of it and drops it. One chunk per participant of memory at a time; yields after
 * each chunk, so the caller can let I/O run between them.
 * @param holders - x of every holder, self included.
 * @returns the digests by x.
 */
export function* dealtDigests(K: WasmKernels, length: number, chunk: number, n: number, holders: readonly number[], dealer: ChunkDealer, hash: HashFactory): Generator<void, Map<number, Uint8Array>> {
  const hashes = new Map(holders.map((x) => [x, hash()] as const));
  for (let off = 0; off < length; off += chunk) {
    if (off > 0) yield;
    const m = Math.min(chunk, length - off);
    const outs = Array.from({ length: n }, () => K.alloc(m));
    try {
      dealer.deal(off, m, outs);
      for (const [x, h] of hashes) h.update(K.bytes(outs[x - 1]!.ptr, m * 8));
    } finally {
      for (const o of outs) K.free(o); // wipes
    }
  }
  return new Map([...hashes].map(([x, h]) => [x, h.digest()]));
}
