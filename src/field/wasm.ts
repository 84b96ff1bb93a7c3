/**
 * Loader and typed wrapper for the AssemblyScript field kernels (assembly/ -> build/mpc-field.wasm).
 *
 * Vectors live in WebAssembly linear memory as `FieldVec`s (a byte pointer and a length) so the
 * kernels run without copying; JavaScript reads and writes them through `BigUint64Array` views
 * that `view()` rebuilds whenever memory has grown (growth detaches old views silently).
 * Allocation is done here, in JavaScript: the WASM module never allocates.
 *
 * The same module loads in Node and in browsers: pass the .wasm bytes, a compiled
 * `WebAssembly.Module`, or a URL.
 * @module
 */
import { FieldError } from '../errors.js';
import { P } from './reference.js';

/** The raw exports of build/mpc-field.wasm (assembly/index.ts). Pointers are byte offsets. */
export interface FieldExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  fieldMul(a: bigint, b: bigint): bigint;
  fieldAdd(a: bigint, b: bigint): bigint;
  fieldSub(a: bigint, b: bigint): bigint;
  vecAdd(out: number, a: number, b: number, len: number): void;
  vecSub(out: number, a: number, b: number, len: number): void;
  vecNeg(out: number, a: number, len: number): void;
  vecScale(out: number, a: number, c: bigint, len: number): void;
  vecMulAdd(acc: number, a: number, c: bigint, len: number): void;
  vecDot(a: number, b: number, len: number): bigint;
  vecLinComb(out: number, vecs: number, coeffs: number, k: number, len: number): void;
  vecFirstNonCanonical(a: number, len: number): number;
  shamirDeal(secret: number, diffs: number, outs: number, offset: number, len: number, t: number, n: number): void;
  rejectSample(ptr: number, len: number, spare: number, spareLen: number): number;
  skellamNoise(out: number, len: number, words: number, nwords: number, lambda: number, add: number): number;
  encodeF32(inp: number, out: number, len: number, mult: number, scale: number, maxAbs: number): number;
  sumSquaresF32(inp: number, len: number): number;
  decodeF64(inp: number, out: number, len: number, invScale: number): void;
  decodeF32(inp: number, out: number, len: number, invScale: number): void;
  decodeF32Div(inp: number, out: number, len: number, invScale: number, divisor: number): void;
}

/** A vector of field elements in WASM memory. Valid until `free`d. */
export interface FieldVec {
  readonly ptr: number;
  readonly length: number;
}

const PAGE = 65536;
const ALIGN = 64; // cache line; also keeps SIMD loads aligned
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - PAGE; // wasm32 limit

export type WasmSource = WebAssembly.Module | Uint8Array | ArrayBuffer | URL | string;

/**
 * Compiles and instantiates the field kernels.
 * @param src - the .wasm bytes, a compiled module, or an http(s) URL of build/mpc-field.wasm
 *   (in Node, `loadKernels()` of src/field/node.ts reads the file).
 * @example const K = await loadFieldWasm(await readFile('build/mpc-field.wasm'));
 */
export async function loadFieldWasm(src: WasmSource): Promise<WasmKernels> {
  const module = await compile(src);
  const instance = await WebAssembly.instantiate(module, {
    env: {
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new FieldError('FIELD_OUT_OF_RANGE', `field kernel aborted at ${line}:${col}`);
      },
    },
  });
  return new WasmKernels(instance.exports as unknown as FieldExports);
}

