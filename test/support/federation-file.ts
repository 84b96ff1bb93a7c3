/**
 * The federation-file fixture of the policy tests (as parsed JSON): three regions in three
 * jurisdictions, threshold 2. Region keys are Ed25519 public keys of the seeds 0x01.., 0x02..,
 * 0x03.. (32 repeated bytes).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** 32 repeated bytes b. */
export const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);
/** The Ed25519 public key (hex) of seed(b). */
export const key = (b: number): string => bytesToHex(ed25519.getPublicKey(seed(b)));

/** A fresh copy on every call: eu/EU, us/US, apac/APAC, threshold 2, no policy section. */
export function threeRegions(): J {
  return {
    federation: 'acme-fl',
    version: 1,
    threshold: 2,
    regions: [
      { id: 'eu', jurisdiction: 'EU', endpoint: 'ws://127.0.0.1:7101', publicKey: key(1), api: { port: 7201 } },
      { id: 'us', jurisdiction: 'US', endpoint: 'ws://127.0.0.1:7102', publicKey: key(2), api: { port: 7202 } },
      { id: 'apac', jurisdiction: 'APAC', endpoint: 'ws://127.0.0.1:7103', publicKey: key(3), api: { port: 7203 } },
    ],
  };
}

/** threeRegions() with `policy` as its policy section, then changed by f. */
export function withPolicy(policy: J, f: (j: J) => void = () => {}): J {
  const j = threeRegions();
  j.policy = policy;
  f(j);
  return j;
}
