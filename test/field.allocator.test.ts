/**
 * The WASM allocator (src/field/wasm.ts): free blocks are reused for any request they fit,
 * neighbours are merged, a free block at the top hands its memory back to the bump pointer, so
 * rounds of many distinct sizes grow linear memory only to the largest concurrent need; and every
 * block is wiped as it is freed. A fresh kernel instance per test.
 */
import { describe, expect, it } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';

const MiB = 1024 * 1024;

describe('WASM allocator', () => {
  it('reuses a freed block for a smaller request, the rest of it staying free', async () => {
    const K = await loadKernelsFresh();
    const a = K.allocBytes(4 * MiB);
    const guard = K.allocBytes(64); // keeps a's block away from the top
    K.freeBytes(a, 4 * MiB);
    const grown = K.memoryBytes;
    const b = K.allocBytes(1 * MiB);
    const c = K.allocBytes(3 * MiB);
    expect(b).toBe(a);
    expect(c).toBe(a + 1 * MiB);
    expect(K.memoryBytes).toBe(grown);
    expect(K.freeBytesHeld).toBe(0);
    K.freeBytes(guard, 64);
  });

  it('takes the smallest free block that fits (best fit)', async () => {
    const K = await loadKernelsFresh();
    const big = K.allocBytes(2 * MiB);
    K.allocBytes(64);
    const small = K.allocBytes(MiB / 2);
    K.allocBytes(64);
    K.freeBytes(big, 2 * MiB);
    K.freeBytes(small, MiB / 2);
    expect(K.allocBytes(MiB / 4)).toBe(small);
  });

  it('merges a freed block with both neighbours, and hands a block at the top back to the bump pointer', async () => {
    const K = await loadKernelsFresh();
    const a = K.allocBytes(MiB);
    const b = K.allocBytes(MiB);
    const c = K.allocBytes(MiB);
    const guard = K.allocBytes(64);
    K.freeBytes(a, MiB);
    K.freeBytes(c, MiB);
    K.freeBytes(b, MiB); // joins a and c into one block of 3 MiB
    expect(K.freeBytesHeld).toBe(3 * MiB);
    const grown = K.memoryBytes;
    expect(K.allocBytes(3 * MiB)).toBe(a);
    K.freeBytes(a, 3 * MiB);
    K.freeBytes(guard, 64); // the top block: everything merges back into the bump region
    expect(K.freeBytesHeld).toBe(0);
    expect(K.usedBytes).toBe(0);
    expect(K.allocBytes(3 * MiB + 64)).toBe(a); // larger than any earlier block, still no growth
    expect(K.memoryBytes).toBe(grown);
  });

  it('30 rounds of distinct sizes grow memory only to the largest concurrent need', async () => {
    const K = await loadKernelsFresh();
    const start = K.memoryBytes;
    let peak = 0;
    for (let i = 0; i < 30; i++) {
      // a round's pattern: two model-sized vectors, a few chunk-sized ones, freed in another order
      const n = 10_000 + ((i * 7919) % 30) * 9_000;
      const sum = K.alloc(n);
      const acc = K.alloc(n);
      const chunks = [K.alloc(16384), K.alloc(16384), K.alloc(65536)];
      peak = Math.max(peak, K.usedBytes);
      K.free(sum);
      const result = K.alloc(n);
      peak = Math.max(peak, K.usedBytes);
      for (const c of chunks) K.free(c);
      K.free(acc);
      K.free(result);
      expect(K.usedBytes).toBe(0);
    }
    expect(K.memoryBytes - start).toBeLessThanOrEqual(peak + 65536);
  });

  it('wipes every block it takes back: freed secret memory is zeroed', async () => {
    const K = await loadKernelsFresh();
    const v = K.alloc(1000);
    const guard = K.alloc(1);
    K.view(v).fill(0xdead_beef_0000_0001n);
    const secret = Buffer.from(K.bytes(v.ptr, 8));
    expect(Buffer.from(K.x.memory.buffer).indexOf(secret)).toBe(v.ptr); // the search can succeed
    K.free(v);
    expect(Buffer.from(K.x.memory.buffer).indexOf(secret)).toBe(-1);
    const again = K.alloc(500); // reused memory comes zeroed
    expect(again.ptr).toBe(v.ptr);
    expect(K.view(again).every((x) => x === 0n)).toBe(true);
    K.free(guard);
  });

  it('refuses to free what it did not allocate, or twice', async () => {
    const K = await loadKernelsFresh();
    const a = K.allocBytes(128);
    K.allocBytes(64);
    K.freeBytes(a, 128);
    expect(() => K.freeBytes(a, 128)).toThrow(/already free/);
    expect(() => K.freeBytes(a + 8, 64)).toThrow(/not allocated/);
  });
});
