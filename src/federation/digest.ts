/**
 * The federation digest every node and the auditor agree on, and the lookups by region.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ConfigError } from '../errors.js';
import { canonicalJson } from '../core/canonical-json.js';
import { digestedRound, isDefaultPolicy } from '../policy/index.js';
import { suggest } from './check.js';
import { FEDERATION_DIGEST_TAG, type Federation, type Region } from './model.js';

/**
 * The federation digest every node and the auditor agree on:
 * `SHA-256( utf8("mpc-node/federation/v1\0") || utf8(canonicalJson(f)) )`, computed over the
 * *normalized* federation (defaults filled in, comment keys dropped, hex lower-cased), so
 * formatting, key order, comments and spelled-out defaults do not change it; any value does.
 * @returns 32 bytes.
 * @example
 * bytesToHex(federationDigest(fed));
 */
export function federationDigest(f: Federation): Uint8Array {
  // A default policy is left out, so files from before the policy section keep their digest;
  // any non-default policy value (including a spelled-out default next to one) enters it whole.
  // Likewise protocol version 1 (the default) is left out of the round section, so files from
  // before `round.protocol` keep theirs.
  const g = { ...f, round: digestedRound(f.round) };
  const { policy, ...rest } = g;
  const body = isDefaultPolicy(policy, f.regions.map((r) => r.id)) ? rest : g;
  return sha256(utf8ToBytes(FEDERATION_DIGEST_TAG + canonicalJson(body)));
}

/** {@link federationDigest} as lower-case hex. */
export function federationDigestHex(f: Federation): string {
  return bytesToHex(federationDigest(f));
}

/**
 * Looks a region up by id.
 * @throws {ConfigError} CONFIG_INVALID listing the known ids if there is none.
 * @example
 * regionById(fed, 'eu').endpoint;
 */
export function regionById(f: Federation, id: string): Region {
  const r = f.regions.find((x) => x.id === id);
  if (r === undefined) {
    const ids = f.regions.map((x) => x.id);
    const near = suggest(id, ids);
    throw new ConfigError(
      'CONFIG_INVALID',
      `unknown region ${JSON.stringify(id)}: federation ${JSON.stringify(f.federation)} has ${ids.join(', ')}` +
        (near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`),
    );
  }
  return r;
}

/** A region's public key as 32 fresh bytes (the frozen Federation keeps it as hex). */
export function regionPublicKey(r: Region): Uint8Array {
  return hexToBytes(r.publicKey);
}
