/**
 * The project's one Ed25519 verifier and one hash-factory type. Browser-safe: only
 * @noble/curves, @noble/hashes and Web Crypto.
 *
 * Signatures are checked through `ed25519Verify` (one message, synchronous: peer handshakes,
 * policy grants), `regionVerifier` (protocol messages, over a directory of region keys) or
 * `SignatureBatch` (many, asynchronous, Web Crypto where the runtime has Ed25519: the verifier). Both verify strictly (RFC 8032
 * §5.1.7: canonical encodings only, no malleability) and answer false, never throw, for a
 * malformed key or signature. A faster synchronous back-end (node:crypto, in src/node) plugs in
 * through {@link Ed25519Backend}.
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { HEX64_RE } from './hex.js';

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/** An incremental hash (SHA-256). */
export interface Hasher {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}
/** Makes a fresh incremental SHA-256: `nobleSha256` here; the node passes node:crypto's (~8x faster). */
export type HashFactory = () => Hasher;

export const nobleSha256: HashFactory = () => {
  const h = sha256.create();
  return { update: (d) => void h.update(d), digest: () => h.digest() };
};

/** A synchronous Ed25519 implementation: strict verification; never throws. */
export interface Ed25519Backend {
  verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
}

/** @noble/curves, strict (zip215: false). */
export const nobleEd25519: Ed25519Backend = {
  verify(publicKey, msg, sig) {
    if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES || sig.length !== ED25519_SIGNATURE_BYTES) return false;
    try {
      return ed25519.verify(sig, msg, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
};

/** One signature, synchronously, with noble. */
export function ed25519Verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  return nobleEd25519.verify(publicKey, msg, sig);
}

/** A verifier over a directory of region keys: `(region, msg, sig) => ok`; an unknown region is false. */
export type RegionVerifier = (region: string, msg: Uint8Array, sig: Uint8Array) => boolean;

/** The region verifier of `keys` on `backend` (noble by default). */
export function regionVerifier(keys: ReadonlyMap<string, Uint8Array>, backend: Ed25519Backend = nobleEd25519): RegionVerifier {
  return (region, msg, sig) => {
    const pk = keys.get(region);
    return pk !== undefined && backend.verify(pk, msg, sig);
  };
}

let webCrypto: Promise<SubtleCrypto | null> | undefined;
/** Web Crypto with a working Ed25519 (Node >= 20, current Chromium), probed once with a known-good signature; else null. */
function webCryptoEd25519(): Promise<SubtleCrypto | null> {
  webCrypto ??= (async () => {
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) return null;
    try {
      const sk = new Uint8Array(32).fill(1);
      const msg = new Uint8Array([1, 2, 3]);
      const key = await subtle.importKey('raw', ed25519.getPublicKey(sk) as BufferSource, { name: 'Ed25519' }, false, ['verify']);
      return (await subtle.verify({ name: 'Ed25519' }, key, ed25519.sign(msg, sk) as BufferSource, msg)) ? subtle : null;
    } catch {
      return null;
    }
  })();
  return webCrypto;
}

/**
 * Many signature checks at once, against a directory of region keys: Web Crypto where the runtime
 * has Ed25519 (~10x faster than BigInt arithmetic), noble otherwise. Identical (signer, message,
 * signature) triples are checked once.
 */
export class SignatureBatch {
  private readonly queue: { key: string; onFail: () => void }[] = [];
  private readonly pending = new Map<string, { region: string; bytes: Uint8Array; sig: Uint8Array | null }>();
  private readonly imported = new Map<string, Promise<CryptoKey>>();
  constructor(private readonly keys: ReadonlyMap<string, Uint8Array>) {}

  /** Queues one check; `sig` as bytes, or hex (a malformed hex string simply fails). */
  add(region: string, bytes: Uint8Array, sig: Uint8Array | string, onFail: () => void): void {
    const sigBytes = typeof sig === 'string' ? hexSig(sig) : sig;
    const key = `${region}|${sigBytes ? bytesToHex(sigBytes) : `bad:${String(sig)}`}|${bytesToHex(bytes)}`;
    if (!this.pending.has(key)) this.pending.set(key, { region, bytes, sig: sigBytes });
    this.queue.push({ key, onFail });
  }

  /** Checks everything queued, then calls the failure callbacks in the order they were added. */
  async run(): Promise<void> {
    const results = new Map<string, boolean>();
    const subtle = await webCryptoEd25519();
    await Promise.all([...this.pending].map(async ([key, p]) => results.set(key, await this.verify(subtle, p.region, p.bytes, p.sig))));
    this.pending.clear();
    const q = this.queue.splice(0);
    for (const x of q) if (!results.get(x.key)) x.onFail();
  }

  private async verify(subtle: SubtleCrypto | null, region: string, bytes: Uint8Array, sig: Uint8Array | null): Promise<boolean> {
    const pk = this.keys.get(region);
    if (!pk || !sig || sig.length !== ED25519_SIGNATURE_BYTES) return false;
    if (!subtle) return nobleEd25519.verify(pk, bytes, sig);
    try {
      let k = this.imported.get(region);
      if (!k) this.imported.set(region, (k = subtle.importKey('raw', pk as BufferSource, { name: 'Ed25519' }, false, ['verify'])));
      return await subtle.verify({ name: 'Ed25519' }, await k, sig as BufferSource, bytes as BufferSource);
    } catch {
      return false;
    }
  }
}

const hexSig = (s: string): Uint8Array | null => (HEX64_RE.test(s) ? hexToBytes(s) : null);
