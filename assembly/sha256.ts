/**
 * SHA-256 in counter mode for the Fiat-Shamir projection stream (src/protocol/vectors.ts):
 * block i of the stream is SHA-256(seed || u32 BE (ctr + i)) for a 32-byte seed. One
 * compression per 32 output bytes; the round's other hashing (share and aggregate digests) uses
 * the host's SHA-256. Static scratch only: this module never allocates.
 * @module
 */
const KT: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W: usize = memory.data(256, 16);

// @ts-ignore: decorator
@inline function k(i: u32): u32 { return load<u32>(KT + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline function w(i: u32): u32 { return load<u32>(W + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline function setW(i: u32, v: u32): void { store<u32>(W + (<usize>i << 2), v); }

/** Writes nBlocks x 32 bytes: SHA-256(seed[0..32) || BE32(ctr + b)) for b = 0..nBlocks-1. */
export function sha256Ctr(seed: usize, ctr: u32, out: usize, nBlocks: u32): void {
  for (let b: u32 = 0; b < nBlocks; b++) {
    for (let i: u32 = 0; i < 8; i++) setW(i, bswap<u32>(load<u32>(seed + (<usize>i << 2))));
    setW(8, ctr + b);
    setW(9, 0x80000000);
    for (let i: u32 = 10; i < 15; i++) setW(i, 0);
    setW(15, 288); // 36 bytes, in bits
    for (let i: u32 = 16; i < 64; i++) {
      const x = w(i - 15);
      const y = w(i - 2);
      const s0 = rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3);
      const s1 = rotr<u32>(y, 17) ^ rotr<u32>(y, 19) ^ (y >>> 10);
      setW(i, w(i - 16) + s0 + w(i - 7) + s1);
    }
    let a: u32 = 0x6a09e667, bb: u32 = 0xbb67ae85, c: u32 = 0x3c6ef372, d: u32 = 0xa54ff53a;
    let e: u32 = 0x510e527f, f: u32 = 0x9b05688c, g: u32 = 0x1f83d9ab, h: u32 = 0x5be0cd19;
    for (let i: u32 = 0; i < 64; i++) {
      const S1 = rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25);
      const ch = (e & f) ^ (~e & g);
      const t1 = h + S1 + ch + k(i) + w(i);
      const S0 = rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22);
      const maj = (a & bb) ^ (a & c) ^ (bb & c);
      const t2 = S0 + maj;
      h = g; g = f; f = e; e = d + t1;
      d = c; c = bb; bb = a; a = t1 + t2;
    }
    const o = out + (<usize>b << 5);
    store<u32>(o, bswap<u32>(a + 0x6a09e667));
    store<u32>(o + 4, bswap<u32>(bb + 0xbb67ae85));
    store<u32>(o + 8, bswap<u32>(c + 0x3c6ef372));
    store<u32>(o + 12, bswap<u32>(d + 0xa54ff53a));
    store<u32>(o + 16, bswap<u32>(e + 0x510e527f));
    store<u32>(o + 20, bswap<u32>(f + 0x9b05688c));
    store<u32>(o + 24, bswap<u32>(g + 0x1f83d9ab));
    store<u32>(o + 28, bswap<u32>(h + 0x5be0cd19));
  }
}
