/**
 * Node-only randomness sources (node:crypto). Not imported by browser code.
 * @module
 */
import { createCipheriv, randomBytes, randomFillSync } from 'node:crypto';
import type { RandomFill } from './random.js';

/** OpenSSL's CSPRNG straight into the target buffer (no copy). */
export const nodeRandom: RandomFill = (buf) => {
  randomFillSync(buf);
};

const CTR_CHUNK = 65536; // createCipheriv update() is fast only in <= 64 KiB pieces
const ZEROS = new Uint8Array(CTR_CHUNK);

/**
 * AES-256-CTR keystream under `key` (a fresh random key when omitted).
 * With a fixed key the stream is reproducible: use it for test vectors and the in-process
 * harness, never reuse a key for real rounds.
 */
export function aesCtrRandom(key: Uint8Array = randomBytes(32)): RandomFill {
  if (key.length !== 32) throw new RangeError(`"key" expected Uint8Array of length 32, got length=${key.length}`);
  const cipher = createCipheriv('aes-256-ctr', key, new Uint8Array(16));
  return (buf) => {
    for (let o = 0; o < buf.length; o += CTR_CHUNK) {
      const n = Math.min(CTR_CHUNK, buf.length - o);
      buf.set(cipher.update(n === CTR_CHUNK ? ZEROS : ZEROS.subarray(0, n)), o);
    }
  };
}
