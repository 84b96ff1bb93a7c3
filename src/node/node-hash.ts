/**
 * SHA-256 for the round's vector digests on Node: node:crypto (OpenSSL). The browser verifier
 * uses @noble/hashes through the same HashFactory interface (src/core/crypto.ts).
 * @module
 */
import { createHash } from 'node:crypto';
import type { HashFactory } from '../core/crypto.js';

export const nodeHash: HashFactory = () => {
  const h = createHash('sha256');
  return { update: (d) => void h.update(d), digest: () => new Uint8Array(h.digest()) };
};