async function compile(src: WasmSource): Promise<WebAssembly.Module> {
  if (src instanceof WebAssembly.Module) return src;
  if (src instanceof Uint8Array || src instanceof ArrayBuffer) return WebAssembly.compile(src as BufferSource);
  const url = typeof src === 'string' ? new URL(src, import.meta.url) : src;
  // fetch() of file: URLs is not supported in Node 20: Node callers read the file (field/node.ts)
  if (url.protocol === 'file:') throw new Error(`cannot fetch ${url.href}: in Node, load the kernels with loadKernels() (src/field/node.ts) or pass the .wasm bytes`);
  // Browsers: compileStreaming needs the server to send application/wasm.
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot load field kernels from ${url.href}: HTTP ${res.status}`);
  return WebAssembly.compileStreaming ? WebAssembly.compileStreaming(res) : WebAssembly.compile(await res.arrayBuffer());
}

/**
 * The WASM kernels plus a small allocator over linear memory.
 *
 * Allocation: a bump pointer and one address-ordered list of free blocks (sizes rounded to 64
 * bytes). A request takes the smallest free block it fits in (the rest of the block stays free),
 * a freed block merges with free neighbours, and a free block that reaches the bump pointer
 * lowers it, so rounds of any mix of sizes reuse the memory of earlier ones: linear memory grows
 * only to the largest concurrent need (it can never shrink). Rounds of one size touch nothing new
 * after the first (fresh pages cost ~15 us each on our machines, far more than the kernels).
 *
 * Every free byte is zero: `freeBytes` wipes the block it takes back (secret or not), and grown
 * pages come zeroed, so freed secret memory never lingers and `allocZero` costs nothing extra.
 */
export class WasmKernels {
  readonly x: FieldExports;
  private top: number;
  private readonly base: number;
  /** Free blocks below `top`, by address; none touches another or `top`. */
  private readonly freeList: { ptr: number; size: number }[] = [];
  private used = 0;
  private buf: ArrayBuffer;
  private u64: BigUint64Array;

  constructor(exports: FieldExports) {
    this.x = exports;
    this.base = Math.ceil(exports.heapBase() / ALIGN) * ALIGN;
    this.top = this.base;
    this.buf = exports.memory.buffer;
    this.u64 = new BigUint64Array(this.buf);
  }

  /** Bytes of linear memory currently reserved by the WASM instance (it never shrinks). */
  get memoryBytes(): number {
    return this.x.memory.buffer.byteLength;
  }

  /** Bytes allocated and not yet freed (rounded sizes). */
  get usedBytes(): number {
    return this.used;
  }

  /** Bytes in free blocks below the bump pointer (reusable without growing memory). */
  get freeBytesHeld(): number {
    return this.freeList.reduce((n, b) => n + b.size, 0);
  }

  /**
   * Allocates `length` field elements, all zero (every free byte is zero).
   * @throws {RangeError} if the vector does not fit in 32-bit linear memory.
   */
  alloc(length: number): FieldVec {
    return { ptr: this.allocBytes(length * 8), length };
  }

  /** Allocates `length` field elements set to zero: the same as `alloc`, named for readers who rely on it. */
  allocZero(length: number): FieldVec {
    return this.alloc(length);
  }

  /** Wipes the vector and returns its memory for reuse. */
  free(v: FieldVec): void {
    this.freeBytes(v.ptr, v.length * 8);
  }

  /** Overwrites the vector with zeros (share material after a round). */
  zeroize(v: FieldVec): void {
    this.bytes(v.ptr, v.length * 8).fill(0);
  }

  /** Allocates `nbytes` (rounded up to 64), zeroed, 64-byte aligned. */
  allocBytes(nbytes: number): number {
    if (!Number.isSafeInteger(nbytes) || nbytes < 0) throw new RangeError(`bad allocation size ${nbytes}`);
    const size = roundSize(nbytes);
    let best = -1;
    for (let i = 0; i < this.freeList.length; i++) {
      const b = this.freeList[i]!;
      if (b.size >= size && (best < 0 || b.size < this.freeList[best]!.size)) best = i;
    }
    if (best >= 0) {
      const b = this.freeList[best]!;
      const ptr = b.ptr;
      if (b.size === size) this.freeList.splice(best, 1);
      else {
        b.ptr += size;
        b.size -= size;
      }
      this.used += size;
      return ptr;
    }
    const ptr = this.top;
    const end = ptr + size;
    if (end > MAX_BYTES) {
      throw new RangeError(`field vectors need ${end} bytes of WASM memory, above the 4 GiB limit: process in smaller chunks`);
    }
    const have = this.x.memory.buffer.byteLength;
    if (end > have) this.x.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    this.used += size;
    return ptr;
  }

  /** Wipes [ptr, ptr + nbytes rounded up to 64) and returns it for reuse, merged with free neighbours. */
  freeBytes(ptr: number, nbytes: number): void {
    const size = roundSize(nbytes);
    if (ptr % ALIGN !== 0 || ptr < this.base || ptr + size > this.top) throw new RangeError(`freeBytes: ${ptr}+${size} was not allocated here`);
    this.bytes(ptr, size).fill(0);
    this.used -= size;
    const list = this.freeList;
    // the first block above ptr (binary search)
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.ptr < ptr) lo = mid + 1;
      else hi = mid;
    }
    const prev = list[lo - 1];
    const next = list[lo];
    if ((prev && prev.ptr + prev.size > ptr) || (next && ptr + size > next.ptr)) throw new RangeError(`freeBytes: ${ptr}+${size} is already free`);
    let block: { ptr: number; size: number };
    if (prev && prev.ptr + prev.size === ptr) {
      prev.size += size;
      block = prev;
      if (next && block.ptr + block.size === next.ptr) {
        block.size += next.size;
        list.splice(lo, 1);
      }
      lo -= 1;
    } else if (next && ptr + size === next.ptr) {
      next.ptr = ptr;
      next.size += size;
      block = next;
    } else {
      block = { ptr, size };
      list.splice(lo, 0, block);
    }
    // the block now ends at the bump pointer: hand it back to the bump region
    if (block.ptr + block.size === this.top) {
      this.top = block.ptr;
      list.splice(lo, 1);
    }
  }

  /** A BigUint64Array over the vector; valid until the next allocation may grow memory. */
  view(v: FieldVec): BigUint64Array {
    return new BigUint64Array(this.refresh(), v.ptr, v.length);
  }

  /** A byte view of [ptr, ptr + nbytes). Same validity as `view`. */
  bytes(ptr: number, nbytes: number): Uint8Array {
    return new Uint8Array(this.refresh(), ptr, nbytes);
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.refresh(), ptr, length);
  }

  f64(ptr: number, length: number): Float64Array {
    return new Float64Array(this.refresh(), ptr, length);
  }

  /** Reads one element (for tests and small public values). */
  get(v: FieldVec, i: number): bigint {
    this.refresh();
    return this.u64[(v.ptr >>> 3) + i]!;
  }

  private refresh(): ArrayBuffer {
    const b = this.x.memory.buffer;
    if (b !== this.buf) {
      this.buf = b;
      this.u64 = new BigUint64Array(b);
    }
    return b;
  }

  /**
   * Index of the first element >= p in `v`, or -1. Untrusted vectors (decoded from the wire)
   * must pass this before any kernel or sum sees them.
   */
  firstNonCanonical(v: FieldVec): number {
    return this.x.vecFirstNonCanonical(v.ptr, v.length);
  }

  /** @throws {FieldError} FIELD_OUT_OF_RANGE naming the index of the first element >= p. */
  assertCanonical(v: FieldVec, what = 'vector'): void {
    const i = this.firstNonCanonical(v);
    if (i >= 0) throw new FieldError('FIELD_OUT_OF_RANGE', `${what}: element ${i} is not a field element (>= p)`);
  }

  add(out: FieldVec, a: FieldVec, b: FieldVec): void {
    sameLength(out, a, b);
    this.x.vecAdd(out.ptr, a.ptr, b.ptr, a.length);
  }
  sub(out: FieldVec, a: FieldVec, b: FieldVec): void {
    sameLength(out, a, b);
    this.x.vecSub(out.ptr, a.ptr, b.ptr, a.length);
  }
  neg(out: FieldVec, a: FieldVec): void {
    sameLength(out, a);
    this.x.vecNeg(out.ptr, a.ptr, a.length);
  }
  /** out = c * a. */
  scale(out: FieldVec, a: FieldVec, c: bigint): void {
    sameLength(out, a);
    this.x.vecScale(out.ptr, a.ptr, checkScalar(c), a.length);
  }
  /** acc += c * a. */
  mulAdd(acc: FieldVec, a: FieldVec, c: bigint): void {
    sameLength(acc, a);
    this.x.vecMulAdd(acc.ptr, a.ptr, checkScalar(c), a.length);
  }
  /** sum_i a[i] * b[i]. */
  dot(a: FieldVec, b: FieldVec): bigint {
    sameLength(a, b);
    return BigInt.asUintN(64, this.x.vecDot(a.ptr, b.ptr, a.length));
  }
  /** out = sum_j coeffs[j] * vecs[j]. */
  linComb(out: FieldVec, vecs: readonly FieldVec[], coeffs: readonly bigint[]): void {
    if (vecs.length !== coeffs.length) throw new RangeError('linComb: one coefficient per vector');
    sameLength(out, ...vecs);
    const k = vecs.length;
    const table = this.allocBytes(k * 4 + k * 8 + 8);
    const coeffPtr = Math.ceil((table + k * 4) / 8) * 8;
    const buf = this.refresh();
    const ptrs = new Uint32Array(buf, table, k);
    const cs = new BigUint64Array(buf, coeffPtr, k);
    vecs.forEach((v, j) => {
      ptrs[j] = v.ptr;
      cs[j] = checkScalar(coeffs[j]!);
    });
    this.x.vecLinComb(out.ptr, table, coeffPtr, k, out.length);
    this.freeBytes(table, k * 4 + k * 8 + 8);
  }
}

function roundSize(nbytes: number): number {
  return Math.max(ALIGN, Math.ceil(nbytes / ALIGN) * ALIGN);
}

function sameLength(...vs: FieldVec[]): void {
  const n = vs[0]!.length;
  for (const v of vs) {
    if (v.length !== n) {
      throw new FieldError('FIELD_LENGTH_MISMATCH', `vectors of different lengths: ${n} and ${v.length}`);
    }
  }
}

function checkScalar(c: bigint): bigint {
  if (typeof c !== 'bigint') throw new TypeError(`field scalar expected bigint, got ${typeof c}`);
  if (c < 0n || c >= P) throw new FieldError('FIELD_OUT_OF_RANGE', 'field scalar out of range [0, p)');
  return c;
}
